/// Assessments remembered by what decides them, for replaying millions of
/// records that differ mostly in their numbers.
///
/// Once a request's names are resolved, `Evaluator.assess` depends on only
/// a few facts: the team, environment and model ids, the region, the
/// outcome of each condition test that reads the request's text or numbers
/// (user, tags, region, tokens, cost, hour), which exceptions are unexpired,
/// whether the request is priced, over its team's max request cost, and
/// which scope parts it has. Those facts are the ``PlanKey``. The first
/// request with a key is assessed in full; when that finds no violation, the
/// budgets it counted against become the key's plan, and later requests
/// with the key only build their counters from it. Anything else (a
/// violation, an unknown name, unavailable regions) is assessed in full.
///
/// Nothing is approximated: two requests with the same key take the same
/// path through `assess`, so a plan gives exactly the counters `assess`
/// would.
struct PlanTests: Sendable {
    /// One condition test whose outcome is a bit of the key.
    struct Entry: Sendable {
        let condition: CompiledCondition
        let test: Int
    }

    /// The tests whose outcome depends on more than the name ids, one bit each.
    let entries: [Entry]
    /// The tag keys budgets scope by (their presence is a bit each).
    let scopeTags: [String]

    /// The plan tests of a policy, or nil when it has too many for the key's bits.
    init?(rules: [CompiledRule], budgets: [CompiledBudget], exceptions: [CompiledException]) {
        var conditions: [CompiledCondition] = []
        for rule in rules {
            if let when = rule.when { conditions.append(when) }
            if let unless = rule.unless { conditions.append(unless) }
        }
        conditions += budgets.compactMap(\.when) + exceptions.compactMap(\.when)
        var entries: [Entry] = []
        for condition in conditions {
            for (index, test) in condition.tests.enumerated() where !test.isDecidedByIDs {
                entries.append(Entry(condition: condition, test: index))
            }
        }
        var scopeTags: [String] = []
        for budget in budgets {
            for case .tag(let key) in budget.scope where !scopeTags.contains(key) { scopeTags.append(key) }
        }
        guard entries.count <= 64, scopeTags.count <= 8, exceptions.count <= 48 else { return nil }
        self.entries = entries
        self.scopeTags = scopeTags
    }
}

/// The facts that decide an assessment besides the numbers it counts (see ``PlanTests``).
struct PlanKey: Hashable {
    let team: Int32
    let environment: Int32
    let model: Int32
    /// The region's id (-1 when the policy does not know it), or -2 when the request names none.
    let region: Int32
    /// One bit per plan test that holds.
    let tests: UInt64
    /// Bit 0: priced; 1: over the team's max request cost; 2: has a user;
    /// 8…15: has each scope tag; 16…63: each exception unexpired.
    let flags: UInt64
}

/// What a key's first request found.
final class AssessmentPlan: Sendable {
    /// One budget the requests count against, in assessment order.
    struct Budget: Sendable {
        let index: Int32
        let enforced: Bool
    }

    /// Nil when the first request found a violation: requests with this key are assessed in full.
    let budgets: [Budget]?
    /// The region picked for requests that name none.
    let pickedRegion: String?

    init(budgets: [Budget]?, pickedRegion: String?) {
        self.budgets = budgets
        self.pickedRegion = pickedRegion
    }
}

/// The plans one thread has made: an open-addressing table keyed by ``PlanKey``
/// with a cheap hash of its integers (no SipHash on the per-record path).
final class PlanCache: @unchecked Sendable {
    // Used by one thread at a time: a pool hands it from job to job.
    private var keys: [PlanKey?]
    private var plans: [AssessmentPlan?]
    private var count = 0
    private var mask: Int
    /// `hashValue`s of scope keys (users, tag values) seen lately, by a cheap hash of their bytes.
    private var hashedNames = Array(repeating: "", count: 1024)
    private var hashedValues = Array(repeating: 0, count: 1024)
    /// Most plans kept; past it the cache starts again (keys are few in practice).
    static let capacity = 1 << 16

    init() {
        keys = Array(repeating: nil, count: 1024)
        plans = Array(repeating: nil, count: 1024)
        mask = 1023
    }

    /// `name.hashValue`, remembered: scope keys repeat, and SipHash costs more than the rest of a counter.
    @inline(__always)
    func hashValue(of name: String) -> Int {
        let slot = Int(truncatingIfNeeded: NameTable.hash(name)) & 1023
        if hashedNames[slot] == name, !name.isEmpty { return hashedValues[slot] }
        let value = name.hashValue
        hashedNames[slot] = name
        hashedValues[slot] = value
        return value
    }

