import Foundation
import Testing
import PurserAudit
import Purser
import PurserTestSupport

/// Property: an assessment built from a plan is exactly the assessment
/// `original` + `assess` give, for every record of generated month-long logs,
/// over the shipped policy set and a policy with every kind of scope,
/// override, condition and exception.
@Suite("Assessment plans")
struct AssessmentPlanTests {
    /// Budgets by user, tag and composite scopes with per-key overrides; rules and
    /// budgets conditioned on tags, tokens, cost, hour and region; an exception that
    /// expires mid-month.
    static let scopes = """
        version: 1
        settings: {timezone: Europe/Berlin}
        models:
          small: {provider: acme, tier: small, price: {input: 1, output: 2}, regions: [eu-west-1, us-east-1]}
          big: {provider: acme, tier: frontier, price: {input: 10, output: 30}, fallbacks: [small]}
          free: {provider: other, tier: small}
        environments:
          production: {}
          qa: {tiers: [small]}
        teams:
          payments: {budget: {day: 50}, max_request_cost: 0.5}
          search: {regions: [eu-west-1]}
        budgets:
          - {id: per-user, scope: user, period: hour, tokens: 200000}
          - id: per-feature
            scope: tag:feature
            period: day
            limit: 5
            limits: {search: 2, chat: {requests: 3}}
            when: {tags.feature: {exists: true}}
          - id: team-env
            scope: [team, environment]
            period: month
            limit: 100
            limits: {payments/qa: 2, search/production: {tokens: 1000000}}
            alerts: [0.5, 0.9]
          - {id: big-in-office-hours, scope: model, period: day, limit: 20, when: {model: big, hour: {gte: 8, lt: 18}}}
        rules:
          - {id: long-prompts, when: {input_tokens: {gt: 6000}}, enforcement: audit, message: long prompt}
          - {id: no-pii-in-qa, when: {environment: qa, tags.data: pii}, message: no pii in qa}
          - {id: pricey, when: {cost: {gt: 0.2}}, unless: {tags.ticket: {exists: true}}, message: pricey}
          - {id: eu-only-search, when: {team: search, region: [us-east-1]}, message: search stays in the EU}
        exceptions:
          - {id: pricey-for-payments, waives: [pricey], when: {team: payments}, expires: 2026-11-25, reason: launch}
        """

    static func records(_ policy: PolicySet, seed: UInt64, count: Int) -> [Request] {
        var options = UsageGenerator.Options()
        options.records = count
        options.seed = seed
        options.violationPercent = 10
        var records = UsageGenerator(policy: policy, options: options).records()
        // Vary what plans key on: users, tags and explicit regions, present or not.
        var random = SeededRandom(seed: seed &+ 1)
        for index in records.indices {
            switch random.next() % 6 {
            case 0: records[index].user = nil
            case 1: records[index].tags["feature"] = ["chat", "search", "summaries"][Int(random.next() % 3)]
            case 2: records[index].tags["data"] = "pii"
            case 3: records[index].region = nil
            case 4: records[index].tags["ticket"] = "T-\(random.next() % 5)"
            default: break
            }
            if random.next() % 4 == 0 { records[index].cost = nil }
        }
        return records
    }

