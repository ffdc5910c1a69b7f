/// A condition compiled against the policy's interned names: every test is
/// a bitset lookup, a string compare or an integer compare.
struct CompiledCondition: Sendable {
    enum IDAttribute: Sendable { case team, environment, model, provider, tier }
    enum TextAttribute: Sendable, Hashable {
        case region, user
        case tag(String)
    }
    enum NumberAttribute: Sendable {
        case inputTokens, cachedInputTokens, cacheWriteTokens, outputTokens, totalTokens, cost, hour, weekday
    }

    enum Test: Sendable {
        /// Membership of an interned id (equals, in, not_in, glob and tier order all compile to this).
        /// `glob` keeps the pattern to match names the policy does not define (unknown teams with `warn`).
        case id(IDAttribute, IDSet, negate: Bool, glob: String?)
        /// Membership of a text value; absent values never match (and always match when negated).
        case text(TextAttribute, Set<String>, negate: Bool)
        /// A glob over a text value.
        case textGlob(TextAttribute, String)
        /// An inclusive range over a number.
        case range(NumberAttribute, ClosedRange<Int64>)
        /// Membership of a number.
        case numbers(NumberAttribute, Set<Int64>, negate: Bool)
        /// Whether an optional attribute is present.
        case exists(TextAttribute?, IDAttribute?, Bool)
    }

    let tests: [Test]
    /// For indexing: an id attribute this condition pins to a finite set of ids (positive equality only).
    let pinned: (attribute: IDAttribute, ids: [Int32])?
}

/// The attribute values of one request (for one candidate model and region).
struct ConditionInput {
    var team: Int32
    var environment: Int32
    var model: Int32
    var provider: Int32
    var tier: Int32
    var teamName: String?
    var environmentName: String?
    var modelName: String
    var providerName: String?
    var region: String?
    var user: String?
    var tags: [String: String]
    var usage: Usage
    var cost: Int64?
    var hour: Int64
    var weekday: Int64

    @inline(__always)
    func id(_ attribute: CompiledCondition.IDAttribute) -> Int32 {
        switch attribute {
        case .team: return team
        case .environment: return environment
        case .model: return model
        case .provider: return provider
        case .tier: return tier
        }
    }

    func name(_ attribute: CompiledCondition.IDAttribute) -> String? {
        switch attribute {
        case .team: return teamName
        case .environment: return environmentName
        case .model: return modelName
        case .provider: return providerName
        case .tier: return nil
        }
    }

    @inline(__always)
    func text(_ attribute: CompiledCondition.TextAttribute) -> String? {
        switch attribute {
        case .region: return region
        case .user: return user
        case .tag(let key): return tags[key]
        }
    }

    @inline(__always)
    func number(_ attribute: CompiledCondition.NumberAttribute) -> Int64? {
        switch attribute {
        case .inputTokens: return usage.inputTokens
        case .cachedInputTokens: return usage.cachedInputTokens
        case .cacheWriteTokens: return usage.cacheWriteTokens
        case .outputTokens: return usage.outputTokens
        case .totalTokens: return usage.totalTokens
        case .cost: return cost
        case .hour: return hour
        case .weekday: return weekday
        }
    }
}

extension CompiledCondition {
    /// Whether every test holds.
    @inline(__always)
    func matches(_ input: ConditionInput) -> Bool {
        for test in tests where !Self.holds(test, input) { return false }
        return true
    }

    private static func holds(_ test: Test, _ input: ConditionInput) -> Bool {
        switch test {
        case .id(let attribute, let set, let negate, let glob):
            let id = input.id(attribute)
            if id < 0, let glob, let name = input.name(attribute) {
                return TextMatching.glob(glob, matches: name) != negate
            }
            return set.contains(id) != negate
        case .text(let attribute, let values, let negate):
            guard let value = input.text(attribute) else { return negate }
            return values.contains(value) != negate
        case .textGlob(let attribute, let pattern):
            guard let value = input.text(attribute) else { return false }
            return TextMatching.glob(pattern, matches: value)
        case .range(let attribute, let range):
            guard let value = input.number(attribute) else { return false }
            return range.contains(value)
        case .numbers(let attribute, let values, let negate):
            guard let value = input.number(attribute) else { return negate }
            return values.contains(value) != negate
        case .exists(let text, let id, let expected):
            if let text { return (input.text(text) != nil) == expected }
            if let id { return (input.id(id) >= 0 || input.name(id) != nil) == expected }
            return expected
        }
    }
}
