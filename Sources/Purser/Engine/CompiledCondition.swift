import PurserCore
import PurserPolicy
/// A condition compiled against the policy's interned names.
///
/// Tests are trivial values (no references), so walking them costs no
/// reference counting; sets and patterns live in side tables they index.
@usableFromInline package final class CompiledCondition: Sendable {
    package enum IDAttribute: UInt8, Sendable { case team, environment, model, provider, tier }
    package enum TextAttribute: UInt8, Sendable { case region, user, tag }
    @usableFromInline package enum NumberAttribute: UInt8, Sendable {
        case inputTokens, cachedInputTokens, cacheWriteTokens, outputTokens, totalTokens, cost, hour, weekday
    }

    /// One test. Which fields matter depends on `kind`.
    @usableFromInline package struct Test: Sendable {
        @usableFromInline package enum Kind: UInt8, Sendable {
            /// Membership of an interned id in `idSets[table]`; a glob in `patterns[pattern]` also matches
            /// names the policy does not define (unknown teams under `warn`).
            case id
            /// Membership of a text value in `textSets[table]`; absent values never match.
            case text
            /// A glob `patterns[pattern]` over a text value.
            case textGlob
            /// `low ... high` over a number.
            case range
            /// Membership of a number in `numberSets[table]`.
            case numbers
            /// Presence of an optional attribute.
            case exists
        }

        @usableFromInline package let kind: Kind
        /// The raw value of the attribute enum for the kind.
        package let attribute: UInt8
        @usableFromInline package let negate: Bool
        /// For `exists`: whether the attribute must be present. For `exists` on ids: whether it is an id attribute.
        package let flag: Bool
        @usableFromInline package let table: Int32
        /// A pattern index, or -1.
        package let pattern: Int32
        /// For tags: the index of the tag key in `tagKeys`.
        package let tag: Int32
        @usableFromInline package let low: Int64
        @usableFromInline package let high: Int64
    }

    /// The tests and their side tables (a table of this one condition).
    package let table: ConditionTable
    /// The tests, in order.
    package var tests: [Test] { table.tests }
    /// For indexing: an id attribute this condition pins to a finite set of ids (positive equality only).
    package let pinnedAttribute: IDAttribute?
    package let pinnedIDs: [Int32]

    package var pinned: (attribute: IDAttribute, ids: [Int32])? { pinnedAttribute.map { ($0, pinnedIDs) } }

    /// The highest lower bound the condition puts on a number (from `gt`/`gte`), for indexing:
    /// the condition cannot hold for a request whose number is absent or below it.
    package var lowerBound: DefinitionIndex.Guard? {
        var best: DefinitionIndex.Guard?
        for test in tests where test.kind == .range && test.low > Int64.min && test.low > (best?.low ?? Int64.min) {
            best = DefinitionIndex.Guard(attribute: test.attribute, low: test.low)
        }
        return best
    }

    package init(table: ConditionTable, pinned: (attribute: IDAttribute, ids: [Int32])?) {
        self.table = table
        self.pinnedAttribute = pinned?.attribute
        self.pinnedIDs = pinned?.ids ?? []
    }
}

/// Conditions as trivial tests over side tables, many conditions in one value.
///
/// A compiled policy keeps every condition of its rules, budgets and
/// exceptions in one table and refers to them by number, so the evaluator's
/// hot loops test conditions without touching a reference (no reference
/// counting per rule).
@usableFromInline package struct ConditionTable: Sendable {
    /// Every test, condition after condition.
    package private(set) var tests: [CompiledCondition.Test] = []
    /// Condition `c` is `tests[bounds[c] ..< bounds[c + 1]]`.
    package private(set) var bounds: [Int32] = [0]
    package private(set) var idSets: [IDSet] = []
    package private(set) var textSets: [NameTable] = []
    @usableFromInline package private(set) var numberSets: [NumberSet] = []
    package private(set) var patterns: [String] = []
    package private(set) var tagKeys: [String] = []

    /// The number of conditions.
    package var count: Int { bounds.count - 1 }

    /// A table without conditions.
    package init() {}

    /// A table of one condition without tests yet (for the builder).
    fileprivate init(building: Void) {
        bounds = [0, 0]
    }

    /// Appends the conditions of another table, returning the number its first condition gets here.
    @discardableResult
    package mutating func append(_ other: ConditionTable) -> Int32 {
        let first = Int32(count)
        let (ids, texts, numbers, patternBase, tagBase) = (Int32(idSets.count), Int32(textSets.count), Int32(numberSets.count),
                                                           Int32(patterns.count), Int32(tagKeys.count))
        for test in other.tests {
            let table: Int32
            switch test.kind {
            case .id: table = test.table + ids
            case .text: table = test.table + texts
            case .numbers: table = test.table + numbers
            case .textGlob, .range, .exists: table = test.table  // unused, or the kind of `exists`
            }
            tests.append(CompiledCondition.Test(
                kind: test.kind, attribute: test.attribute, negate: test.negate, flag: test.flag, table: table,
                pattern: test.pattern >= 0 ? test.pattern + patternBase : -1, tag: test.tag >= 0 ? test.tag + tagBase : -1,
                low: test.low, high: test.high))
        }
        for offset in 1..<other.bounds.count { bounds.append(Int32(tests.count) - Int32(other.tests.count) + other.bounds[offset]) }
        idSets += other.idSets
        textSets += other.textSets
        numberSets += other.numberSets
        patterns += other.patterns
        tagKeys += other.tagKeys
        return first
    }

    /// Appends one condition's test (for the builder).
    fileprivate mutating func add(_ test: CompiledCondition.Test) {
        tests.append(test)
        bounds[bounds.count - 1] = Int32(tests.count)
    }

    fileprivate mutating func addIDSet(_ set: IDSet) -> Int32 { idSets.append(set); return Int32(idSets.count - 1) }
    fileprivate mutating func addTextSet(_ set: NameTable) -> Int32 { textSets.append(set); return Int32(textSets.count - 1) }
    fileprivate mutating func addNumberSet(_ set: NumberSet) -> Int32 { numberSets.append(set); return Int32(numberSets.count - 1) }
    fileprivate mutating func addPattern(_ text: String) -> Int32 { patterns.append(text); return Int32(patterns.count - 1) }
    fileprivate mutating func addTagKey(_ key: String) -> Int32 {
        if let index = tagKeys.firstIndex(of: key) { return Int32(index) }
        tagKeys.append(key)
        return Int32(tagKeys.count - 1)
    }
}

