import Purser
import Synchronization

/// Assessments remembered by what decides them, for replaying millions of
/// records that differ mostly in their numbers.
///
/// Once a request's names are resolved, `Evaluator.assess` depends on only
/// a few facts: the team, environment and model ids, the region, the
/// outcome of each condition test that reads the request's text or numbers
/// (user, tags, region, tokens, cost, hour), which exceptions are unexpired,
/// whether the request is priced, over its team's max request cost, and
/// which scope parts it has. Those facts are the ``PlanKey``. The first
/// request with a key is assessed in full; the budgets it counted against
/// and the violations it found become the key's plan, and later requests
/// with the key only build their counters from it. Anything else (an
/// unknown name, unavailable regions, a violation whose message quotes the
/// request, such as its cost) is assessed in full.
///
/// Nothing is approximated: two requests with the same key take the same
/// path through `assess`, so a plan gives exactly the counters `assess`
/// would.
package struct PlanTests: Sendable {
    /// The tests whose outcome depends on more than the name ids, one bit each:
    /// indices into the policy's ``ConditionTable/tests``.
    package let entries: [Int]
    /// The tag keys budgets scope by (their presence is a bit each).
    package let scopeTags: [String]
    /// The entries reading a request's text (region, user, tags): their outcome follows from its names.
    /// `bit` is the entry's offset in `entries` (its bit in the key), `test` its index.
    package let textEntries: [(bit: Int, test: Int)]
    /// The entries reading a number (tokens, cost, hour, weekday): tested for every request.
    package let numberEntries: [(bit: Int, test: Int)]
    /// The text entries by the attribute they read: the user, a tag, or the region (and tests reading nothing).
    package let userEntries: [(bit: Int, test: Int)]
    package let tagEntries: [(bit: Int, test: Int)]
    package let regionEntries: [(bit: Int, test: Int)]
    /// The key bits of the text entries (the part of a key's `tests` its names decide).
    package let textMask: UInt64

    /// The plan tests of a compiled policy, or nil when it has too many for the key's bits.
    package init?(policy: CompiledPolicy) {
        self.init(conditions: policy.conditions, budgets: policy.budgets, exceptions: policy.exceptions.count)
    }

    /// The plan tests of a policy, or nil when it has too many for the key's bits.
    package init?(conditions: ConditionTable, budgets: [CompiledBudget], exceptions: Int) {
        let entries = conditions.tests.indices.filter { !conditions.tests[$0].isDecidedByIDs }
        var scopeTags: [String] = []
        for budget in budgets {
            for case .tag(let key) in budget.scope where !scopeTags.contains(key) { scopeTags.append(key) }
        }
        guard entries.count <= 64, scopeTags.count <= 8, exceptions <= 48 else { return nil }
        self.entries = entries
        self.scopeTags = scopeTags
        let numbered = entries.enumerated().map { (bit: $0.offset, test: $0.element) }
        let readsNumber = { (entry: (bit: Int, test: Int)) in [.range, .numbers].contains(conditions.tests[entry.test].kind) }
        textEntries = numbered.filter { !readsNumber($0) }
        numberEntries = numbered.filter(readsNumber)
        // Text tests (`text`, `textGlob`, `exists` on text) read the attribute they name; `always` reads none.
        let reads = { (entry: (bit: Int, test: Int), attribute: CompiledCondition.TextAttribute) in
            let test = conditions.tests[entry.test]
            let always = test.kind == .exists && test.table == 2
            return !always && test.attribute == attribute.rawValue
        }
        userEntries = textEntries.filter { reads($0, .user) }
        tagEntries = textEntries.filter { reads($0, .tag) }
        regionEntries = textEntries.filter { !reads($0, .user) && !reads($0, .tag) }
        textMask = textEntries.reduce(0) { $0 | 1 << UInt64($1.bit) }
    }
}

/// The facts that decide an assessment besides the numbers it counts (see ``PlanTests``).
package struct PlanKey: Hashable {
    package let team: Int32
    package let environment: Int32
    package let model: Int32
    /// The region's id (-1 when the policy does not know it), or -2 when the request names none.
    package let region: Int32
    /// One bit per plan test that holds.
    package let tests: UInt64
    /// Bit 0: priced; 1: over the team's max request cost; 2: has a user; 3: names its region
    /// as the policy writes it (``regionAsPolicy``); 8…15: has each scope tag; 16…63: each
    /// exception unexpired.
    package let flags: UInt64

    /// The flag of a request naming its region byte for byte as the policy does: a violation
    /// quoting the region then reads the same for every request with the key.
    package static let regionAsPolicy: UInt64 = 1 << 3
}

