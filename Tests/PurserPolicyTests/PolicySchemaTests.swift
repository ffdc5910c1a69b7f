import Foundation
import Testing
import PurserPolicy
import PurserCore
import PurserTestSupport

/// The policy language's key description (``PolicySchema``) against the decoder that
/// reads policies with it, and against the JSON Schema `purser schema` renders from it.
/// A key the description has but the decoder ignores, a required key the decoder does
/// not require (or the reverse), or a section the schema leaves out fails here.
@Suite("Policy schema")
struct PolicySchemaTests {
    /// What every probe value contains, to find it in the document.
    static let probe = "zz_probe"

    /// A value of a type that decodes without a schema diagnostic (names may be undefined);
    /// a section named in `substitutes` is written as given instead.
    static func sample(_ type: SchemaType, _ substitutes: [String: String] = [:]) -> String {
        switch type {
        case .text, .name: return "x"
        case .names: return "[x]"
        case .version: return "1"
        case .wholeNumber(let range): return "\(range.lowerBound)"
        case .usd, .price: return "1"
        case .fraction: return "0.5"
        case .bool: return "true"
        case .choice(let options): return options[0]
        case .duration: return "10m"
        case .dateOrTime: return "2030-01-01"
        case .timezone: return "UTC"
        case .weekday: return "mon"
        case .scope: return "org"
        case .section(let section): return substitutes[section.name] ?? text(section, substitutes: substitutes)
        case .map(let value): return "{x: \(sample(value, substitutes))}"
        case .keyed(let value): return "{org: \(sample(value, substitutes))}"
        case .list(let item): return "[\(sample(item, substitutes))]"
        case .condition: return "{team: x}"
        case .anyOf(let types):
            let chosen = types.first { $0.sections.contains(where: substitutes.keys.contains) } ?? types[0]
            return sample(chosen, substitutes)
        }
    }

    /// A value of the wrong kind for a type: a scalar where a collection belongs, else a mapping.
    static func wrongKind(_ type: SchemaType) -> String {
        switch type {
        case .names, .section, .map, .keyed, .list, .condition: return probe
        default: return "{\(probe): 1}"
        }
    }

    /// A section as a flow mapping with every key, one key replaced (or, with nil, left out).
    static func text(_ section: SchemaSection, replacing replaced: String? = nil, with value: String? = nil,
                     substitutes: [String: String] = [:]) -> String
    {
        let entries = section.keys.compactMap { key -> String? in
            if key.name == replaced { return value.map { "\(key.name): \($0)" } }
            if key.name == readOnlyWithout[replaced ?? ""] { return nil }
            return "\(key.name): \(sample(key.type, substitutes))"
        }
        return "{" + entries.joined(separator: ", ") + "}"
    }

    /// Keys the decoder reads only when another key is absent: an exception's
    /// `description` stands in for its `reason`.
    static let readOnlyWithout = ["description": "reason"]

    /// One key of one section changed somewhere in a whole document.
    struct Variant: CustomTestStringConvertible, Sendable {
        let path: String
        let key: SchemaKey
        /// The document, on one line.
        let document: String
        /// Left out, rather than given a value of the wrong kind.
        let removed: Bool
        var testDescription: String { (removed ? "without " : "wrong kind: ") + path }
    }

    /// Every key of every section reachable from `type`, changed in turn (and wrapped as `type` wraps it).
    static func variants(_ type: SchemaType, path: String) -> [(path: String, key: SchemaKey, text: String, removed: Bool)] {
        switch type {
        case .section(let section):
            return section.keys.flatMap { key in
                let here = "\(path).\(key.name)"
                return [
                    (here, key, text(section, replacing: key.name, with: wrongKind(key.type)), false),
                    (here, key, text(section, replacing: key.name, with: nil), true),
                ] + variants(key.type, path: here).map { ($0.path, $0.key, text(section, replacing: key.name, with: $0.text), $0.removed) }
            }
        case .map(let value): return variants(value, path: path + ".x").map { ($0.path, $0.key, "{x: \($0.text)}", $0.removed) }
        case .keyed(let value): return variants(value, path: path + ".org").map { ($0.path, $0.key, "{org: \($0.text)}", $0.removed) }
        case .list(let item): return variants(item, path: path + "[0]").map { ($0.path, $0.key, "[\($0.text)]", $0.removed) }
        case .anyOf(let types): return types.flatMap { variants($0, path: path) }
        default: return []
        }
    }

