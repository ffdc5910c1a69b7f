import PurserCore
import PurserYAML

/// Collects diagnostics while one document is decoded, and turns YAML nodes
/// into typed values by the schema: a field that wants a number accepts only
/// a plain number, a boolean only a plain `true` or `false`.
package final class DecodingContext {
    package let file: String
    package private(set) var diagnostics: [Diagnostic] = []
    /// "Did you mean" look-ups left for unknown keys: a file of a million
    /// unknown keys still gets a diagnostic for each, but suggestions only
    /// for the first few hundred.
    private var suggestions = SuggestionBudget(limit: 256)

    package init(file: String) {
        self.file = file
    }

    package func location(_ node: YAMLNode) -> SourceLocation {
        SourceLocation(file: file, mark: node.mark)
    }

    package func report(_ code: DiagnosticCode, _ message: String, at node: YAMLNode) {
        diagnostics.append(Diagnostic(code, message, at: location(node)))
    }

    package func report(_ diagnostic: Diagnostic) {
        diagnostics.append(diagnostic)
    }

    /// Records a code's finding (its rule builds the message) at a node.
    package func report(_ finding: Finding, at node: YAMLNode) {
        diagnostics.append(finding.at(location(node)))
    }

    /// A rendering of a scalar for messages, shortened when long.
    package func shown(_ node: YAMLNode) -> String {
        guard let text = node.scalar else { return node.kindDescription }
        return "\"\(excerpt(text))\""
    }


    // MARK: Mappings

    /// The fields of a section of the policy language: its keys and advice are those of ``PolicySchema``.
    package func fields(_ node: YAMLNode, _ path: String, section: SchemaSection) -> Fields? {
        fields(node, path, keys: section.keyNames, hint: section.advice).map { $0.declared(by: section) }
    }

    /// The fields of a mapping, after reporting unknown keys (with a suggestion).
    ///
    /// `null` is taken as an empty mapping, so `dev:` alone defines `dev`.
    package func fields(_ node: YAMLNode, _ path: String, keys: [String], hint: [String: String] = [:]) -> Fields? {
        if node.isNull { return Fields(node: node, pairs: [:]) }
        guard let pairs = node.mapping else {
            report(WrongType.mustBe(path, "a mapping", found: node.kindDescription), at: node)
            return nil
        }
        var known: [String: YAMLNode.Pair] = [:]
        known.reserveCapacity(pairs.count)
        for pair in pairs {
            let key = pair.key.scalar ?? ""
            if keys.contains(key) {
                known[key] = pair
            } else if let advice = hint[key] {
                report(UnknownKey.withAdvice(key, in: path, advice: advice), at: pair.key)
            } else {
                let suggestion = suggestions.didYouMean(key, among: keys)
                report(UnknownKey.unknown(key, in: path, suggestion: suggestion, keys: keys), at: pair.key)
            }
        }
        return Fields(node: node, pairs: known)
    }

    /// A mapping whose keys are names (models, environments, teams): pairs in order.
    package func namedEntries(_ node: YAMLNode, _ path: String) -> [YAMLNode.Pair] {
        if node.isNull { return [] }
        guard let pairs = node.mapping else {
            report(WrongType.mustBe(path, "a mapping of names to definitions", found: node.kindDescription), at: node)
            return []
        }
        return pairs
    }

    /// A list (sequence); null is an empty list.
    package func list(_ node: YAMLNode, _ path: String) -> [YAMLNode]? {
        if node.isNull { return [] }
        guard let items = node.sequence else {
            report(WrongType.mustBe(path, "a list", found: node.kindDescription), at: node)
            return nil
        }
        return items
    }

    // MARK: Scalars

    /// Any scalar as text (quoted or not); not null, not a collection.
    package func string(_ node: YAMLNode, _ path: String) -> String? {
        guard let text = node.scalar, !node.isNull else {
            report(WrongType.mustBe(path, "a string", found: node.kindDescription), at: node)
            return nil
        }
        return text
    }

    /// A name: a non-empty string without whitespace, control characters or glob characters.
    package func name(_ node: YAMLNode, _ path: String, allowGlob: Bool = false) -> Located<String>? {
        guard let text = string(node, path) else { return nil }
        guard isValidName(text, allowGlob: allowGlob) else {
            report(InvalidValue.invalidName(path, what: text.isEmpty ? "empty" : shown(node), allowGlob: allowGlob), at: node)
            return nil
        }
        return Located(text, at: location(node))
    }

    package func isValidName(_ text: String, allowGlob: Bool) -> Bool {
        guard !text.isEmpty, text.utf8.count <= 256 else { return false }
        for scalar in text.unicodeScalars {
            if scalar.properties.isWhitespace || scalar.value < 0x20 || scalar.value == 0x7F { return false }
            if !allowGlob && (scalar == "*" || scalar == "?") { return false }
        }
        return true
    }

    /// A list of names. Duplicates are reported.
    package func names(_ node: YAMLNode, _ path: String, allowGlob: Bool = false) -> [Located<String>]? {
        guard let items = list(node, path) else { return nil }
        var result: [Located<String>] = []
        var seen: [String: SourceLocation] = [:]
        for (index, item) in items.enumerated() {
            guard let name = name(item, "\(path)[\(index)]", allowGlob: allowGlob) else { continue }
            if let first = seen[name.value] {
                report(InvalidValue.listedTwice(path, name.value, firstLine: first.line), at: item)
                continue
            }
            seen[name.value] = name.location
            result.append(name)
        }
        return result
    }

    /// A plain number; reports quoted numbers and non-numbers with the reason.
    private func numberText(_ node: YAMLNode, _ path: String, expected: String) -> (String, DecimalText)? {
        guard let text = node.scalar, !node.isNull else {
            report(WrongType.mustBe(path, expected, found: node.kindDescription), at: node)
            return nil
        }
        guard node.scalarStyle == .plain else {
            report(WrongType.quotedNumber(path, expected, shown: shown(node)), at: node)
            return nil
        }
        guard let number = DecimalText(text) else {
            report(WrongType.notANumber(path, expected, text: text, shown: shown(node)), at: node)
            return nil
        }
        return (text, number)
    }

    /// A whole number in a range.
    package func integer(_ node: YAMLNode, _ path: String, in range: ClosedRange<Int64> = 0...Int64.max) -> Int64? {
        let expected = range.lowerBound >= 0 ? "a whole number" : "an integer"
        guard let (text, number) = numberText(node, path, expected: expected) else { return nil }
        guard number.exponent >= 0 || number.digits.isEmpty else {
            report(WrongType.mustBe(path, expected, found: excerpt(text)), at: node)
            return nil
        }
        // A whole number too large for 64 bits is out of range, not of the wrong form.
        guard let exact = number.scaled(by: 0, rounding: false), let value = Int64(exactly: exact), range.contains(value) else {
            report(InvalidValue.outOfRange(path, range: "\(range.lowerBound)..\(range.upperBound)", found: excerpt(text)), at: node)
            return nil
        }
        return value
    }

    /// A non-negative amount of USD with at most nine decimal places, at most `max`.
    package func usd(_ node: YAMLNode, _ path: String, max: USD = .max) -> USD? {
        guard let (text, number) = numberText(node, path, expected: "an amount of USD (a number like 250 or 0.05)") else {
            return nil
        }
        guard !number.negative else {
            report(InvalidValue.negative(path, text), at: node)
            return nil
        }
        guard number.exponent >= -9 || number.digits.isEmpty else {
            report(InvalidValue.tooManyDecimals(path, places: 9, text), at: node)
            return nil
        }
        guard let nanos = number.scaled(by: 9, rounding: false), nanos <= Int128(max.nanos), let value = Int64(exactly: nanos) else {
            report(InvalidValue.outOfRange(path, range: "0..\(max)", found: excerpt(text)), at: node)
            return nil
        }
        return USD(nanos: value)
    }

    /// A price in USD per 1M tokens.
    package func pricePerMillion(_ node: YAMLNode, _ path: String) -> TokenPrice? {
        guard let (text, number) = numberText(node, path, expected: "a price in USD per 1M tokens (a number like 3.00)") else {
            return nil
        }
        guard !number.negative else {
            report(InvalidValue.negative(path, text), at: node)
            return nil
        }
        guard number.exponent >= -(TokenPrice.scale - 6) || number.digits.isEmpty else {
            report(InvalidValue.tooManyDecimals(path, places: TokenPrice.scale - 6, text), at: node)
            return nil
        }
        guard let price = TokenPrice(perMillion: text), price <= TokenPrice.max else {
            report(InvalidValue.outOfRange(path, range: "0..\(TokenPrice.max.perMillionDescription) USD per 1M tokens", found: excerpt(text)), at: node)
            return nil
        }
        return price
    }

    /// A fraction written as a decimal (`0.8`), in parts per million.
    package func fraction(_ node: YAMLNode, _ path: String, max: Int64) -> Int64? {
        guard let (text, number) = numberText(node, path, expected: "a fraction like 0.8") else { return nil }
        guard let ppm = number.scaled(by: 6, rounding: false), let value = Int64(exactly: ppm), value > 0,
              value <= max * 1_000_000
        else {
            report(InvalidValue.fraction(path, max: max, text), at: node)
            return nil
        }
        return value
    }

    /// A plain `true` or `false`.
    package func bool(_ node: YAMLNode, _ path: String) -> Bool? {
        if node.scalarStyle == .plain, let text = node.scalar {
            if text == "true" { return true }
            if text == "false" { return false }
            if ["yes", "no", "on", "off", "y", "n", "true", "false"].contains(text.lowercased()) {
                report(WrongType.yaml11Boolean(path, shown: shown(node)), at: node)
                return nil
            }
        }
        report(WrongType.mustBe(path, "true or false", found: node.kindDescription == "a string" ? shown(node) : node.kindDescription), at: node)
        return nil
    }

    /// One of an enumeration's raw values.
    package func choice<Value: RawRepresentable & CaseIterable>(_ node: YAMLNode, _ path: String, as: Value.Type) -> Value?
    where Value.RawValue == String {
        guard let text = string(node, path) else { return nil }
        if let value = Value(rawValue: text) { return value }
        report(InvalidValue.notOneOf(path, Value.allCases.map(\.rawValue), text: text, shown: shown(node)), at: node)
        return nil
    }
}