extension PlanKey: CheapHashable {
    /// A hash of the key's integers from a few multiplications.
    @inline(__always)
    package var cheapHash: Int {
        var h = UInt64(UInt32(bitPattern: team)) | UInt64(UInt32(bitPattern: environment)) << 32
        h = (h ^ (UInt64(UInt32(bitPattern: model)) | UInt64(UInt32(bitPattern: region)) << 32)) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ tests ^ (h >> 31)) &* 0x94D0_49BB_1331_11EB
        h = (h ^ flags ^ (h >> 29)) &* 0x9E37_79B9_7F4A_7C15
        return Int(truncatingIfNeeded: h ^ (h >> 32))
    }
}

extension CandidateKey: CheapHashable {
    @inline(__always)
    package var cheapHash: Int { (key.cheapHash ^ Int(index)) &* 0x2545_F491_4F6C_DD1D }
}

/// A key hashed from its integers without SipHash (see ``CheapTable``).
package protocol CheapHashable: Equatable {
    /// A well-mixed hash of the key.
    var cheapHash: Int { get }
}

/// The values a plan cache makes per key for every record that has the key: an open-addressing
/// table with a cheap hash (a Swift dictionary hashes each lookup with SipHash), emptied when it
/// holds ``PlanCache/capacity`` keys.
package struct CheapTable<Key: CheapHashable, Value> {
    /// Keys and values side by side: a lookup touches one place in memory.
    private var entries: [(key: Key, value: Value)?] = Array(repeating: nil, count: 256)
    private var count = 0

    package init() {}

    /// The value of `key`, made by `make` the first time.
    package mutating func value(_ key: Key, make: () -> Value) -> Value {
        let mask = entries.count - 1
        var slot = key.cheapHash & mask
        while let stored = entries[slot] {
            if stored.key == key { return stored.value }
            slot = (slot &+ 1) & mask
        }
        let made = make()
        if count >= PlanCache.capacity {
            self = CheapTable()
        } else if (count + 1) * 2 > entries.count {
            grow()
        } else {
            entries[slot] = (key, made)
            count += 1
            return made
        }
        insert(key, made)
        return made
    }

    private mutating func insert(_ key: Key, _ value: Value) {
        let mask = entries.count - 1
        var slot = key.cheapHash & mask
        while entries[slot] != nil { slot = (slot &+ 1) & mask }
        entries[slot] = (key, value)
        count += 1
    }

    private mutating func grow() {
        let old = entries
        entries = Array(repeating: nil, count: old.count * 2)
        count = 0
        for case let (key, value)? in old { insert(key, value) }
    }
}

/// The part of a ``PlanKey`` that a request's names decide; the rest follows from its numbers.
package struct PlanNames: Sendable {
    package let team: Int32
    package let environment: Int32
    package let model: Int32
    /// As in ``PlanKey``.
    package let region: Int32
    /// One bit per plan test reading text that holds.
    package let tests: UInt64
    /// Bit 2: has a user; 3: names its region as the policy does; 8…15: has each scope tag.
    package let flags: UInt64

    /// The flags of a ``PlanKey`` that names decide (the rest follow from numbers and time).
    package static let flagMask: UInt64 = 0xFF0C

    package init(team: Int32, environment: Int32, model: Int32, region: Int32, tests: UInt64, flags: UInt64) {
        (self.team, self.environment, self.model, self.region, self.tests, self.flags) = (team, environment, model, region, tests, flags)
    }

    /// The names part of `key`.
    package init(_ key: PlanKey, tests: PlanTests) {
        self.init(team: key.team, environment: key.environment, model: key.model, region: key.region,
                  tests: key.tests & tests.textMask, flags: key.flags & Self.flagMask)
    }
}

/// A reroute candidate of the requests with one plan key's names (``Evaluator/fallbacks(_:from:)``
/// depends on nothing else for them), with the index it has among them.
package struct CandidateKey: Hashable {
    /// The key of the request re-priced at the candidate (its cost bits, priced and over-max flags are the candidate's).
    package let key: PlanKey
    package let index: Int32
}

/// What assessing one reroute candidate found, budgets aside (see ``Evaluator/forEachPlannedReroute``).
package struct CandidatePlan: Sendable {
    /// Denied before its budgets are checked.
    package let denied: Bool
    /// The budgets it counts against, in assessment order; nil when the requests with its key are assessed in full.
    package let budgets: [AssessmentPlan.Budget]?
}

/// A reroute candidate of a planned request, as ``Evaluator/forEachPlannedReroute`` hands it over.
package struct PlannedCandidate {
    package let modelName: String
    package let region: String?
    /// Denied before its budgets.
    package let denied: Bool
    /// What a reroute there reports as its cost: the request's own at the same model, else re-priced.
    package let cost: USD?
}