    static let allVariants = variants(.section(PolicySchema.document), path: "").map {
        Variant(path: String($0.path.dropFirst()), key: $0.key, document: $0.text + "\n", removed: $0.removed)
    }

    /// The codes that mean the schema and the decoder disagree about a well-typed document.
    static let schemaCodes: Set<DiagnosticCode> = [.unknownKey, .wrongType, .missingKey, .invalidCondition, .unsupportedVersion]

    @Test func aDocumentWithEveryKeyDecodes() {
        let document = Self.text(PolicySchema.document) + "\n"
        let result = load(document)
        #expect(!result.diagnostics.contains { Self.schemaCodes.contains($0.code) }, "\(document)\n\(result.diagnostics)")
        #expect(Self.allVariants.count > 2 * PolicySchema.sections.map(\.keys.count).reduce(0, +) - 1)
    }

    /// A value of the wrong kind is reported where it is written: the decoder reads the key.
    @Test("the decoder reads every key", arguments: allVariants.filter { !$0.removed })
    func everyKeyIsRead(variant: Variant) throws {
        let offset = try #require(variant.document.utf8.firstRange(of: Self.wrongKind(variant.key.type).utf8)).lowerBound
        let column = variant.document.utf8.distance(from: variant.document.utf8.startIndex, to: offset) + 1
        let result = load(variant.document)
        #expect(result.diagnostics.contains { $0.location.line == 1 && $0.location.column == column },
                "nothing reported at column \(column):\n\(variant.document)\(result.diagnostics)")
    }

    /// Leaving a key out raises `missing-key` for it exactly when the schema requires it.
    @Test("the decoder requires the required keys", arguments: allVariants.filter(\.removed))
    func requiredKeys(variant: Variant) {
        let result = load(variant.document)
        let missing = result.diagnostics.contains { $0.code == .missingKey && $0.message.contains("required key \"\(variant.key.name)\"") }
        #expect(missing == variant.key.required, "\(variant.document)\(result.diagnostics)")
        #expect(!result.diagnostics.contains { $0.code == .unknownKey || $0.code == .wrongType })
    }

    @Test func aBudgetNeedsOneOfItsCaps() throws {
        let budget = PolicySchema.budget
        #expect(!budget.oneOfRequired.isEmpty)
        var keys = budget.keys
        keys.removeAll { budget.oneOfRequired.contains($0.name) }
        let capless = SchemaSection(budget.name, budget.summary, keys: keys)
        let result = load("version: 1\nbudgets: [\(Self.text(capless))]\n")
        let diagnostic = try #require(result.diagnostics.first { $0.code == .missingKey })
        for key in budget.oneOfRequired { #expect(diagnostic.message.contains(key)) }
    }

    @Test("an unknown key is reported with the section's keys", arguments: PolicySchema.sections.map(\.name))
    func unknownKeys(section name: String) throws {
        let section = try #require(PolicySchema.sections.first { $0.name == name })
        let document = name == PolicySchema.document.name
            ? "{qqqqqqqqqq: 1, version: 1}\n"
            : Self.text(PolicySchema.document, substitutes: [name: "{qqqqqqqqqq: 1}"]) + "\n"
        let unknown = load(document).diagnostics.filter { $0.code == .unknownKey }
        // One per place the section appears (a tier price in price.batch, price.flex and price.priority).
        let places = document.components(separatedBy: "qqqqqqqqqq").count - 1
        #expect(unknown.count == places, "\(document)")
        #expect(!unknown.isEmpty)
        #expect(unknown.allSatisfy { $0.message.hasSuffix("; valid keys: \(section.keyNames.joined(separator: ", "))") }, "\(unknown)")
    }

    @Test func everySectionIsReachableFromTheDocument() {
        let reachable = SchemaType.section(PolicySchema.document).sections
        #expect(Set(reachable) == Set(PolicySchema.sections.map(\.name)))
    }

    // MARK: Conditions

    static let attributeNames = Condition.Attribute.names.map { $0 == "tags.KEY" ? "tags.k" : $0 }

    @Test("operands and operators decode as the schema says", arguments: attributeNames)
    func conditions(name: String) throws {
        let attribute = try #require(Condition.Attribute(name))
        #expect(PolicySchema.attributes[name == "tags.k" ? "tags.KEY" : name] != nil)
        let operand = Self.sample(ConditionDecoder.operandType(attribute))
        let plain = load("version: 1\nrules: [{id: r, when: {\(name): \(operand)}, unless: {\(name): [\(operand)]}}]\n")
        #expect(!plain.diagnostics.contains { Self.schemaCodes.contains($0.code) || $0.code == .invalidValue }, "\(plain.diagnostics)")
        for op in Condition.Matcher.Operator.allCases where op != .equals {
            let value = switch op {
            case .in, .notIn: "[\(operand)]"
            case .glob: "x*"
            case .exists: "true"
            default: operand
            }
            let result = load("version: 1\nrules: [{id: r, when: {\(name): {\(op.rawValue): \(value)}}}]\n")
            let rejected = result.diagnostics.contains { $0.code == .invalidCondition }
            #expect(rejected == !ConditionDecoder.accepts(op, on: attribute), "\(name) \(op.rawValue): \(result.diagnostics)")
            #expect(!result.diagnostics.contains { $0.code == .wrongType || $0.code == .invalidValue }, "\(name) \(op.rawValue): \(result.diagnostics)")
        }
    }

    // MARK: The JSON Schema

    @Test func theJSONSchemaDescribesEverySection() throws {
        let object = try JSONSerialization.jsonObject(with: Data(JSONSchema.text().utf8))
        let schema = try #require(object as? [String: Any])
        #expect(schema["$schema"] as? String == "https://json-schema.org/draft/2020-12/schema")
        let definitions = try #require(schema["$defs"] as? [String: Any])
        for section in PolicySchema.sections {
            let definition = try #require(section.name == PolicySchema.document.name ? schema : definitions[section.name] as? [String: Any])
            let properties = try #require(definition["properties"] as? [String: Any])
            #expect(Set(properties.keys) == Set(section.keyNames), "\(section.name)")
            #expect(Set(definition["required"] as? [String] ?? []) == Set(section.keys.filter(\.required).map(\.name)), "\(section.name)")
            #expect(definition["additionalProperties"] as? Bool == false)
            for key in section.keys {
                let property = try #require(properties[key.name] as? [String: Any])
                #expect((property["description"] as? String)?.isEmpty == false, "\(section.name).\(key.name)")
            }
        }
        let condition = try #require(definitions["condition"] as? [String: Any])
        let attributes = try #require(condition["properties"] as? [String: Any])
        #expect(Set(attributes.keys) == Set(Condition.Attribute.names.filter { $0 != "tags.KEY" }))
        #expect((condition["patternProperties"] as? [String: Any])?.count == 1)
    }

    @Test func theJSONSchemaIsStableText() {
        let text = JSONSchema.text()
        #expect(text == JSONSchema.text())
        #expect(text.hasSuffix("}\n"))
        #expect(!text.contains("\t"))
    }
}

extension SchemaType {
    /// The names of the sections in a value of this type, at any depth.
    var sections: [String] {
        switch self {
        case .section(let section): return [section.name] + section.keys.flatMap(\.type.sections)
        case .map(let value), .keyed(let value), .list(let value): return value.sections
        case .anyOf(let types): return types.flatMap(\.sections)
        default: return []
        }
    }
}