    /// With `threads` caches sharing their plans, used in turn (as the threads of an audit would).
    static func expectPlansMatch(_ policySet: PolicySet, seeds: [UInt64], count: Int, regionViolations: Bool = false,
                                 threads: Int = 1) throws {
        let policy = try CompiledPolicy(policySet)
        let tests = try #require(PlanTests(policy: policy))
        let evaluator = Evaluator(policy: policy)
        let shared = SharedPlans()
        let caches = (0..<threads).map { _ in PlanCache(shared: shared) }
        var turn = 0
        var planned = 0
        var plannedWithViolations = 0
        var plannedNamedRegionViolations = 0
        for seed in seeds {
            for request in records(policySet, seed: seed, count: count) {
                let now = request.timestamp ?? Timestamp(seconds: 1_793_509_200)
                let resolved = evaluator.resolve(request, now: now)
                let candidate = evaluator.original(resolved)
                let full = evaluator.assess(resolved, candidate)
                let plans = caches[turn % threads]
                turn += 1
                guard let (plannedCandidate, assessment) = evaluator.planned(evaluator.resolve(request, now: now), plans: plans, tests: tests) else {
                    continue
                }
                planned += 1
                if !full.violations.isEmpty { plannedWithViolations += 1 }
                // A region violation quotes the region: planned only when the request names it as the policy does.
                if request.region != nil, full.violations.contains(where: { $0.kind == .region }) { plannedNamedRegionViolations += 1 }
                #expect(assessment.violations == full.violations, "violations differ for \(request)")
                #expect(assessment.counters == full.counters, "counters differ for \(request)")
                #expect(assessment.cost == full.cost)
                #expect(plannedCandidate.model == candidate.model && plannedCandidate.region == candidate.region
                        && plannedCandidate.regionID == candidate.regionID && plannedCandidate.noRegion == candidate.noRegion)
            }
        }
        // The property must have been exercised, not skipped.
        #expect(planned > seeds.count * count / 3, "only \(planned) requests were planned")
        #expect(plannedWithViolations > 0, "no request with violations was planned")
        if regionViolations { #expect(plannedNamedRegionViolations > 0, "no request naming a region it may not use was planned") }
    }

    @Test func plansMatchFullAssessmentOnTheShippedPolicies() throws {
        let loaded = PolicySet.load(paths: [repositoryRoot + "/policies"])
        let policy = try #require(loaded.policy)
        try Self.expectPlansMatch(policy, seeds: [1, 2, 3], count: 4000, regionViolations: true)
    }

    @Test func plansMatchFullAssessmentWithEveryKindOfScope() throws {
        let loaded = load(Self.scopes)
        let policy = try #require(loaded.policy, "\(loaded.diagnostics)")
        try Self.expectPlansMatch(policy, seeds: [7, 8], count: 4000)
    }

    /// The same with three threads' caches taking one another's plans.
    @Test(arguments: ["shipped", "scopes"])
    func plansTakenFromOtherThreadsMatchFullAssessment(_ which: String) throws {
        let loaded = which == "shipped" ? PolicySet.load(paths: [repositoryRoot + "/policies"]) : load(Self.scopes)
        let policy = try #require(loaded.policy, "\(loaded.diagnostics)")
        try Self.expectPlansMatch(policy, seeds: [4], count: 4000, regionViolations: which == "shipped", threads: 3)
    }

    /// Jobs borrow warm caches: a cache given back is lent again (its plans and names with it),
    /// two jobs at once never hold the same one, and a disabled pool lends none.
    @Test func aPoolLendsEachCacheToOneJobAtATime() throws {
        let pool = PlanPool()
        let first = try #require(pool.borrow())
        let second = try #require(pool.borrow())
        #expect(first !== second)
        pool.giveBack(first)
        let third = try #require(pool.borrow())
        #expect(third === first)
        pool.giveBack(second)
        pool.giveBack(third)
        let again = [pool.borrow(), pool.borrow(), pool.borrow()].compactMap { $0 }
        #expect(again.count == 3)
        #expect(Set(again.map(ObjectIdentifier.init)).count == 3)
        #expect(again.filter { $0 === first || $0 === second }.count == 2)
        #expect(PlanPool(enabled: false).borrow() == nil)
    }

