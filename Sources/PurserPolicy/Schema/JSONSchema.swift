import PurserCore

/// ``PolicySchema`` as a JSON Schema (draft 2020-12), for editors: `purser schema`
/// prints it, and `schema/purser-policy.schema.json` is a copy a test keeps equal.
///
/// A schema can say less than `purser check`: it knows the keys, their types and
/// the allowed choices, but not whether a name is defined or a budget key fits
/// its scope. Every policy `purser check` accepts is valid against it.
package enum JSONSchema {
    /// Where the schema is published: the `$id`, and the URL editors are pointed at.
    package static let id = "https://raw.githubusercontent.com/purser-dev/purser/main/schema/purser-policy.schema.json"

    /// The whole schema, pretty-printed, ending with a newline.
    package static func text() -> String {
        var members: [(String, SchemaJSON)] = [
            ("$schema", .string("https://json-schema.org/draft/2020-12/schema")),
            ("$id", .string(id)),
            ("title", .string("Purser policy")),
        ]
        members += section(PolicySchema.document)
        var definitions = PolicySchema.sections.filter { $0.name != PolicySchema.document.name }.map { ($0.name, SchemaJSON.object(section($0))) }
        definitions += [
            ("condition", condition()),
            ("name", name(glob: false)),
            ("pattern", name(glob: true)),
            ("scope", .object([
                ("description", .string("A budget scope part: \(ScopePart.names.joined(separator: ", ")).")),
                ("type", .string("string")),
                ("pattern", .string("^(" + ScopePart.names.map(scopePattern).joined(separator: "|") + ")$")),
            ])),
        ]
        members.append(("$defs", .object(definitions)))
        return SchemaJSON.object(members).rendered() + "\n"
    }

    // MARK: Sections and types

    private static func section(_ section: SchemaSection) -> [(String, SchemaJSON)] {
        var members: [(String, SchemaJSON)] = [
            ("description", .string(section.summary)),
            ("type", section.nullable ? .array([.string("object"), .string("null")]) : .string("object")),
            ("properties", .object(section.keys.map { key in (key.name, .object([("description", .string(key.summary))] + schema(key.type))) })),
        ]
        let required = section.keys.filter(\.required).map { SchemaJSON.string($0.name) }
        if !required.isEmpty { members.append(("required", .array(required))) }
        if !section.oneOfRequired.isEmpty {
            members.append(("anyOf", .array(section.oneOfRequired.map { .object([("required", .array([.string($0)]))]) })))
        }
        members.append(("additionalProperties", .bool(false)))
        return members
    }

    private static let scalar = SchemaJSON.array([.string("string"), .string("number"), .string("boolean")])

    private static func reference(_ name: String) -> [(String, SchemaJSON)] {
        [("$ref", .string("#/$defs/\(name)"))]
    }

    private static func nullable(_ type: String) -> SchemaJSON {
        .array([.string(type), .string("null")])
    }

    /// The members of the schema of a value of a type.
    private static func schema(_ type: SchemaType) -> [(String, SchemaJSON)] {
        switch type {
        case .text:
            return [("type", scalar)]
        case .name(let glob):
            return reference(glob ? "pattern" : "name")
        case .names(let glob):
            return [("type", nullable("array")), ("items", .object(reference(glob ? "pattern" : "name"))), ("uniqueItems", .bool(true))]
        case .version:
            return [("const", .number("1"))]
        case .wholeNumber(let range):
            return [("type", .string("integer")), ("minimum", .number("\(range.lowerBound)")), ("maximum", .number("\(range.upperBound)"))]
        case .usd(let max):
            return [("type", .string("number")), ("minimum", .number("0")), ("maximum", .number(max.description))]
        case .price:
            return [("type", .string("number")), ("minimum", .number("0")), ("maximum", .number(TokenPrice.max.perMillionDescription))]
        case .fraction(let max):
            return [("type", .string("number")), ("exclusiveMinimum", .number("0")), ("maximum", .number("\(max)"))]
        case .bool:
            return [("type", .string("boolean"))]
        case .choice(let options):
            return [("enum", .array(options.map(SchemaJSON.string)))]
        case .duration(let max):
            return [("anyOf", .array([
                .object([("type", .string("integer")), ("minimum", .number("1")), ("maximum", .number("\(max)"))]),
                .object([("type", .string("string")), ("pattern", .string("^([0-9]+[smhd])+$"))]),
            ]))]
        case .dateOrTime:
            let date = "[0-9]{4}-[0-9]{2}-[0-9]{2}"
            let time = "[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
            return [("type", .string("string")), ("pattern", .string("^\(date)(\(time))?$"))]
        case .timezone:
            return [("type", .string("string")), ("minLength", .number("1"))]
        case .weekday:
            let days = ConditionDecoder.weekdays.map { day in day.map { "[\($0)\($0.uppercased())]" }.joined() }
            return [("type", .string("string")), ("pattern", .string("^(" + days.joined(separator: "|") + ")$"))]
        case .scope:
            return [("anyOf", .array([
                .object(reference("scope")),
                .object([("type", .string("array")), ("items", .object(reference("scope"))), ("minItems", .number("1")), ("uniqueItems", .bool(true))]),
            ]))]
        case .section(let section):
            return reference(section.name)
        case .map(let value):
            return [("type", nullable("object")), ("propertyNames", .object(reference("name"))), ("additionalProperties", .object(schema(value)))]
        case .keyed(let value):
            return [("type", nullable("object")), ("additionalProperties", .object(schema(value)))]
        case .list(let item):
            return [("type", nullable("array")), ("items", .object(schema(item)))]
        case .condition:
            return reference("condition")
        case .anyOf(let types):
            return [("anyOf", .array(types.map { .object(schema($0)) }))]
        }
    }

    private static func name(glob: Bool) -> SchemaJSON {
        let description = glob
            ? "A name, alias or glob (* and ?): non-empty, at most 256 bytes, no whitespace or control characters."
            : "A name: non-empty, at most 256 bytes, no whitespace, control characters, * or ?."
        return .object([
            ("description", .string(description)),
            ("type", scalar),
            ("pattern", .string("^[^\\s\\u0000-\\u001f\\u007f\(glob ? "" : "*?")]+$")),
            ("maxLength", .number("256")),
        ])
    }

    /// `tag:KEY` in ``ScopePart/names`` stands for any key.
    private static func scopePattern(_ name: String) -> String {
        name.hasSuffix(":KEY") ? String(name.dropLast(3)) + ".+" : name
    }

    // MARK: Conditions

    private static func condition() -> SchemaJSON {
        var properties: [(String, SchemaJSON)] = []
        var patterns: [(String, SchemaJSON)] = []
        for name in Condition.Attribute.names {
            guard let attribute = Condition.Attribute(name) else { continue }
            let matcher = matcher(attribute, summary: PolicySchema.attributes[name] ?? "")
            if case .tag = attribute {
                patterns.append(("^tags\\..+$", matcher))
            } else {
                properties.append((name, matcher))
            }
        }
        return .object([
            ("description", .string("A condition: attribute → matcher, and every entry must hold. A matcher is a value (equals), a list (any of) or a map of operators that must all hold.")),
            ("type", nullable("object")),
            ("properties", .object(properties)),
            ("patternProperties", .object(patterns)),
            ("additionalProperties", .bool(false)),
        ])
    }

    /// A value, a list, or a map of the operators that apply to the attribute.
    private static func matcher(_ attribute: Condition.Attribute, summary: String) -> SchemaJSON {
        let operand = SchemaJSON.object(schema(ConditionDecoder.operandType(attribute)))
        var operators: [(String, SchemaJSON)] = []
        for op in Condition.Matcher.Operator.allCases where op != .equals && ConditionDecoder.accepts(op, on: attribute) {
            switch op {
            case .in, .notIn: operators.append((op.rawValue, .object([("type", .string("array")), ("items", operand)])))
            case .glob: operators.append((op.rawValue, .object(schema(.text))))
            case .exists: operators.append((op.rawValue, .object(schema(.bool))))
            case .gt, .gte, .lt, .lte, .equals: operators.append((op.rawValue, operand))
            }
        }
        return .object([
            ("description", .string(summary)),
            ("anyOf", .array([
                operand,
                .object([("type", .string("array")), ("items", operand)]),
                .object([
                    ("type", .string("object")), ("minProperties", .number("1")),
                    ("properties", .object(operators)), ("additionalProperties", .bool(false)),
                ]),
            ])),
        ])
    }
}