/// One enforced counter of a planned reroute candidate, to check against the counters as they stand.
package struct CandidateCounter {
    /// The budget's index in the compiled policy.
    package let budget: Int32
    package let key: String
    package let keyHash: Int
    package let window: Int64
    /// The counter key's own hash (`CounterKey.cacheLine`).
    package let line: Int
    package let amount: Amount
    package let limits: BudgetLimits
}

/// What a key's first request found.
package final class AssessmentPlan: Sendable {
    /// One budget the requests count against, in assessment order.
    package struct Budget: Sendable {
        package let index: Int32
        package let enforced: Bool
        /// When the budget's scope is made of names the key fixes (org, team, environment,
        /// model, provider): the counter's scope key, the same for every request, with its hash
        /// and caps. (Three fields rather than one optional tuple or struct: copying that optional
        /// went through its type metadata, 110 to 190 instructions for every budget of a record.)
        package var fixedKey: String?
        package var fixedHash = 0
        package var fixedLimits = BudgetLimits()
    }

    /// Nil when requests with this key are assessed in full.
    package let budgets: [Budget]?
    /// The violations every request with this key has, budgets aside (empty for a clean key).
    package let violations: [Violation]
    /// The region picked for requests that name none.
    package let pickedRegion: String?
    /// The canonical model name (kept here, in the thread's own cache, rather than read from the shared policy).
    package let modelName: String

    package init(budgets: [Budget]?, violations: [Violation], pickedRegion: String?, modelName: String) {
        self.budgets = budgets
        self.violations = violations
        self.pickedRegion = pickedRegion
        self.modelName = modelName
    }

    /// The plan with strings of its own: a thread taking another's plan copies the strings its records
    /// refer to, so that threads do not count references to the same strings (see ``SharedPlans``).
    package func threadCopy() -> AssessmentPlan {
        func own(_ text: String) -> String { String(decoding: Array(text.utf8), as: UTF8.self) }
        let budgets = budgets?.map { budget in
            var copy = budget
            copy.fixedKey = budget.fixedKey.map(own)
            return copy
        }
        return AssessmentPlan(budgets: budgets, violations: violations, pickedRegion: pickedRegion.map(own), modelName: own(modelName))
    }

    /// Whether violations found for one request with `key` are those of every request with it:
    /// true unless a message quotes the request's own text or numbers (its cost, or the region
    /// it names in other bytes than the policy's name for it: the key holds the region's id, and
    /// names that compare equal may differ in bytes).
    package static func violationsFollow(from key: PlanKey, _ violations: [Violation]) -> Bool {
        violations.allSatisfy { violation in
            violation.kind != .cost && (violation.kind != .region || key.region == -2 || key.flags & PlanKey.regionAsPolicy != 0)
        }
    }
}

/// The plans every thread of one audit has made, so that a plan key is assessed in full once
/// rather than once per thread (a plan is the same whichever request made it). Taken only when
/// a thread's own ``PlanCache`` lacks a key, so the lock is rare.
package final class SharedPlans: Sendable {
    private let plans = Mutex<[PlanKey: AssessmentPlan]>([:])

    package init() {}

    /// The plan of `key`, if a thread made one.
    package func plan(_ key: PlanKey) -> AssessmentPlan? {
        plans.withLock { $0[key] }
    }

    /// Gives the other threads `plan` (up to ``PlanCache/capacity`` plans).
    package func publish(_ plan: AssessmentPlan, for key: PlanKey) {
        plans.withLock { plans in
            if plans.count < PlanCache.capacity { plans[key] = plan }
        }
    }
}