    /// A plan one thread made is found by the other threads of its audit, as a copy with strings
    /// of its own (threads must not count references to the same strings), and by no other audit's.
    @Test func aPlanIsSharedWithTheOtherThreadsOfItsAuditOnly() throws {
        let policySet = try #require(PolicySet.load(paths: [repositoryRoot + "/policies"]).policy)
        let policy = try CompiledPolicy(policySet)
        let tests = try #require(PlanTests(policy: policy))
        let evaluator = Evaluator(policy: policy)
        let shared = SharedPlans()
        let (first, second, elsewhere) = (PlanCache(shared: shared), PlanCache(shared: shared), PlanCache(shared: SharedPlans()))
        var checked = 0
        for request in Self.records(policySet, seed: 9, count: 300) {
            let resolved = evaluator.resolve(request, now: request.timestamp ?? Timestamp(seconds: 1_793_509_200))
            guard let key = evaluator.planKey(resolved, tests: tests), first[key] == nil else { continue }
            _ = evaluator.planned(resolved, plans: first, tests: tests)
            let made = try #require(first[key])
            #expect(elsewhere[key] == nil)
            let taken = try #require(second[key])
            #expect(taken !== made)
            #expect(second[key] === taken, "a taken plan is kept by the thread that took it")
            #expect(taken.modelName == made.modelName && taken.pickedRegion == made.pickedRegion)
            #expect(taken.violations == made.violations)
            #expect(taken.budgets?.map(\.index) == made.budgets?.map(\.index))
            #expect(taken.budgets?.map(\.fixedKey) == made.budgets?.map(\.fixedKey))
            if made.modelName.utf8.count > 15 {
                // Not small (inline) strings: the copy's bytes are stored elsewhere.
                var copy = taken.modelName, original = made.modelName
                let addresses = (copy.withUTF8 { $0.baseAddress }, original.withUTF8 { $0.baseAddress })
                #expect(addresses.0 != addresses.1)
            }
            checked += 1
        }
        #expect(checked > 20, "only \(checked) new plan keys")
    }

    /// Property: `assess(untilDenied: true)` on every reroute candidate of generated requests
    /// denies exactly when the full assessment does, and is the full assessment when it does not.
    @Test(arguments: ["shipped", "scopes"])
    func assessUntilDeniedAgreesWithFullAssessment(_ which: String) throws {
        let loaded = which == "shipped" ? PolicySet.load(paths: [repositoryRoot + "/policies"]) : load(Self.scopes)
        let policySet = try #require(loaded.policy, "\(loaded.diagnostics)")
        let evaluator = Evaluator(policy: try CompiledPolicy(policySet))
        var (stoppedEarly, assessedInFull) = (0, 0)
        for request in Self.records(policySet, seed: 13, count: 3000) {
            let resolved = evaluator.resolve(request, now: request.timestamp ?? Timestamp(seconds: 1_793_509_200))
            let original = evaluator.original(resolved)
            for candidate in [original] + evaluator.fallbacks(resolved, from: original) {
                let full = evaluator.assess(resolved, candidate)
                let quick = evaluator.assess(resolved, candidate, untilDenied: true)
                #expect(quick.denied == full.denied, "\(request) on \(candidate.modelName)")
                if quick.counters.isEmpty, !full.counters.isEmpty || quick.violations != full.violations {
                    #expect(quick.denied)
                    stoppedEarly += 1
                } else {
                    #expect(quick.violations == full.violations && quick.counters == full.counters && quick.cost == full.cost)
                    assessedInFull += 1
                }
            }
        }
        // Both paths must have been exercised.
        #expect(stoppedEarly > 100 && assessedInFull > 100, "\(stoppedEarly) stopped early, \(assessedInFull) in full")
    }