/// A set of numbers; hours, weekdays and other values below 64 are a bitmask.
@usableFromInline package struct NumberSet: Sendable {
    @usableFromInline let small: UInt64
    @usableFromInline let others: Set<Int64>

    package init(_ values: Set<Int64>) {
        small = values.reduce(0) { mask, value in (0..<64).contains(value) ? mask | (1 << UInt64(value)) : mask }
        others = values.filter { !(0..<64).contains($0) }
    }

    @inlinable @inline(__always)
    package func contains(_ value: Int64) -> Bool {
        if value >= 0, value < 64 { return small & (1 << UInt64(value)) != 0 }
        return !others.isEmpty && others.contains(value)
    }
}

/// The attribute values of one request for one candidate model and region.
package struct ConditionInput {
    package let resolved: Evaluator.Resolved
    package let model: Int32
    package let provider: Int32
    package let tier: Int32
    package let modelName: String
    package let providerName: String?
    package let region: String?
    package let cost: Int64?

    @inline(__always)
    package func id(_ attribute: CompiledCondition.IDAttribute) -> Int32 {
        switch attribute {
        case .team: return resolved.team
        case .environment: return resolved.environment
        case .model: return model
        case .provider: return provider
        case .tier: return tier
        }
    }

    package func name(_ attribute: CompiledCondition.IDAttribute) -> String? {
        switch attribute {
        case .team: return resolved.request.team
        case .environment: return resolved.request.environment
        case .model: return modelName
        case .provider: return providerName
        case .tier: return nil
        }
    }

    @inline(__always)
    package func text(_ attribute: CompiledCondition.TextAttribute, tag: String?) -> String? {
        switch attribute {
        case .region: return region
        case .user: return resolved.request.user
        case .tag: return tag.flatMap { resolved.request.tags[$0] }
        }
    }

    @inline(__always)
    package func number(_ attribute: CompiledCondition.NumberAttribute) -> Int64? {
        Self.number(attribute, usage: resolved.request.usage, cost: cost, hour: resolved.hour, weekday: resolved.weekday)
    }

    /// A number attribute from the numbers it is read from (shared with plan keys made without an input).
    @inlinable @inline(__always)
    package static func number(_ attribute: CompiledCondition.NumberAttribute, usage: Usage, cost: Int64?, hour: Int64, weekday: Int64) -> Int64? {
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

    package init(resolved: Evaluator.Resolved, model: Int32, provider: Int32, tier: Int32, modelName: String, providerName: String?, region: String?, cost: Int64?) {
        self.resolved = resolved
        self.model = model
        self.provider = provider
        self.tier = tier
        self.modelName = modelName
        self.providerName = providerName
        self.region = region
        self.cost = cost
    }
}

extension CompiledCondition {
    /// Whether every test holds.
    @inline(__always)
    package func matches(_ input: ConditionInput) -> Bool { table.matches(0, input) }

    /// Whether test `index` holds (for plan keys, which record each test's outcome).
    @inline(__always)
    package func holds(test index: Int, _ input: ConditionInput) -> Bool { table.holds(tests: index, input) }
}

extension ConditionTable {
    /// Whether every test of condition `condition` holds.
    @inline(__always)
    package func matches(_ condition: Int32, _ input: ConditionInput) -> Bool {
        let c = Int(condition)
        for index in Int(bounds[c])..<Int(bounds[c + 1]) where !holds(tests: index, input) { return false }
        return true
    }

    /// Whether `tests[index]` holds.
    package func holds(tests index: Int, _ input: ConditionInput) -> Bool {
        typealias IDAttribute = CompiledCondition.IDAttribute
        typealias TextAttribute = CompiledCondition.TextAttribute
        typealias NumberAttribute = CompiledCondition.NumberAttribute
        let test = tests[index]
        switch test.kind {
        case .id:
            guard let attribute = IDAttribute(rawValue: test.attribute) else { return false }
            let id = input.id(attribute)
            if id < 0, test.pattern >= 0, let name = input.name(attribute) {
                return TextMatching.glob(patterns[Int(test.pattern)], matches: name) != test.negate
            }
            return idSets[Int(test.table)].contains(id) != test.negate
        case .text:
            guard let attribute = TextAttribute(rawValue: test.attribute),
                  let value = input.text(attribute, tag: test.tag >= 0 ? tagKeys[Int(test.tag)] : nil)
            else { return test.negate }
            return textSets[Int(test.table)].contains(value) != test.negate
        case .textGlob:
            guard let attribute = TextAttribute(rawValue: test.attribute),
                  let value = input.text(attribute, tag: test.tag >= 0 ? tagKeys[Int(test.tag)] : nil)
            else { return false }
            return TextMatching.glob(patterns[Int(test.pattern)], matches: value)
        case .range, .numbers:
            return holds(number: test, NumberAttribute(rawValue: test.attribute).flatMap(input.number))
        case .exists:
            if test.table == 1, let attribute = IDAttribute(rawValue: test.attribute) {
                return (input.id(attribute) >= 0 || input.name(attribute) != nil) == test.flag
            }
            if test.table == 0, let attribute = TextAttribute(rawValue: test.attribute) {
                return (input.text(attribute, tag: test.tag >= 0 ? tagKeys[Int(test.tag)] : nil) != nil) == test.flag
            }
            return test.flag
        }
    }
}

extension ConditionTable {
    /// Whether a `range` or `numbers` test holds for the value of its attribute (nil when absent).
    @inlinable @inline(__always)
    package func holds(number test: CompiledCondition.Test, _ value: Int64?) -> Bool {
        guard let value else { return test.kind == .numbers && test.negate }
        if test.kind == .range { return value >= test.low && value <= test.high }
        return numberSets[Int(test.table)].contains(value) != test.negate
    }
}

/// Builds a ``CompiledCondition``'s tests and side tables.
package struct ConditionBuilder {
    private var table = ConditionTable(building: ())

    private func test(_ kind: CompiledCondition.Test.Kind, _ attribute: UInt8, negate: Bool = false, flag: Bool = false,
                      table: Int32 = -1, pattern: Int32 = -1, tag: Int32 = -1, low: Int64 = 0, high: Int64 = 0) -> CompiledCondition.Test
    {
        CompiledCondition.Test(kind: kind, attribute: attribute, negate: negate, flag: flag, table: table, pattern: pattern,
                               tag: tag, low: low, high: high)
    }

    private mutating func tag(_ key: String?) -> Int32 {
        key.map { table.addTagKey($0) } ?? -1
    }

    package mutating func ids(_ attribute: CompiledCondition.IDAttribute, _ set: IDSet, negate: Bool, glob: String?) {
        let index = table.addIDSet(set)
        let pattern = glob.map { table.addPattern($0) } ?? -1
        table.add(test(.id, attribute.rawValue, negate: negate, table: index, pattern: pattern))
    }

    package mutating func texts(_ attribute: CompiledCondition.TextAttribute, tag key: String?, _ values: Set<String>, negate: Bool) {
        let index = table.addTextSet(NameTable(values.sorted()))
        let tagIndex = tag(key)
        table.add(test(.text, attribute.rawValue, negate: negate, table: index, tag: tagIndex))
    }

    package mutating func glob(_ attribute: CompiledCondition.TextAttribute, tag key: String?, _ text: String) {
        let index = table.addPattern(text)
        let tagIndex = tag(key)
        table.add(test(.textGlob, attribute.rawValue, pattern: index, tag: tagIndex))
    }

    package mutating func range(_ attribute: CompiledCondition.NumberAttribute, _ low: Int64, _ high: Int64) {
        table.add(test(.range, attribute.rawValue, low: low, high: high))
    }

    package mutating func numbers(_ attribute: CompiledCondition.NumberAttribute, _ values: Set<Int64>, negate: Bool) {
        let index = table.addNumberSet(NumberSet(values))
        table.add(test(.numbers, attribute.rawValue, negate: negate, table: index))
    }

    package mutating func exists(text attribute: CompiledCondition.TextAttribute, tag key: String?, _ expected: Bool) {
        let tagIndex = tag(key)
        table.add(test(.exists, attribute.rawValue, flag: expected, table: 0, tag: tagIndex))
    }

    package mutating func exists(id attribute: CompiledCondition.IDAttribute, _ expected: Bool) {
        table.add(test(.exists, attribute.rawValue, flag: expected, table: 1))
    }

    package mutating func always(_ expected: Bool) {
        table.add(test(.exists, 0, flag: expected, table: 2))
    }

    package func build(pinned: (attribute: CompiledCondition.IDAttribute, ids: [Int32])?) -> CompiledCondition {
        CompiledCondition(table: table, pinned: pinned)
    }
}