/// The plans one thread has made: an open-addressing table keyed by ``PlanKey``
/// with a cheap hash of its integers (no SipHash on the per-record path).
package final class PlanCache: @unchecked Sendable {
    // `@unchecked`: the tables and raw buffers below change, and are used by one thread at a time:
    // a pool lends the cache to one job at a time (``PlanPool``), which `owner` checks in debug
    // builds (the pool claims it for the job's thread; each use checks no other thread is in).
    private var keys: [PlanKey?]
    private var plans: [AssessmentPlan?]
    private var count = 0
    private var mask: Int
    /// The names of the records this thread has decoded (see ``RecordShape``).
    package let shapes: ShapeTables
    // The small caches below are raw buffers (allocated once, freed in deinit): as stored
    // `var` arrays of a class, every access would pay a dynamic exclusivity check.
    /// `hashValue`s of scope keys (users, tag values) seen lately.
    package let hashes = ScopeKeyHashes()
    /// Budget caps by budget and scope key seen lately (see `limits`).
    private let limitBudgets = UnsafeMutableBufferPointer<Int32>.allocate(capacity: 512)
    private let limitKeys = UnsafeMutableBufferPointer<String>.allocate(capacity: 512)
    private let limitValues = UnsafeMutableBufferPointer<BudgetLimits>.allocate(capacity: 512)
    /// Scope keys the policy's names fix, kept for the whole audit (see ``SharedKey``); as many as
    /// the policy has teams, environments and models in its budgets' scopes.
    private var sharedKeys: [String: SharedKey] = [:]
    /// Most plans kept; past it the cache starts again (keys are few in practice).
    package static let capacity = 1 << 16
    /// The plans the other threads of the audit made (nil: this thread's own only).
    private let shared: SharedPlans?
    /// Reroute candidates by the names part of a plan key, and what assessing each found (made by this thread).
    private var rerouteCandidates = CheapTable<PlanKey, [Evaluator.Candidate]>()
    private var candidatePlans = CheapTable<CandidateKey, CandidatePlan>()
    /// The thread using the cache and its tables.
    package let owner: ThreadOwner

    /// A cache whose name tables make at most `shapeLimit` entries each (see ``ShapeTable``),
    /// taking the plans other threads made from `shared` and giving it its own.
    package init(shapeLimit: Int = 1 << 14, shared: SharedPlans? = nil) {
        let owner = ThreadOwner()
        self.owner = owner
        shapes = ShapeTables(limit: shapeLimit, owner: owner)
        self.shared = shared
        keys = Array(repeating: nil, count: 1024)
        plans = Array(repeating: nil, count: 1024)
        mask = 1023
        limitBudgets.initialize(repeating: -1)
        limitKeys.initialize(repeating: "")
        limitValues.initialize(repeating: BudgetLimits())
    }

    deinit {
        limitKeys.deinitialize()
        limitKeys.deallocate()
        limitBudgets.deallocate()
        limitValues.deallocate()
    }

    /// The kept ``SharedKey`` for `text` (whose `hashValue` is `hash`).
    package func sharedKey(_ text: String, hash: Int) -> SharedKey {
        let use = owner.enter()
        defer { owner.exit(use) }
        if let known = sharedKeys[text] { return known }
        let key = SharedKey(text, hash: hash)
        sharedKeys[text] = key
        return key
    }

    /// `name.hashValue`, remembered (see ``ScopeKeyHashes``).
    @inline(__always)
    package func hashValue(of name: String) -> Int {
        let use = owner.enter()
        defer { owner.exit(use) }
        return hashes.hashValue(of: name)
    }

    /// The caps of budget `budget` for scope key `key` (whose `hashValue` is `hash`), remembered:
    /// looking up a budget's overrides costs a SipHash and a reference to the shared budget.
    @inline(__always)
    package func limits(_ budget: Int32, key: String, hash: Int, policy: CompiledPolicy) -> BudgetLimits {
        let use = owner.enter()
        defer { owner.exit(use) }
        let slot = (hash ^ Int(budget) &* 0x9E37_79B9) & 511
        if limitBudgets[slot] == budget, limitKeys[slot] == key { return limitValues[slot] }
        let value = policy.budgets[Int(budget)].limits(forKey: key)
        limitBudgets[slot] = budget
        limitKeys[slot] = key
        limitValues[slot] = value
        return value
    }

    @inline(__always)
    private static func hash(_ key: PlanKey) -> Int { key.cheapHash }

    /// The plan of `key` this thread made or (copied) another made; setting one keeps it for this thread only.
    package subscript(key: PlanKey) -> AssessmentPlan? {
        get {
            let use = owner.enter()
            defer { owner.exit(use) }
            var slot = Self.hash(key) & mask
            while let stored = keys[slot] {
                if stored == key { return plans[slot] }
                slot = (slot &+ 1) & mask
            }
            guard let made = shared?.plan(key) else { return nil }
            let copy = made.threadCopy()
            self[key] = copy
            return copy
        }
        set {
            let use = owner.enter()
            defer { owner.exit(use) }
            guard let newValue else { return }
            if count >= Self.capacity { clear(size: keys.count) }
            if (count + 1) * 2 > keys.count { grow() }
            var slot = Self.hash(key) & mask
            while let stored = keys[slot] {
                if stored == key {
                    plans[slot] = newValue
                    return
                }
                slot = (slot &+ 1) & mask
            }
            keys[slot] = key
            plans[slot] = newValue
            count += 1
        }
    }

    /// The reroute candidates of requests with the names of `key` (a key with only its names part), made by `make` once.
    package func rerouteCandidates(_ key: PlanKey, make: () -> [Evaluator.Candidate]) -> [Evaluator.Candidate] {
        let use = owner.enter()
        defer { owner.exit(use) }
        return rerouteCandidates.value(key, make: make)
    }

    /// What assessing the candidate of `key` found, made by `make` once.
    package func candidatePlan(_ key: CandidateKey, make: () -> CandidatePlan) -> CandidatePlan {
        let use = owner.enter()
        defer { owner.exit(use) }
        return candidatePlans.value(key, make: make)
    }

    /// Keeps a plan this thread made, and gives it to the other threads.
    package func insert(_ plan: AssessmentPlan, for key: PlanKey) {
        self[key] = plan
        shared?.publish(plan, for: key)
    }

    private func clear(size: Int) {
        keys = Array(repeating: nil, count: size)
        plans = Array(repeating: nil, count: size)
        mask = size - 1
        count = 0
    }

    private func grow() {
        let oldKeys = keys
        let oldPlans = plans
        clear(size: keys.count * 2)
        for (key, plan) in zip(oldKeys, oldPlans) {
            if let key, let plan { self[key] = plan }
        }
    }
}