    /// Property: `budgetsDeny` (the what-if's check of an option's counters) denies exactly when
    /// `applyBudgets` adds a deny, with counters empty, at their caps and far over them; the
    /// policy has a budget that only warns and one an exception waives.
    @Test func budgetsDenyAgreesWithApplyBudgets() throws {
        let yaml = Self.scopes
            .replacingOccurrences(of: "period: month\n    limit: 100", with: "period: month\n    limit: 100\n    on_exceed: warn")
            .replacingOccurrences(of: "\nexceptions:\n", with: """

                exceptions:
                  - {id: ticketed-overuse, waives: [per-user], when: {tags.ticket: {exists: true}}, expires: 2027-01-01, reason: tickets}

                """)
        let loaded = load(yaml)
        let policySet = try #require(loaded.policy, "\(loaded.diagnostics)")
        let evaluator = Evaluator(policy: try CompiledPolicy(policySet))
        var outcomes: [String: Int] = [:]
        for request in Self.records(policySet, seed: 17, count: 3000) {
            let resolved = evaluator.resolve(request, now: request.timestamp ?? Timestamp(seconds: 1_793_509_200))
            let assessment = evaluator.assess(resolved, evaluator.original(resolved))
            let levels: [(CounterReservation) -> Amount] = [
                { _ in Amount() },
                { entry in Amount(usd: entry.limits.usd?.nanos ?? 0, tokens: entry.limits.tokens ?? 0, requests: entry.limits.requests ?? 0) },
                { _ in Amount(usd: 1 << 50, tokens: 1 << 50, requests: 1 << 50) },
            ]
            for level in levels {
                let spent = assessment.counters.map(level)
                var applied = assessment
                evaluator.applyBudgets(&applied, states: spent.map { CounterState(spent: $0) }, resolved)
                let budgetDenies = applied.violations.dropFirst(assessment.violations.count).contains { $0.effect == .deny }
                #expect(evaluator.budgetsDeny(assessment, spent: { spent[$0] }, resolved) == budgetDenies, "\(request)")
                for violation in applied.violations.dropFirst(assessment.violations.count) {
                    outcomes[violation.effect.rawValue, default: 0] += 1
                }
            }
        }
        // Every way a counter over its cap can end: denied, only warned, waived.
        #expect(outcomes["deny", default: 0] > 0 && outcomes["warn", default: 0] > 0 && outcomes["waived", default: 0] > 0, "\(outcomes)")
    }