/// The known fields of one mapping.
package struct Fields {
    package let node: YAMLNode
    package let pairs: [String: YAMLNode.Pair]
    /// The section whose keys these are, when the mapping is one of ``PolicySchema``.
    package private(set) var section: SchemaSection?

    package init(node: YAMLNode, pairs: [String: YAMLNode.Pair]) {
        self.node = node
        self.pairs = pairs
    }

    /// The same fields, checked against a section's keys in debug builds.
    package func declared(by section: SchemaSection) -> Fields {
        var fields = self
        fields.section = section
        return fields
    }

    package subscript(_ key: String) -> YAMLNode? {
        assert(section.map { $0.key(key) != nil } ?? true, "the decoder reads \(key), which PolicySchema does not declare")
        return pairs[key]?.value
    }

    /// A field that must be present: reports `missing-key` at the mapping.
    package func required(_ key: String, _ path: String, _ context: DecodingContext) -> YAMLNode? {
        assert(section.map { $0.key(key)?.required == true } ?? true, "the decoder requires \(key), which PolicySchema does not")
        if let value = pairs[key]?.value, !value.isNull { return value }
        if let pair = pairs[key] {
            context.report(MissingKey.noValue(path, key), at: pair.key)
        } else {
            context.report(MissingKey.missing(path, key), at: node)
        }
        return nil
    }
}