extension CompiledCondition.Test {
    /// Whether the test's outcome follows from the team, environment, model, provider and tier ids alone.
    package var isDecidedByIDs: Bool {
        switch kind {
        case .id: return true
        case .exists: return table == 1
        case .text, .textGlob, .range, .numbers: return false
        }
    }
}

extension Evaluator {
    /// The key of a resolved request, or nil when it must be assessed in full.
    ///
    /// Reads only plain per-id arrays of the policy (no compiled object), so that
    /// threads preparing records in parallel share no reference counts.
    package func planKey(_ resolved: Resolved, tests: PlanTests) -> PlanKey? {
        guard let names = planNames(resolved, tests: tests) else { return nil }
        return planKey(names, usage: resolved.request.usage, cost: knownModelCost(resolved), hour: resolved.hour,
                       weekday: resolved.weekday, timestamp: resolved.timestamp, tests: tests,
                       aggregate: resolved.request.isAggregate)
    }

    /// The part of a request's plan key its names decide (ids, region, text tests, which scope
    /// parts it has), or nil when it must be assessed in full.
    package func planNames(_ resolved: Resolved, tests: PlanTests) -> PlanNames? {
        planNames(resolved, tests: tests, entries: tests.textEntries)
    }

    /// `planNames` with only the text tests `entries` (the others' bits clear).
    package func planNames(_ resolved: Resolved, tests: PlanTests, entries: [(bit: Int, test: Int)]) -> PlanNames? {
        let request = resolved.request
        guard resolved.team >= 0, resolved.environment >= 0, resolved.model >= 0, request.unavailableRegions.isEmpty else { return nil }
        let region = request.region.map { policy.regions.id($0) } ?? -2
        // Text tests read no cost.
        let input = ConditionInput(resolved: resolved, model: resolved.model, provider: policy.modelProviders[Int(resolved.model)],
                                   tier: policy.modelTiers[Int(resolved.model)], modelName: request.model, providerName: nil,
                                   region: request.region, cost: nil)
        var bits: UInt64 = 0
        for entry in entries where policy.conditions.holds(tests: entry.test, input) {
            bits |= 1 << UInt64(entry.bit)
        }
        var flags: UInt64 = 0
        if request.user != nil { flags |= 4 }
        if region >= 0, let named = request.region, policy.regions.names[Int(region)].hasSameUTF8(as: named) {
            flags |= PlanKey.regionAsPolicy
        }
        for (offset, key) in tests.scopeTags.enumerated() where request.tags[key] != nil { flags |= 1 << UInt64(8 + offset) }
        return PlanNames(team: resolved.team, environment: resolved.environment, model: resolved.model, region: region,
                         tests: bits, flags: flags)
    }

    /// The plan key of a request with `names`, from its numbers: `cost` is its known cost
    /// (actual, else its usage at the model's rates), `hour` and `weekday` local; an `aggregate`
    /// (``Request/isAggregate``) is never over `max_request_cost`.
    @inline(__always)
    package func planKey(_ names: PlanNames, usage: Usage, cost: USD?, hour: Int64, weekday: Int64, timestamp: Timestamp,
                 tests: PlanTests, aggregate: Bool = false) -> PlanKey {
        var bits = names.tests
        for entry in tests.numberEntries {
            let test = policy.conditions.tests[entry.test]
            let value = CompiledCondition.NumberAttribute(rawValue: test.attribute).flatMap {
                ConditionInput.number($0, usage: usage, cost: cost?.nanos, hour: hour, weekday: weekday)
            }
            if policy.conditions.holds(number: test, value) { bits |= 1 << UInt64(entry.bit) }
        }
        var flags = names.flags
        if let cost {
            flags |= 1
            if cost.nanos > policy.teamMaxRequestCosts[Int(names.team)], !aggregate { flags |= 2 }
        }
        for (offset, exception) in policy.exceptionHeads.enumerated() where timestamp < exception.expiresAt {
            flags |= 1 << UInt64(16 + offset)
        }
        return PlanKey(team: names.team, environment: names.environment, model: names.model, region: names.region,
                       tests: bits, flags: flags)
    }