/// A JSON value with its object members in order, pretty-printed with two spaces.
package indirect enum SchemaJSON {
    case object([(String, SchemaJSON)])
    case array([SchemaJSON])
    case string(String)
    /// A number, as its JSON text.
    case number(String)
    case bool(Bool)

    /// Objects and arrays on several lines, except arrays of plain values (`["object", "null"]`)
    /// and objects of one such member (`{"$ref": "#/$defs/name"}`).
    package func rendered(indent: String = "") -> String {
        let inner = indent + "  "
        switch self {
        case .object(let members):
            if members.isEmpty { return "{}" }
            if members.count == 1, members[0].1.fitsOnALine { return "{" + SchemaJSON.quoted(members[0].0) + ": " + members[0].1.rendered() + "}" }
            let lines = members.map { inner + SchemaJSON.quoted($0.0) + ": " + $0.1.rendered(indent: inner) }
            return "{\n" + lines.joined(separator: ",\n") + "\n" + indent + "}"
        case .array(let items):
            if items.isEmpty { return "[]" }
            if items.allSatisfy(\.isPlain) { return "[" + items.map { $0.rendered() }.joined(separator: ", ") + "]" }
            return "[\n" + items.map { inner + $0.rendered(indent: inner) }.joined(separator: ",\n") + "\n" + indent + "]"
        case .string(let text): return SchemaJSON.quoted(text)
        case .number(let text): return text
        case .bool(let value): return value ? "true" : "false"
        }
    }

    private var isPlain: Bool {
        switch self {
        case .object, .array: return false
        case .string, .number, .bool: return true
        }
    }

    /// A plain value, or an array of them.
    private var fitsOnALine: Bool {
        if case .array(let items) = self { return items.allSatisfy(\.isPlain) }
        return isPlain
    }

    /// A JSON string literal, escaped as every JSON Purser writes.
    private static func quoted(_ text: String) -> String {
        let writer = JSONWriter(capacity: text.utf8.count + 16)
        writer.string(text)
        return writer.text
    }
}