    @inline(__always)
    private static func hash(_ key: PlanKey) -> Int {
        var h = UInt64(UInt32(bitPattern: key.team)) | UInt64(UInt32(bitPattern: key.environment)) << 32
        h = (h ^ (UInt64(UInt32(bitPattern: key.model)) | UInt64(UInt32(bitPattern: key.region)) << 32)) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ key.tests ^ (h >> 31)) &* 0x94D0_49BB_1331_11EB
        h = (h ^ key.flags ^ (h >> 29)) &* 0x9E37_79B9_7F4A_7C15
        return Int(truncatingIfNeeded: h ^ (h >> 32))
    }

    subscript(key: PlanKey) -> AssessmentPlan? {
        get {
            var slot = Self.hash(key) & mask
            while let stored = keys[slot] {
                if stored == key { return plans[slot] }
                slot = (slot &+ 1) & mask
            }
            return nil
        }
        set {
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
    var isDecidedByIDs: Bool {
        switch kind {
        case .id: return true
        case .exists: return table == 1
        case .text, .textGlob, .range, .numbers: return false
        }
    }
}

extension Evaluator {
    /// The key of a resolved request, or nil when it must be assessed in full.
    func planKey(_ resolved: Resolved, tests: PlanTests) -> PlanKey? {
        let request = resolved.request
        guard resolved.team >= 0, resolved.environment >= 0, resolved.model >= 0, request.unavailableRegions.isEmpty else { return nil }
        let model = policy.models[Int(resolved.model)]
        let team = policy.teams[Int(resolved.team)]
        let region = request.region.map { policy.regions.id($0) } ?? -2
        let cost = request.cost ?? model.rates?.cost(request.usage)
        let candidate = Candidate(model: resolved.model, modelName: model.name, region: request.region, regionID: region, noRegion: false)
        let input = conditionInput(resolved, candidate, cost: cost)
        var bits: UInt64 = 0
        for (offset, entry) in tests.entries.enumerated() where entry.condition.holds(test: entry.test, input) {
            bits |= 1 << UInt64(offset)
        }
        var flags: UInt64 = 0
        if let cost {
            flags |= 1
            if cost.nanos > team.maxRequestCostNanos { flags |= 2 }
        }
        if request.user != nil { flags |= 4 }
        for (offset, key) in tests.scopeTags.enumerated() where request.tags[key] != nil { flags |= 1 << UInt64(8 + offset) }
        for (offset, exception) in policy.exceptions.enumerated() where resolved.timestamp < exception.expiresAt {
            flags |= 1 << UInt64(16 + offset)
        }
        return PlanKey(team: resolved.team, environment: resolved.environment, model: resolved.model, region: region,
                       tests: bits, flags: flags)
    }

    /// The candidate and assessment of a request from its key's plan, or nil when it
    /// must be assessed in full (the caller then calls `original` and `assess`).
    func planned(_ resolved: Resolved, plans: PlanCache, tests: PlanTests) -> (Candidate, Assessment)? {
        guard let key = planKey(resolved, tests: tests) else { return nil }
        let plan: AssessmentPlan
        if let known = plans[key] {
            plan = known
        } else {
            let candidate = original(resolved)
            let assessment = assess(resolved, candidate)
            let clean = assessment.violations.isEmpty && !candidate.noRegion
            let budgets = clean ? assessment.counters.compactMap { entry in
                policy.budgetLookup[entry.counter.budget].map { AssessmentPlan.Budget(index: $0, enforced: entry.enforced) }
            } : nil
            plan = AssessmentPlan(budgets: budgets?.count == assessment.counters.count ? budgets : nil,
                                  pickedRegion: resolved.request.region == nil ? candidate.region : nil)
            plans[key] = plan
            return plan.budgets == nil ? nil : (candidate, assessment)
        }
        guard let budgets = plan.budgets else { return nil }
        let model = policy.models[Int(resolved.model)]
        let request = resolved.request
        let region = request.region ?? plan.pickedRegion
        let candidate = Candidate(model: resolved.model, modelName: model.name, region: region,
                                  regionID: region.map { policy.regions.id($0) } ?? -1, noRegion: false)
        let cost: USD? = request.cost ?? model.rates?.cost(request.usage)
        var assessment = Assessment(candidate: candidate, cost: cost)
        let amount = Amount(usd: cost?.nanos ?? 0, tokens: request.usage.totalTokens, requests: 1)
        assessment.counters.reserveCapacity(budgets.count)
        for planned in budgets {
            let budget = policy.budgets[Int(planned.index)]
            guard let usd = appendCounter(budget, resolved, candidate, model, amount: amount, enforced: planned.enforced,
                                          hashes: plans, to: &assessment.counters),
                  cost != nil || !usd  // an unpriced request under a USD cap is a violation
            else { return nil }
        }
        return (candidate, assessment)
    }
}