    /// The candidate and assessment of a request from its key's plan, or nil when it
    /// must be assessed in full (the caller then calls `original` and `assess`).
    package func planned(_ resolved: Resolved, plans: PlanCache, tests: PlanTests) -> (Candidate, Assessment)? {
        guard let key = planKey(resolved, tests: tests),
              let (candidate, assessment, counters) = plannedCounters(resolved, key: key, plans: plans) else { return nil }
        guard assessment.counters.isEmpty else { return (candidate, assessment) }
        var full = assessment
        full.counters = counters.map(reservation)
        return (candidate, full)
    }

    /// Like `planned`, with the counters as ``ReplayCounter``s: for a request its key's plan
    /// decides, the assessment's `counters` are left empty (building a reservation's names
    /// and alerts costs more than the rest of a planned record).
    package func plannedCounters(_ resolved: Resolved, key: PlanKey, plans: PlanCache) -> (Candidate, Assessment, [ReplayCounter])? {
        let plan: AssessmentPlan
        if let known = plans[key] {
            plan = known
        } else {
            let candidate = original(resolved)
            let assessment = assess(resolved, candidate)
            let plannable = !candidate.noRegion && AssessmentPlan.violationsFollow(from: key, assessment.violations)
            plan = AssessmentPlan(budgets: plannable ? planBudgets(assessment.counters) : nil,
                                  violations: plannable ? assessment.violations : [],
                                  pickedRegion: resolved.request.region == nil ? candidate.region : nil,
                                  modelName: candidate.modelName)
            plans.insert(plan, for: key)
            guard let budgets = plan.budgets else { return nil }
            let counters = zip(assessment.counters, budgets).map { ReplayCounter($0, budget: $1.index) }
            return (candidate, assessment, counters)
        }
        guard let budgets = plan.budgets else { return nil }
        let candidate = plannedCandidate(resolved, plan)
        let cost = knownModelCost(resolved)
        var counters: [ReplayCounter] = []
        counters.reserveCapacity(budgets.count)
        guard appendCounters(budgets, resolved, cost: cost, plan: plan, candidate: candidate, plans: plans, to: &counters) else { return nil }
        return (candidate, Assessment(candidate: candidate, violations: plan.violations, cost: cost), counters)
    }

    /// The budgets of a plan from the counters its first request was assessed with (a key the names
    /// fix kept with its hash and caps); nil when a counter's budget is not the policy's.
    private func planBudgets(_ counters: [CounterReservation]) -> [AssessmentPlan.Budget]? {
        let budgets = counters.compactMap { entry in
            policy.budgetLookup[entry.counter.budget].map { index in
                policy.budgetHeads[Int(index)].keyFixedByNames
                    ? AssessmentPlan.Budget(index: index, enforced: entry.enforced, fixedKey: entry.counter.key,
                                            fixedHash: entry.counter.key.hashValue, fixedLimits: entry.limits)
                    : AssessmentPlan.Budget(index: index, enforced: entry.enforced)
            }
        }
        return budgets.count == counters.count ? budgets : nil
    }

    /// The cost of a request whose model the policy knows: the actual cost, else its usage at the model's rates.
    @inline(__always)
    package func knownModelCost(_ resolved: Resolved) -> USD? {
        resolved.request.cost ?? policy.modelRates[Int(resolved.model)]?.cost(resolved.request.usage)
    }

    /// The candidate of a request its key's plan decides: its model, in its region or the one the plan picked.
    package func plannedCandidate(_ resolved: Resolved, _ plan: AssessmentPlan) -> Candidate {
        let region = resolved.request.region ?? plan.pickedRegion
        return Candidate(model: resolved.model, modelName: plan.modelName, region: region,
                         regionID: region.map { policy.regions.id($0) } ?? -1, noRegion: false)
    }