    /// The policy-wide condition table (what the evaluator's loops test) agrees with every
    /// rule's, budget's and exception's own compiled condition, test by test.
    @Test func conditionTableAgreesWithEachCondition() throws {
        let loaded = load(Self.scopes)
        let policySet = try #require(loaded.policy, "\(loaded.diagnostics)")
        let policy = try CompiledPolicy(policySet)
        let evaluator = Evaluator(policy: policy)
        var pairs: [(Int32, CompiledCondition)] = []
        for (head, rule) in zip(policy.ruleHeads, policy.rules) {
            if let when = rule.when { pairs.append((head.when, when)) } else { #expect(head.when == -1) }
            if let unless = rule.unless { pairs.append((head.unless, unless)) } else { #expect(head.unless == -1) }
        }
        for (head, budget) in zip(policy.budgetHeads, policy.budgets) {
            if let when = budget.when { pairs.append((head.when, when)) } else { #expect(head.when == -1) }
        }
        for (head, exception) in zip(policy.exceptionHeads, policy.exceptions) {
            if let when = exception.when { pairs.append((head.when, when)) } else { #expect(head.when == -1) }
        }
        #expect(pairs.count == policy.conditions.count && pairs.count >= 8)
        var outcomes = Set<Bool>()
        for request in Self.records(policySet, seed: 5, count: 3000) {
            let resolved = evaluator.resolve(request, now: Timestamp(seconds: 1_793_509_200))
            let candidate = evaluator.original(resolved)
            let input = evaluator.conditionInput(resolved, candidate, cost: request.cost)
            for (number, condition) in pairs {
                let alone = condition.matches(input)
                #expect(policy.conditions.matches(number, input) == alone, "condition \(number) for \(request)")
                outcomes.insert(alone)
            }
        }
        #expect(outcomes == [true, false])
    }

    /// The rule index (buckets by pinned names, thresholds sorted within a bucket) finds
    /// exactly the rules a scan of every rule finds, in definition order.
    @Test func ruleIndexFindsWhatAFullScanFinds() throws {
        // Many threshold rules, pinned and not, on several numbers, so buckets hold sorted groups.
        var extra = ""
        for index in 0..<60 {
            let bound = [100, 2000, 6000, 9000, 20000][index % 5] + index
            let pin = ["", "team: payments, ", "environment: qa, ", "model: big, "][index % 4]
            let number = ["input_tokens", "output_tokens", "total_tokens"][index % 3]
            let op = index % 2 == 0 ? "gt" : "gte"
            extra += "\n  - {id: t\(index), when: {\(pin)\(number): {\(op): \(bound)}}, message: t\(index)}"
        }
        let yaml = Self.scopes.replacingOccurrences(of: "\nexceptions:", with: extra + "\nexceptions:")
        let loaded = load(yaml)
        let policySet = try #require(loaded.policy, "\(loaded.diagnostics)")
        let policy = try CompiledPolicy(policySet)
        #expect(!policy.ruleIndex.guarded.isEmpty)
        let evaluator = Evaluator(policy: policy)
        var fired = 0
        for request in Self.records(policySet, seed: 9, count: 3000) {
            let resolved = evaluator.resolve(request, now: Timestamp(seconds: 1_793_509_200))
            let candidate = evaluator.original(resolved)
            let assessment = evaluator.assess(resolved, candidate)
            let input = evaluator.conditionInput(resolved, candidate, cost: assessment.cost)
            let scanned = policy.rules.filter { rule in
                (rule.when?.matches(input) ?? true) && !(rule.unless?.matches(input) ?? false)
            }.map(\.id)
            let found = assessment.violations.filter { $0.kind == .rule }.map(\.rule)
            #expect(found == scanned, "\(request)")
            fired += found.count
        }
        #expect(fired > 1000, "the property must see rules fire")
    }

    @Test func auditsAreIdenticalWithAndWithoutPlans() throws {
        let loaded = load(Self.scopes)
        let policySet = try #require(loaded.policy, "\(loaded.diagnostics)")
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        let log = directory + "/usage.jsonl"
        let lines = Self.records(policySet, seed: 11, count: 5000).enumerated().map { index, request in
            var request = request
            request.id = "r\(index)"
            var json = JSONWriter()
            RequestEncoder.encode(request, into: &json)
            return json.text
        }
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: log))
        let policy = try CompiledPolicy(policySet)
        var options = AuditOptions()
        options.temporaryDirectory = directory
        var withoutPlans = options
        withoutPlans.usePlans = false
        let planned = try JSONSerialization.jsonObject(with: Data(Self.render(try Auditor(policy: policy, options: options).run([log]))))
        let full = try JSONSerialization.jsonObject(with: Data(Self.render(try Auditor(policy: policy, options: withoutPlans).run([log]))))
        #expect(NSDictionary(dictionary: try #require(planned as? [String: Any])).isEqual(to: try #require(full as? [String: Any])))
        // The log must take planned records over caps and past alert fractions: a planned record a
        // counter does not admit is assessed in full, and alerts fire from planned counters.
        let summary = try #require((planned as? [String: Any])?["summary"] as? [String: Any])
        #expect(try #require(summary["budget_crossings"] as? Int) > 0)
        #expect(try #require(summary["alerts"] as? Int) > 0)
        #expect(try #require(summary["violations"] as? Int) > 0)
    }

    /// Lines that test the shaped scan: names it must take from the full decoder (escapes,
    /// whitespace, `null`, absent fields, unknown names, unavailable regions) and lines it
    /// must leave to it (repeated and unknown fields, malformed values, a missing model or time).
    static let edgeLines = [
        #"{"id":"e1","timestamp":"2026-11-03T10:00:00Z","team":"payments","environment":"production","model":"small","user":"ann","usage":{"input_tokens":10,"output_tokens":5}}"#,
        #"{"id":"e2","timestamp":"2026-11-03T10:00:01Z","team":"pay\u006dents","environment":"production","model":"small","user":"ann","usage":{"input_tokens":10,"output_tokens":5}}"#,
        #"{ "id" : "e3", "timestamp" : "2026-11-03T10:00:02Z", "team" : "payments" , "environment":"production","model":"small","user":null,"tags":{"feature":"chat"},"cost":0.01}"#,
        #"{"id":"e4","timestamp":"2026-11-03T10:00:03Z","team":"payments","team":"search","environment":"production","model":"small","cost":0.01}"#,
        #"{"id":"e5","timestamp":"2026-11-03T10:00:04Z","team":"payments","environment":"production","model":"small","colour":"red"}"#,
        #"{"id":"e6","timestamp":"2026-11-03T10:00:05Z","team":"payments","environment":"production","model":"small","usage":{"input_tokens":-1}}"#,
        #"{"id":"e7","timestamp":"2026-11-03T10:00:06Z","team":"payments","environment":"production","user":"ann","cost":0.01}"#,
        #"{"id":"e8","team":"payments","environment":"production","model":"small","cost":0.01}"#,
        #"{"id":"e9","timestamp":"2026-11-03T10:00:08Z","team":"nobody","environment":"production","model":"small","cost":0.01}"#,
        #"{"id":"e10","timestamp":"2026-11-03T10:00:09Z","team":"search","environment":"qa","model":"big","region":"us-east-1","unavailable_regions":["eu-west-1"],"allow_reroute":false,"cost":0.3}"#,
        #"{"id":"e11","timestamp":"2026-11-03T10:00:10Z","team":"payments","environment":"production","model":"small","user":"","cost":0.01}"#,
        #"{"id":"e12","timestamp":"2026-11-03T10:00:11Z","team":"payments","environment":"production","model":"small","tags":{"feature":"chat","feature":"search"},"cost":0.01}"#,
        #"{"id":"e13","timestamp":"2026-11-03T10:00:12Z","team":"payments","environment":"production","model":"small","cost":0.01} trailing"#,
    ]

    /// Records decoded by their names (``RecordShape``) count, violate and cross caps exactly as
    /// records decoded in full: the same report with and without plans, over generated records
    /// whose names repeat and lines written to trip the shaped scan.
    @Test func shapedDecodingMatchesFullDecoding() throws {
        let loaded = load(Self.scopes)
        let policySet = try #require(loaded.policy, "\(loaded.diagnostics)")
        var lines = Self.records(policySet, seed: 21, count: 6000).enumerated().map { index, request in
            var request = request
            request.id = "r\(index)"
            return Self.line(request)
        }
        // Each edge line three times, so that the second and third find their names known.
        for (offset, line) in Self.edgeLines.enumerated() {
            for copy in 0..<3 { lines.insert(line, at: 500 + offset * 400 + copy * 7) }
        }
        let report = try Self.expectShapedMatchesFull(policySet, lines: lines)
        // Every malformed edge line is reported, each time it appears (e4 and e12 repeat a key).
        #expect(report.summary.malformed == 3 * 8, "\(report.malformed.map(\.message))")
    }

    /// The same over a generated month for the shipped policies (their rules read tags, hours and tokens).
    @Test func shapedDecodingMatchesFullDecodingOnTheShippedPolicies() throws {
        let policySet = try #require(PolicySet.load(paths: [repositoryRoot + "/policies"]).policy)
        var options = UsageGenerator.Options()
        options.records = 20000
        options.seed = 5
        let report = try Self.expectShapedMatchesFull(policySet, lines: UsageGenerator(policy: policySet, options: options).records().map(Self.line))
        #expect(report.summary.violations > 1000)
    }

    /// The same over a month in which most records break policy: denied records' reroute
    /// candidates are walked from the replay's plans (``Evaluator/forEachPlannedReroute``); the
    /// report (every violation's reroute, the savings) is the one full assessment gives.
    @Test func plannedReroutesMatchFullAssessmentOnAViolatingMonth() throws {
        let policySet = try #require(PolicySet.load(paths: [repositoryRoot + "/policies"]).policy)
        var options = UsageGenerator.Options()
        options.records = 30000
        options.seed = 7
        options.violationPercent = 70
        var lines = UsageGenerator(policy: policySet, options: options).records().map(Self.line)
        // Denied records a careless or hostile log could hold, each three times (the second and third
        // find their plans made): usage too large to price at a fallback, no usage, a region in other
        // bytes, no reroute asked, the same id again.
        let hostile = [
            #"{"id":"h1","timestamp":"2026-11-03T10:00:00Z","team":"payments","environment":"qa","model":"claude-opus-4-5","region":"us-east-1","usage":{"input_tokens":900000000000000,"output_tokens":900000000000000}}"#,
            #"{"id":"h2","timestamp":"2026-11-03T10:00:01Z","team":"payments","environment":"qa","model":"claude-opus-4-5","cost":3.5}"#,
            #"{"id":"h3","timestamp":"2026-11-03T10:00:02Z","team":"payments","environment":"qa","model":"claude-opus-4-5","region":"US-EAST-1","usage":{"input_tokens":1000,"output_tokens":10}}"#,
            #"{"id":"h4","timestamp":"2026-11-03T10:00:03Z","team":"payments","environment":"qa","model":"claude-opus-4-5","allow_reroute":false,"usage":{"input_tokens":1000,"output_tokens":10}}"#,
            #"{"id":"h4","timestamp":"2026-11-03T10:00:04Z","team":"growth","environment":"production","model":"gpt-5","region":"eu-west-1","usage":{"input_tokens":0,"output_tokens":0}}"#,
        ]
        for (offset, line) in hostile.enumerated() {
            for copy in 0..<3 { lines.insert(line, at: 4000 + offset * 300 + copy * 11) }
        }
        let report = try Self.expectShapedMatchesFull(policySet, lines: lines)
        // Most records are denied, many would have rerouted, some of them past a budget.
        #expect(report.summary.violatingRecords > 15000)
        #expect(report.summary.reroutable > 1000)
        #expect(report.summary.reroutingSavings > .zero)
        let budgetViolations = report.byRule.filter { report.rules[$0.name]?.kind == .budget }.map(\.violations).reduce(0, +)
        #expect(budgetViolations > 100, "\(report.byRule.map { "\($0.name) \($0.violations)" })")
        // Again with a one-line cache in front of the replay's counters: every lookup of a counter
        // (a record's and a candidate's) goes past it to the counter table.
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        let log = directory + "/usage.jsonl"
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: log))
        let policy = try CompiledPolicy(policySet)
        var audit = AuditOptions()
        audit.temporaryDirectory = directory
        var oneLine = audit
        oneLine.slotCacheLines = 1
        let cached = try Self.render(try Auditor(policy: policy, options: audit).run([log]))
        #expect(try Self.render(try Auditor(policy: policy, options: oneLine).run([log])) == cached)
        #expect(cached.count > 100_000)
    }