    /// For a request whose key already has a clean plan: its record for the replay, with its
    /// counters appended to `counters`; nil (nothing appended) when it must be assessed in full.
    ///
    /// Builds no candidate or assessment: a clean planned record needs only its cost and counters.
    package func plannedRecord(_ resolved: Resolved, key: PlanKey, plans: PlanCache, counters: inout [ReplayCounter]) -> PlannedRecord? {
        guard let plan = plans[key], let budgets = plan.budgets, plan.violations.isEmpty else { return nil }
        let cost = knownModelCost(resolved)
        let start = counters.count
        guard appendCounters(budgets, resolved, cost: cost, plan: plan, candidate: nil, plans: plans, to: &counters) else { return nil }
        return PlannedRecord(team: resolved.team, environment: resolved.environment, model: resolved.model, day: resolved.day, cost: cost,
                             start: Int32(start), count: Int32(counters.count - start))
    }

    /// Appends the counters of a request from its key's plan; false (and `counters` as it was)
    /// when the request must be assessed in full. `candidate` is made when a scope needs it, if not given.
    private func appendCounters(_ budgets: [AssessmentPlan.Budget], _ resolved: Resolved, cost: USD?, plan: AssessmentPlan?,
                                candidate: Candidate?, plans: PlanCache, to counters: inout [ReplayCounter]) -> Bool
    {
        let start = counters.count
        let amount = Amount(usd: cost?.nanos ?? 0, tokens: resolved.request.usage.totalTokens, requests: 1)
        // The candidate only for a scope that names its model or region (most scopes do not), made
        // once, in place: a local function capturing it as a variable boxed it on the heap and
        // copied it for every budget.
        var candidate = candidate
        // The plan's budgets are read in place (copying one would retain its key).
        return withUnsafeMutablePointer(to: &candidate) { candidate in budgets.withUnsafeBufferPointer { budgets in
            guard let first = budgets.baseAddress else { return true }
            for position in budgets.indices {
                let planned = first + position
                let index = planned.pointee.index
                let head = policy.budgetHeads[Int(index)]
                // A missing scope part (no user, no such tag) leaves the budget out: assess in full.
                guard let (key, keyHash, limits) = plannedScope(planned, head, resolved, lazyCandidate(candidate, resolved, plan),
                                                               plans: plans)
                else {
                    counters.removeSubrange(start...)
                    return false
                }
                // An unpriced request under a USD cap is a violation: assess it in full.
                guard cost != nil || limits.usd == nil else {
                    counters.removeSubrange(start...)
                    return false
                }
                let window = resolved.window(head.period)
                counters.append(ReplayCounter(
                    amount: amount, line: CounterKey.mix(budgetHash: head.idHash, keyHash: keyHash, window: window),
                    window: window, key: key, budget: index, enforced: planned.pointee.enforced, hasAlerts: head.hasAlerts))
            }
            return true
        } }
    }

    /// Walks the reroute candidates of a denied request with plan key `key` as
    /// ``forEachReroute(_:from:skipping:repricing:_:)`` does with repricing, from the cache's plans: each
    /// candidate's verdict before budgets, and, for one not denied, each counter that would deny it
    /// handed to `admits` (until one does not admit it). `body` gets each candidate and whether it was
    /// admitted, and returns true to stop. Returns nil when done, or the index of the first candidate
    /// the plans do not decide: the caller assesses the rest in full.
    ///
    /// Nothing is stored per request, so the replay walks a record's candidates only when it needs
    /// them. A request's candidates follow from its names (those `key` holds: the region is the
    /// policy's, or none was named). Each candidate is assessed at the cost the request has there
    /// (its usage re-priced at another model), and that cost decides only the key's cost tests and
    /// flags: so the key with those bits recomputed, and the candidate's index, decide the
    /// candidate's assessment as a plan key decides a request's. A counter that would not deny is
    /// left out: the budget warns, or an exception waives it (the counter's `enforced`).
    package func forEachPlannedReroute(_ resolved: Resolved, from original: Candidate, key: PlanKey, plans: PlanCache, tests: PlanTests,
                                       admits: (CandidateCounter) -> Bool, _ body: (PlannedCandidate, _ admitted: Bool) -> Bool) -> Int? {
        guard policy.flags.reroute, resolved.request.allowReroute else { return nil }
        // A region the policy does not know, or named in other bytes: the candidates would report the request's.
        guard key.region == -2 || key.flags & PlanKey.regionAsPolicy != 0 else { return 0 }
        let names = PlanNames(key, tests: tests)
        let namesKey = PlanKey(team: names.team, environment: names.environment, model: names.model, region: names.region,
                               tests: names.tests, flags: names.flags)
        let candidates = plans.rerouteCandidates(namesKey) { fallbacks(resolved, from: original) }
        let usage = resolved.request.usage
        for (index, candidate) in candidates.enumerated() {
            let sameModel = candidate.model == original.model
            let rates = candidate.model >= 0 ? policy.modelRates[Int(candidate.model)] : nil
            // As `forEachReroute` with repricing: another model's price of the usage, else the request's cost.
            var repriced: USD?
            if !sameModel, candidate.model >= 0, usage.totalTokens > 0, let cost = rates?.cost(usage) { repriced = cost }
            let cost = repriced ?? resolved.request.cost ?? rates?.cost(usage)
            let candidateKey = CandidateKey(
                key: planKey(names, usage: usage, cost: cost, hour: resolved.hour, weekday: resolved.weekday,
                             timestamp: resolved.timestamp, tests: tests, aggregate: resolved.request.isAggregate),
                index: Int32(index))
            let plan = plans.candidatePlan(candidateKey) {
                let assessment = assess(repriced.map { resolved.repriced($0) } ?? resolved, candidate, untilDenied: true)
                if assessment.denied { return CandidatePlan(denied: true, budgets: []) }
                return CandidatePlan(denied: false, budgets: planBudgets(assessment.counters))
            }
            guard let budgets = plan.budgets else { return index }
            let reported = PlannedCandidate(modelName: candidate.modelName, region: candidate.region, denied: plan.denied,
                                            cost: sameModel ? cost : repriced)
            var admitted = !plan.denied
            let amount = Amount(usd: cost?.nanos ?? 0, tokens: usage.totalTokens, requests: 1)
            // The plan's budgets are read in place (copying one would retain its key).
            let decided = budgets.withUnsafeBufferPointer { budgets -> Bool in
                guard admitted, let first = budgets.baseAddress else { return true }
                for position in budgets.indices where first[position].enforced {
                    let head = policy.budgetHeads[Int(first[position].index)]
                    // A missing scope part, or an unpriced request under a USD cap: assessed in full.
                    guard let (scopeKey, keyHash, limits) = plannedScope(first + position, head, resolved, candidate, plans: plans),
                          cost != nil || limits.usd == nil else { return false }
                    let window = resolved.window(head.period)
                    let counter = CandidateCounter(budget: first[position].index, key: scopeKey, keyHash: keyHash, window: window,
                                                   line: CounterKey.mix(budgetHash: head.idHash, keyHash: keyHash, window: window),
                                                   amount: amount, limits: limits)
                    if !admits(counter) {
                        admitted = false
                        return true
                    }
                }
                return true
            }
            guard decided else { return index }
            if body(reported, admitted) { return nil }
        }
        return nil
    }

    /// The candidate in `made`, made from the plan and kept there the first time it is asked for.
    @inline(__always)
    private func lazyCandidate(_ made: UnsafeMutablePointer<Candidate?>, _ resolved: Resolved, _ plan: AssessmentPlan?) -> Candidate {
        if let candidate = made.pointee { return candidate }
        let candidate = plan.map { plannedCandidate(resolved, $0) } ?? original(resolved)
        made.pointee = candidate
        return candidate
    }

    /// The scope key of a planned budget for a request, its hash and the caps for it; nil when the
    /// request lacks a part of the scope (no user, no such tag).
    @inline(__always)
    package func plannedScope(_ planned: UnsafePointer<AssessmentPlan.Budget>, _ head: BudgetHead, _ resolved: Resolved,
                      _ candidate: @autoclosure () -> Candidate, plans: PlanCache) -> (String, Int, BudgetLimits)? {
        if let key = planned.pointee.fixedKey { return (key, planned.pointee.fixedHash, planned.pointee.fixedLimits) }
        let index = planned.pointee.index
        let found: (String, Int)?
        if head.scope != .other {
            found = simpleKey(head.scope, resolved, candidate(), nil, hashes: plans.hashes)
        } else if head.tagScope {
            found = resolved.request.tags[policy.budgetTags[Int(index)]].map { ($0, plans.hashValue(of: $0)) }
        } else {
            found = scopeKey(policy.budgets[Int(index)].scope, resolved, candidate(), policy.models[Int(resolved.model)], hashes: plans.hashes)
        }
        guard let (key, keyHash) = found else { return nil }
        return (key, keyHash, head.hasOverrides ? plans.limits(index, key: key, hash: keyHash, policy: policy) : head.limits)
    }

    /// The full reservation of a replay counter: the budget's id, period and alerts with its key and numbers.
    package func reservation(_ counter: ReplayCounter) -> CounterReservation {
        let budget = policy.budgets[Int(counter.budget)]
        let key = counter.key
        return CounterReservation(
            counter: CounterKey(budget: budget.id, budgetHash: budget.idHash, key: key, period: budget.period, window: counter.window),
            amount: counter.amount, limits: budget.limits(forKey: key), enforced: counter.enforced, alerts: budget.alerts)
    }
}