    /// A planned walk of the reroute candidates gives, candidate by candidate, what
    /// `forEachReroute` assesses: the same models, regions, verdicts and costs, and, for a candidate
    /// not denied, the counters that would deny it (its enforced ones), with their caps and amounts.
    @Test func plannedReroutesAreTheCandidatesAssessed() throws {
        let policySet = try #require(PolicySet.load(paths: [repositoryRoot + "/policies"]).policy)
        let policy = try CompiledPolicy(policySet)
        let evaluator = Evaluator(policy: policy)
        let tests = try #require(PlanTests(policy: policy))
        let plans = PlanCache()
        var options = UsageGenerator.Options()
        options.records = 6000
        options.seed = 3
        options.violationPercent = 70
        var planned = 0
        var compared = 0
        for request in UsageGenerator(policy: policySet, options: options).records() {
            let timestamp = try #require(request.timestamp)
            let resolved = evaluator.resolve(request, now: timestamp)
            guard let key = evaluator.planKey(resolved, tests: tests) else { continue }
            let original = evaluator.original(resolved)
            var full: [Evaluator.Reroute] = []
            evaluator.forEachReroute(resolved, from: original, repricing: true) { option in
                full.append(option)
                return false
            }
            // Twice: the second walk comes from the plans the first made.
            for round in 0..<2 {
                var candidates: [(PlannedCandidate, [CandidateCounter])] = []
                var counters: [CandidateCounter] = []
                let unplanned = evaluator.forEachPlannedReroute(resolved, from: original, key: key, plans: plans, tests: tests,
                                                                admits: { counters.append($0); return true }) { candidate, admitted in
                    #expect(admitted == !candidate.denied)
                    candidates.append((candidate, counters))
                    counters = []
                    return false
                }
                guard unplanned == nil else { break }
                if round == 1 { planned += 1 }
                #expect(candidates.count == full.count)
                for ((candidate, counters), assessed) in zip(candidates, full) {
                    let made = assessed.assessment.candidate
                    #expect(candidate.modelName == made.modelName && candidate.region == made.region)
                    #expect(candidate.denied == assessed.assessment.denied)
                    #expect(candidate.cost == (assessed.sameModel ? assessed.assessment.cost : assessed.repriced))
                    guard !candidate.denied else { continue }
                    let enforced = assessed.assessment.counters.filter(\.enforced)
                    #expect(counters.map { "\(policy.budgets[Int($0.budget)].id) \($0.key) \($0.window)" }
                        == enforced.map { "\($0.counter.budget) \($0.counter.key) \($0.counter.window)" })
                    #expect(counters.map(\.amount) == enforced.map(\.amount))
                    #expect(counters.map(\.limits) == enforced.map(\.limits))
                    #expect(counters.map(\.line) == enforced.map(\.counter.cacheLine))
                    if round == 1 { compared += counters.count }
                }
            }
        }
        #expect(planned > 4000, "only \(planned) records had planned reroutes")
        #expect(compared > 1000, "only \(compared) counters of candidates were compared")
    }

    static func line(_ request: Request) -> String {
        var json = JSONWriter()
        RequestEncoder.encode(request, into: &json)
        return json.text
    }

    /// Audits `lines` with and without plans, expects the same report, and that most records
    /// were planned from their names; returns the report.
    static func expectShapedMatchesFull(_ policySet: PolicySet, lines: [String]) throws -> AuditReport {
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        let log = directory + "/usage.jsonl"
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: log))
        let policy = try CompiledPolicy(policySet)

        // The shaped path is taken: most records come out planned from their names.
        var logOptions = UsageLogOptions()
        logOptions.batchSize = 500
        let reader = PurserLogReader(file: try LogFile(log), options: logOptions)
        let evaluator = Evaluator(policy: policy)
        let preparation = ShapedPreparation(evaluator: evaluator, plans: PlanCache(), tests: try #require(PlanTests(policy: policy)),
                                            countersPerRecord: 512)
        var shaped = 0
        var total = 0
        while let chunk = try reader.nextChunk() {
            let batch = reader.decode(chunk, preparing: preparation)
            total += batch.records.count
            for var record in batch.records {
                if case .shaped? = record.plannedRequest {
                    shaped += 1
                } else if let request = record.takeRequest() {
                    // Prepared in full, as the audit does: this makes the plans later records find.
                    let resolved = evaluator.resolve(request, now: record.timestamp)
                    _ = PreparedEvaluation(resolved, evaluator: evaluator, plans: preparation.plans,
                                           key: evaluator.planKey(resolved, tests: preparation.tests))
                }
            }
        }
        #expect(shaped > total / 3, "only \(shaped) of \(total) records were planned from their names")

        var options = AuditOptions()
        options.temporaryDirectory = directory
        var withoutPlans = options
        withoutPlans.usePlans = false
        let planned = try Auditor(policy: policy, options: options).run([log])
        let full = try Auditor(policy: policy, options: withoutPlans).run([log])
        #expect(try render(planned) == render(full))
        return planned
    }

    static func render(_ report: AuditReport) throws -> [UInt8] {
        var bytes: [UInt8] = []
        try AuditRenderer.render(report, as: .json) { bytes += $0 }
        return bytes
    }
}
