import PurserCore
import PurserPolicy
/// The evaluation of docs/evaluation.md against a compiled policy: canonicalise, collect
/// violations, apply exceptions and effects, check budgets, reroute.
///
/// The evaluator is a value over an immutable policy; the enforcer gives it
/// a ledger (to read counters, or to reserve atomically).
package struct Evaluator: Sendable {
    package let policy: CompiledPolicy

    /// A request resolved against the policy's names (a class: shared by every candidate without copying).
    package final class Resolved: Sendable {
        package let request: Request
        package let timestamp: Timestamp
        package let team: Int32
        package let environment: Int32
        package let model: Int32
        package let hour: Int64
        package let weekday: Int64
        /// Local wall-clock seconds in the policy's time zone, and the day and month window indices.
        package let local: Int64
        package let day: Int64
        package let month: Int64

        package init(request: Request, timestamp: Timestamp, team: Int32, environment: Int32, model: Int32, zone: ZoneRules) {
            self.request = request
            self.timestamp = timestamp
            self.team = team
            self.environment = environment
            self.model = model
            let clock = LocalClock(timestamp, zone: zone)
            (local, day, hour, weekday, month) = (clock.local, clock.day, clock.hour, clock.weekday, clock.month)
        }

        /// The same request at another cost (a reroute candidate re-priced at its model): what
        /// `resolve` would give for it, without looking its names up or working out its clock again.
        package func repriced(_ cost: USD) -> Resolved {
            var request = self.request
            request.cost = cost
            return Resolved(request: request, as: self)
        }

        private init(request: Request, as other: Resolved) {
            self.request = request
            (timestamp, team, environment, model) = (other.timestamp, other.team, other.environment, other.model)
            (local, day, hour, weekday, month) = (other.local, other.day, other.hour, other.weekday, other.month)
        }

        /// The request's window index for a budget period (computed once per request for days and months).
        @inline(__always)
        package func window(_ period: BudgetPeriod) -> Int64 {
            LocalClock.window(period, local: local, day: day, month: month)
        }
    }

    /// An instant on the policy's wall clock: what conditions and budget windows read of a time.
    @usableFromInline package struct LocalClock {
        /// Local wall-clock seconds in the policy's time zone.
        @usableFromInline package let local: Int64
        /// The local day and month window indices.
        @usableFromInline package let day: Int64
        @usableFromInline package let month: Int64
        @usableFromInline package let hour: Int64
        /// 0 = Monday.
        @usableFromInline package let weekday: Int64

        package init(_ timestamp: Timestamp, zone: borrowing ZoneRules) {  // borrowing: an init would take (retain) it
            var span = Span()
            self.init(timestamp, zone: zone, span: &span)
        }

        /// The clock at `timestamp`, its day, weekday and month taken from `span` when the instant
        /// falls within it (else found and kept there): the records of a log mostly share the day
        /// of the record before.
        @inlinable package init(_ timestamp: Timestamp, zone: borrowing ZoneRules, span: inout Span) {
            let seconds = timestamp.seconds
            if seconds < span.from || seconds >= span.until { span = Span(seconds, zone: zone) }
            local = seconds &+ span.offset
            day = span.day
            hour = (local &- day &* 86_400) / 3600
            weekday = span.weekday
            month = span.month
        }

        /// The UTC instants of one local day (cut short where the zone's offset changes), with
        /// the day's offset, window indices and weekday. Holds no instant at first.
        @usableFromInline package struct Span {
            @usableFromInline var from: Int64 = 0
            @usableFromInline var until: Int64 = 0
            @usableFromInline var offset: Int64 = 0
            @usableFromInline var day: Int64 = 0
            @usableFromInline var month: Int64 = 0
            @usableFromInline var weekday: Int64 = 0

            @inlinable package init() {}

            /// The span of the instant `seconds`.
            @usableFromInline init(_ seconds: Int64, zone: borrowing ZoneRules) {
                let (offset, changed, changes) = zone.offsetSpan(atUTC: seconds)
                let local = seconds + offset
                let day = CalendarWindow.floorDiv(local, 86_400)
                let dayStart = day * 86_400 - offset
                (from, until) = (max(changed, dayStart), min(changes, dayStart + 86_400))
                (self.offset, self.day) = (offset, day)
                month = CalendarWindow.index(local: local, period: .month)
                weekday = ((day + 3) % 7 + 7) % 7  // 1970-01-01 was a Thursday; 0 = Monday
            }
        }

        /// The window index for a budget period.
        @inlinable @inline(__always)
        package func window(_ period: BudgetPeriod) -> Int64 {
            Self.window(period, local: local, day: day, month: month)
        }

        @inlinable @inline(__always)
        package static func window(_ period: BudgetPeriod, local: Int64, day: Int64, month: Int64) -> Int64 {
            switch period {
            case .day: return day
            case .month: return month
            default: return CalendarWindow.index(local: local, period: period)
            }
        }
    }

    /// A model and region to assess.
    package struct Candidate: Sendable {
        package let model: Int32
        package let modelName: String
        package let region: String?
        /// The region's id (-1 when unknown to the policy or absent).
        package var regionID: Int32 = -1
        /// Set when no region satisfies the policy for this model (the request named none).
        package let noRegion: Bool

        package init(model: Int32, modelName: String, region: String?, regionID: Int32 = -1, noRegion: Bool) {
            self.model = model
            self.modelName = modelName
            self.region = region
            self.regionID = regionID
            self.noRegion = noRegion
        }
    }

    /// What assessing one candidate found.
    package struct Assessment: Sendable {
        package let candidate: Candidate
        package var violations: [Violation] = []
        /// The budget counters the request counts against.
        package var counters: [CounterReservation] = []
        package let cost: USD?
        /// Whether a violation other than a budget denies.
        package var denied: Bool {
            // By index, reading the effect only: a `contains` closure copied each violation (retaining its strings).
            for index in violations.indices where violations[index].effect == .deny { return true }
            return false
        }

        package init(candidate: Candidate, violations: [Violation] = [], counters: [CounterReservation] = [], cost: USD?) {
            self.candidate = candidate
            self.violations = violations
            self.counters = counters
            self.cost = cost
        }
    }

    // MARK: Resolution

    package func resolve(_ request: consuming Request, now: Timestamp) -> Resolved {
        // The ids first: the request is then moved into the resolved request, not copied.
        let timestamp = request.timestamp ?? now
        let team = request.team.flatMap { policy.teamLookup[$0] } ?? -1
        let environment = request.environment.flatMap { policy.environmentLookup[$0] } ?? -1
        if policy.hasNameAliases { canonicalize(&request, team: team, environment: environment) }
        let model = policy.modelLookup[request.model] ?? -1
        return Resolved(request: request, timestamp: timestamp, team: team, environment: environment, model: model, zone: policy.zone)
    }

    /// Replaces the aliases of teams, environments and regions in `request` by the names they stand
    /// for, so that the request is evaluated, budgeted and reported under the policy's names
    /// (docs/evaluation.md, "Canonicalisation"). Models keep the name asked for: their aliases are
    /// resolved to the model's id, and decisions report the canonical model.
    private func canonicalize(_ request: inout Request, team: Int32, environment: Int32) {
        if team >= 0, policy.teamHasAliases[Int(team)], let name = request.team, policy.teams[Int(team)].name != name {
            request.team = policy.teams[Int(team)].name
        }
        if environment >= 0, policy.environmentHasAliases[Int(environment)], let name = request.environment,
           policy.environments[Int(environment)].name != name {
            request.environment = policy.environments[Int(environment)].name
        }
        guard policy.hasRegionAliases else { return }
        if let region = request.region, let canonical = policy.regionAlias(region) { request.region = canonical }
        if !request.unavailableRegions.isEmpty, request.unavailableRegions.contains(where: { policy.regionAlias($0) != nil }) {
            request.unavailableRegions = request.unavailableRegions.map { policy.regionAlias($0) ?? $0 }
        }
    }

    /// A candidate with its region's id looked up once.
    private func candidate(_ model: Int32, _ name: String, region: String?, noRegion: Bool) -> Candidate {
        var result = Candidate(model: model, modelName: name, region: region, noRegion: noRegion)
        result.regionID = region.map { policy.regions.id($0) } ?? -1
        return result
    }

    /// The request as asked: its model, and its region (or one Purser picks).
    package func original(_ resolved: Resolved) -> Candidate {
        let model = resolved.model
        let name = model >= 0 ? policy.models[Int(model)].name : resolved.request.model
        if let region = resolved.request.region {
            return candidate(model, name, region: region, noRegion: false)
        }
        let (region, none) = pickRegion(resolved, model: model, excluding: nil)
        return candidate(model, name, region: region, noRegion: none)
    }

    /// The reroute candidates (docs/evaluation.md, "Rerouting"), in order: the region fallback,
    /// then each model fallback (in the request's region or its fallback).
    package func fallbacks(_ resolved: Resolved, from original: Candidate) -> [Candidate] {
        guard policy.flags.reroute, resolved.request.allowReroute else { return [] }
        var result: [Candidate] = []
        let region = original.region
        if original.model >= 0, let region, let fallback = regionFallback(resolved, model: original.model, from: region) {
            result.append(candidate(original.model, original.modelName, region: fallback, noRegion: false))
        }
        guard original.model >= 0 else { return result }
        for fallback in policy.models[Int(original.model)].fallbacks {
            let name = policy.models[Int(fallback)].name
            if let region {
                if regionUsable(resolved, model: fallback, region: region) {
                    result.append(candidate(fallback, name, region: region, noRegion: false))
                } else if let other = regionFallback(resolved, model: fallback, from: region) {
                    result.append(candidate(fallback, name, region: other, noRegion: false))
                } else if resolved.request.region == nil {
                    let (picked, none) = pickRegion(resolved, model: fallback, excluding: nil)
                    result.append(candidate(fallback, name, region: picked, noRegion: none))
                } else {
                    result.append(candidate(fallback, name, region: region, noRegion: false))
                }
            } else {
                let (picked, none) = pickRegion(resolved, model: fallback, excluding: nil)
                result.append(candidate(fallback, name, region: picked, noRegion: none))
            }
        }
        return result
    }

    /// A reroute candidate assessed (docs/evaluation.md, "Rerouting").
    package struct Reroute: Sendable {
        /// The request as assessed: the request itself, or (when re-priced) with the cost of its usage at the candidate's model.
        package let resolved: Resolved
        /// The assessment of the candidate, except budgets, up to its first deny (see `assess(_:_:untilDenied:)`).
        package let assessment: Assessment
        /// What the request costs at the candidate's model, when re-priced (nil otherwise).
        package let repriced: USD?
        /// Whether the candidate is the request's own model (in another region).
        package let sameModel: Bool
    }

    /// The one walk of a denied request's reroute candidates (``fallbacks(_:from:)``), for the enforcer
    /// and the audit: from the `start`th, each assessed except for budgets (which need counters: the
    /// caller checks them) up to its first deny, handed to `body` until it returns true.
    ///
    /// With `repricing`, a candidate of another model is assessed at that model's price of the usage
    /// even when the request gives its cost: a usage log's cost is what the original model charged.
    package func forEachReroute(_ resolved: Resolved, from original: Candidate, skipping start: Int = 0, repricing: Bool = false,
                                _ body: (Reroute) -> Bool) {
        for candidate in fallbacks(resolved, from: original).dropFirst(start) {
            let sameModel = candidate.model == original.model
            var again = resolved
            var repriced: USD?
            if repricing, !sameModel, candidate.model >= 0, resolved.request.usage.totalTokens > 0,
               let cost = policy.models[Int(candidate.model)].rates?.cost(resolved.request.usage) {
                again = resolved.repriced(cost)
                repriced = cost
            }
            let assessment = assess(again, candidate, untilDenied: true)
            if body(Reroute(resolved: again, assessment: assessment, repriced: repriced, sameModel: sameModel)) { return }
        }
    }

    /// The first entry of `regions.fallbacks[region]` the model may use.
    private func regionFallback(_ resolved: Resolved, model: Int32, from region: String) -> String? {
        let id = policy.regions.id(region)
        guard id >= 0 else { return nil }
        for target in policy.regionFallbacks[Int(id)] {
            let name = policy.regions.names[Int(target)]
            if regionUsable(resolved, model: model, region: name) { return name }
        }
        return nil
    }

    /// Allowed globally, for the environment and the team; served by the model; not unavailable.
    private func regionUsable(_ resolved: Resolved, model: Int32, region: String) -> Bool {
        let id = policy.regions.id(region)
        guard policy.allowsGlobally(id) else { return false }
        if resolved.environment >= 0, !policy.environments[Int(resolved.environment)].allows(region: id) { return false }
        if resolved.team >= 0, !policy.teams[Int(resolved.team)].allows(region: id) { return false }
        if model >= 0, !policy.models[Int(model)].serves(id) { return false }
        return resolved.request.unavailableRegions.isEmpty || !resolved.request.unavailableRegions.contains(region)
    }

    /// For a request without a region: the first usable region in the most
    /// specific ordering the policy gives (team, environment, global, model).
    /// Returns nil (and false) when nothing constrains regions.
    private func pickRegion(_ resolved: Resolved, model: Int32, excluding: String?) -> (String?, Bool) {
        let order: [Int32]
        if resolved.team >= 0, let teamOrder = policy.teams[Int(resolved.team)].regionOrder {
            order = teamOrder
        } else if resolved.environment >= 0, let environmentOrder = policy.environments[Int(resolved.environment)].regionOrder {
            order = environmentOrder
        } else if let allowedOrder = policy.allowedRegionOrder {
            order = allowedOrder
        } else if model >= 0, let modelOrder = policy.models[Int(model)].regionOrder {
            order = modelOrder
        } else {
            return (nil, false)
        }
        for id in order {
            let name = policy.regions.names[Int(id)]
            if name != excluding, regionUsable(resolved, model: model, region: name) { return (name, false) }
        }
        return (nil, true)
    }

    // MARK: Assessment

    package func conditionInput(_ resolved: Resolved, _ candidate: Candidate, cost: USD?) -> ConditionInput {
        let model = candidate.model >= 0 ? policy.models[Int(candidate.model)] : nil
        return ConditionInput(
            resolved: resolved, model: candidate.model, provider: model?.provider ?? -1, tier: model?.tier ?? -1,
            modelName: candidate.modelName, providerName: model?.providerName, region: candidate.region, cost: cost?.nanos)
    }

    /// Every violation except budget caps (which need counter states), and the counters to check.
    ///
    /// With `untilDenied`, a candidate that a check before the budgets denies (an unknown
    /// name, access, region, max request cost) is returned at once, without its counters and
    /// rules: for a reroute option that is out anyway, only `denied` is read.
    package func assess(_ resolved: Resolved, _ candidate: Candidate, untilDenied: Bool = false) -> Assessment {
        let modelIndex = candidate.model
        let model = modelIndex >= 0 ? policy.models[Int(modelIndex)] : nil
        let cost: USD? = resolved.request.cost ?? model?.rates?.cost(resolved.request.usage)
        var assessment = Assessment(candidate: candidate, cost: cost)
        let input = conditionInput(resolved, candidate, cost: cost)
        let settings = policy.flags
        let team = resolved.team >= 0 ? policy.teams[Int(resolved.team)] : nil
        let environment = resolved.environment >= 0 ? policy.environments[Int(resolved.environment)] : nil

        func add(_ check: BuiltinCheck, _ effect: ViolationEffect, _ message: String, _ source: SourceLocation?) {
            assessment.violations.append(finish(
                Violation(rule: check.rawValue, kind: check.kind, effect: effect, severity: check.severity,
                          message: message, source: source, waivedBy: nil), waivers: policy.checkWaivers[check.ordinal], input, resolved))
        }

        // Unknown names.
        if team == nil {
            let message = resolved.request.team.map { "team \"\($0)\" is not defined in the policy" } ?? "the request names no team"
            add(.unknownTeam, settings.unknownTeam == .deny ? .deny : .warn, message, nil)
        }
        if environment == nil {
            let message = resolved.request.environment.map { "environment \"\($0)\" is not defined in the policy" } ?? "the request names no environment"
            add(.unknownEnvironment, settings.unknownEnvironment == .deny ? .deny : .warn, message, nil)
        }
        if model == nil {
            add(.unknownModel, settings.unknownModel == .deny ? .deny : .warn,
                "model \"\(candidate.modelName)\" is not in the catalog (not a model name or alias)", nil)
        }

        // Access.
        if let team, let environment, !team.allows(environment: resolved.environment) {
            add(.teamEnvironment, .deny, "team \(team.name) may not run in \(environment.name)", team.location)
        }
        if let model, let environment, !environment.approved.contains(modelIndex) {
            add(.environmentModel, .deny, "\(model.name) (\(policy.tiers[Int(model.tier)])) is not approved in \(environment.name)", environment.location)
        }
        if let model, let team, !team.allows(model: modelIndex) {
            add(.teamModel, .deny, "\(model.name) is not on the model list of team \(team.name)", team.location)
        }

        // Regions.
        if candidate.noRegion {
            add(.regionNotAllowed, .deny, "no allowed region serves \(candidate.modelName) for this request", team?.location ?? environment?.location ?? policy.allowedRegionsLocation)
        } else if let region = candidate.region {
            let id = candidate.regionID
            let global = policy.allowsGlobally(id)
            let byEnvironment = environment?.allows(region: id) ?? true
            let byTeam = team?.allows(region: id) ?? true
            if !(global && byEnvironment && byTeam) {
                var scopes: [String] = []
                var source: SourceLocation?
                if !global {
                    scopes.append("by regions.allowed")
                    source = policy.allowedRegionsLocation
                }
                if let environment, !byEnvironment {
                    scopes.append("in environment \(environment.name)")
                    source = source ?? environment.location
                }
                if let team, !byTeam {
                    scopes.append("for team \(team.name)")
                    source = source ?? team.location
                }
                add(.regionNotAllowed, .deny, "region \(region) is not allowed " + scopes.joined(separator: ", "), source)
            }
            if let model, !model.serves(id) {
                add(.modelRegion, .deny, "\(model.name) is not served in \(region)", model.location)
            }
            if resolved.request.unavailableRegions.contains(region) {
                add(.regionUnavailable, .deny, "region \(region) is unavailable (listed in unavailable_regions)", nil)
            }
        }

        // Cost. A priced model whose cost came out nil was past USD's range (only usage built in
        // code can get there: the decoders cap token counts, `check` caps prices): it is over
        // every cap, so it is denied whatever the settings say of unpriced models.
        if resolved.request.usage.hasNegativeCount {
            add(.unpricedModel, .deny, "the request's token counts must not be negative", nil)
        } else if let given = resolved.request.cost, given.nanos < 0 {
            add(.unpricedModel, .deny, "the request's cost must not be negative, found \(given) USD", nil)
        } else if cost == nil, resolved.request.cost == nil, let model, model.rates != nil {
            add(.unpricedModel, .deny, "the cost of this usage at \(model.name)'s price is out of range (more than \(USD.max) USD)", model.location)
        }
        if let team, let cost, cost.nanos > team.maxRequestCostNanos, !resolved.request.isAggregate, let max = team.maxRequestCost {
            add(.maxRequestCost, .deny, "estimated cost \(cost) USD is above the max_request_cost of team \(team.name) (\(max.value) USD)", max.location)
        }
        if untilDenied, assessment.denied { return assessment }

        // Budgets: which counters the request counts against.
        var needsPrice = false
        let amount = Amount(usd: cost?.nanos ?? 0, tokens: resolved.request.usage.totalTokens, requests: 1)
        assessment.counters.reserveCapacity(policy.budgetIndex.maximum)
        for bucket in 0..<4 {
            for position in policy.budgetIndex.bucket(bucket, team: resolved.team, model: modelIndex, environment: resolved.environment) {
                let index = Int(policy.budgetIndex.items[position])
                let head = policy.budgetHeads[index]
                if head.team != BudgetHead.anyTeam, head.team != resolved.team { continue }
                if head.when >= 0, !policy.conditions.matches(head.when, input) { continue }
                let enforced = head.deny && waiver(head.waivers, input, resolved) == nil
                guard let usd = appendCounter(policy.budgets[index], resolved, candidate, model, amount: amount, enforced: enforced,
                                              to: &assessment.counters) else { continue }
                if usd { needsPrice = true }
            }
        }
        // An unknown model that is already denied needs no second, pricing violation.
        if needsPrice && cost == nil && model?.rates == nil && (model != nil || settings.unknownModel == .warn) {
            let effect: ViolationEffect = settings.unpricedModel == .deny ? .deny : .warn
            add(.unpricedModel, effect, "\(candidate.modelName) has no price and the request gives no cost, so its USD budgets cannot count it", model?.location)
        }

        // Rules, reported in definition order.
        let firstRule = assessment.violations.count
        var ruleOrder: [Int32] = []
        func test(_ index: Int32) {
            let head = policy.ruleHeads[Int(index)]
            if head.when >= 0, !policy.conditions.matches(head.when, input) { return }
            if head.unless >= 0, policy.conditions.matches(head.unless, input) { return }
            let rule = policy.rules[Int(index)]
            assessment.violations.append(finish(
                Violation(rule: rule.id, kind: .rule, effect: rule.effect, severity: rule.severity,
                          message: rule.message, source: rule.location, waivedBy: nil), waivers: head.waivers, input, resolved))
            ruleOrder.append(index)
        }
        for bucket in 0..<4 {
            guard let slot = policy.ruleIndex.slot(bucket, team: resolved.team, model: modelIndex, environment: resolved.environment) else { continue }
            for position in policy.ruleIndex.items(slot) {
                test(policy.ruleIndex.items[position])
            }
            // Rules needing a number at least some bound: only those whose bound the request reaches.
            for group in policy.ruleIndex.groups(slot) {
                let guardGroup = policy.ruleIndex.groups[group]
                guard let attribute = CompiledCondition.NumberAttribute(rawValue: guardGroup.attribute),
                      let value = input.number(attribute) else { continue }
                for position in guardGroup.range {
                    let (low, index) = policy.ruleIndex.guarded[position]
                    if low > value { break }
                    test(index)
                }
            }
        }
        if ruleOrder.count > 1 {
            let sorted = zip(ruleOrder, assessment.violations[firstRule...]).sorted { $0.0 < $1.0 }.map(\.1)
            assessment.violations.replaceSubrange(firstRule..., with: sorted)
        }
        return assessment
    }

    /// Appends the counter of a budget that applies to the request (built in place: a
    /// reservation is too large to return cheaply); nil when its scope key is missing a
    /// part, else whether the counter has a USD cap.
    @inline(__always)
    package func appendCounter(_ budget: CompiledBudget, _ resolved: Resolved, _ candidate: Candidate, _ model: CompiledModel?,
                       amount: Amount, enforced: Bool, hashes: ScopeKeyHashes? = nil, to counters: inout [CounterReservation]) -> Bool?
    {
        guard let (key, keyHash) = scopeKey(budget.scope, resolved, candidate, model, hashes: hashes) else { return nil }
        let limits = budget.limits(forKey: key)
        counters.append(CounterReservation(
            counter: CounterKey(budget: budget.id, budgetHash: budget.idHash, key: key, keyHash: keyHash, period: budget.period,
                                window: resolved.window(budget.period)),
            amount: amount, limits: limits, enforced: enforced, alerts: budget.alerts))
        return limits.usd != nil
    }

    /// `org`, `payments`, `payments/qa`… and its hash; nil when a part is missing (no user, no such tag).
    package func scopeKey(_ scope: [ScopePart], _ resolved: Resolved, _ candidate: Candidate, _ model: CompiledModel?,
                  hashes: ScopeKeyHashes?) -> (String, Int)? {
        @inline(__always) func hash(_ name: String) -> Int { hashes?.hashValue(of: name) ?? name.hashValue }
        if scope.count == 1 {
            if let simple = SimpleScope(scope[0]) { return simpleKey(simple, resolved, candidate, model, hashes: hashes) }
            if case .tag(let key) = scope[0] {
                guard let value = resolved.request.tags[key] else { return nil }
                return (value, hash(value))
            }
        }
        func part(_ part: ScopePart) -> String? {
            switch part {
            case .org: return "org"
            case .team: return resolved.request.team
            case .environment: return resolved.request.environment
            case .user: return resolved.request.user
            case .model: return candidate.modelName
            case .provider: return model?.providerName
            case .tag(let key): return resolved.request.tags[key]
            }
        }
        var key = ""
        for (offset, item) in scope.enumerated() {
            guard let value = part(item) else { return nil }
            if offset > 0 { key += "/" }
            key += value
        }
        return (key, hash(key))
    }

    /// The key and hash of a one-part scope other than a tag (`model` is needed for `provider` only).
    @inline(__always)
    package func simpleKey(_ scope: SimpleScope, _ resolved: Resolved, _ candidate: @autoclosure () -> Candidate, _ model: CompiledModel?,
                   hashes: ScopeKeyHashes?) -> (String, Int)? {
        switch scope {
        case .org: return ("org", Evaluator.orgHash)
        case .team:
            guard let name = resolved.request.team else { return nil }
            return (name, resolved.team >= 0 ? policy.teamHashes[Int(resolved.team)] : name.hashValue)
        case .environment:
            guard let name = resolved.request.environment else { return nil }
            return (name, resolved.environment >= 0 ? policy.environmentHashes[Int(resolved.environment)] : name.hashValue)
        case .model:
            let candidate = candidate()
            return (candidate.modelName, candidate.model >= 0 ? policy.modelHashes[Int(candidate.model)] : candidate.modelName.hashValue)
        case .provider:
            guard let model else { return nil }
            return (model.providerName, policy.providerHashes[Int(model.provider)])
        case .user:
            guard let user = resolved.request.user else { return nil }
            return (user, hashes?.hashValue(of: user) ?? user.hashValue)
        case .other:
            return nil
        }
    }

    private static let orgHash = "org".hashValue

    /// The first unexpired exception among `waivers` whose condition holds for this request.
    package func waiver(_ waivers: Waivers, _ input: ConditionInput, _ resolved: Resolved) -> CompiledException? {
        for position in waivers {
            let index = Int(policy.waiverItems[Int(position)])
            let head = policy.exceptionHeads[index]
            guard resolved.timestamp < head.expiresAt else { continue }
            if head.when >= 0, !policy.conditions.matches(head.when, input) { continue }
            return policy.exceptions[index]
        }
        return nil
    }

    /// Applies exceptions (step 3) to a new violation: `waivers` are the exceptions naming its id.
    package func finish(_ violation: Violation, waivers: Waivers, _ input: ConditionInput, _ resolved: Resolved) -> Violation {
        guard !waivers.isEmpty, let exception = waiver(waivers, input, resolved) else { return violation }
        var waived = violation
        waived.effect = .waived
        waived.waivedBy = exception.id
        return waived
    }

    /// Adds a budget violation for each counter over its caps (states in counter order).
    package func applyBudgets(_ assessment: inout Assessment, states: [CounterState], _ resolved: Resolved) {
        let input = conditionInput(resolved, assessment.candidate, cost: assessment.cost)
        for (offset, entry) in assessment.counters.enumerated() where !entry.admits(states[offset]) {
            if let violation = budgetViolation(entry, states[offset], input, resolved) { assessment.violations.append(violation) }
        }
    }

    /// Whether a budget would deny the assessment's request, its counters standing at `spent`
    /// (the counter's settled spend, by offset): `applyBudgets` would add a deny, found without
    /// building the violations' messages.
    package func budgetsDeny(_ assessment: Assessment, spent: (Int) -> Amount, _ resolved: Resolved) -> Bool {
        var input: ConditionInput?
        for (offset, entry) in assessment.counters.enumerated() where !entry.admits(CounterState(spent: spent(offset))) {
            guard let index = policy.budgetLookup[entry.counter.budget], policy.budgets[Int(index)].onExceed == .deny else { continue }
            let waivers = policy.budgetHeads[Int(index)].waivers
            if waivers.isEmpty { return true }
            let made = input ?? conditionInput(resolved, assessment.candidate, cost: assessment.cost)
            input = made
            if waiver(waivers, made, resolved) == nil { return true }
        }
        return false
    }

    /// The violation of a counter that the request takes over its caps (the caller checked `admits`).
    package func budgetViolation(_ entry: CounterReservation, _ state: CounterState, _ input: ConditionInput, _ resolved: Resolved) -> Violation? {
        budgetViolation(entry, state, input, resolved, message: true)
    }

    /// `budgetViolation`, with an empty message unless `message`: for a caller that only counts the
    /// violation (an audit whose report lists only its first violations), the message is most of its cost.
    package func budgetViolation(_ entry: CounterReservation, _ state: CounterState, _ input: @autoclosure () -> ConditionInput,
                                 _ resolved: Resolved, message: Bool) -> Violation? {
        guard let index = policy.budgetLookup[entry.counter.budget] else { return nil }
        let budget = policy.budgets[Int(index)]
        let effect: ViolationEffect = budget.onExceed == .deny ? .deny : .warn
        let violation = Violation(rule: budget.id, kind: .budget, effect: effect, severity: effect == .deny ? .high : .medium,
                                  message: message ? budgetMessage(entry, state) : "", source: budget.location, waivedBy: nil)
        let waivers = policy.budgetHeads[Int(index)].waivers
        guard !waivers.isEmpty else { return violation }
        return finish(violation, waivers: waivers, input(), resolved)
    }

    private func budgetMessage(_ entry: CounterReservation, _ state: CounterState) -> String {
        // Exact, in 128 bits: a saturated counter still reads as what it would reach.
        func used(_ spent: Int64, _ reserved: Int64, _ amount: Int64) -> Int128 { Int128(spent) + Int128(reserved) + Int128(amount) }
        let usedUSD = used(state.spent.usd, state.reserved.usd, entry.amount.usd)
        let usedTokens = used(state.spent.tokens, state.reserved.tokens, entry.amount.tokens)
        let usedRequests = used(state.spent.requests, state.reserved.requests, entry.amount.requests)
        // Appended in place to one string (an audit in which most records go over a budget writes
        // this message for each of them).
        let counter = entry.counter
        var text = "budget "
        text.reserveCapacity(48 + counter.budget.utf8.count + counter.key.utf8.count)
        text += counter.budget
        text += " for "
        text += counter.key
        text += " in "
        text += counter.windowLabel
        text += " would reach "
        var first = true
        func part(_ used: String, _ limit: String, _ unit: String) {
            if !first { text += " and " }
            first = false
            text += used
            text += " of "
            text += limit
            text += unit
        }
        if let usd = entry.limits.usd, usedUSD > Int128(usd.nanos) { part(USDTotal(nanos: usedUSD).description, usd.description, " USD") }
        if let tokens = entry.limits.tokens, usedTokens > Int128(tokens) { part(String(usedTokens), String(tokens), " tokens") }
        if let requests = entry.limits.requests, usedRequests > Int128(requests) { part(String(usedRequests), String(requests), " requests") }
        return text
    }

    /// The violations a rerouted decision reports: the original's denials as `rerouted`,
    /// then what the chosen candidate found that the original did not.
    package func reroutedViolations(original: Assessment, chosen: Assessment) -> [Violation] {
        var result = original.violations.map { violation -> Violation in
            guard violation.effect == .deny else { return violation }
            var rerouted = violation
            rerouted.effect = .rerouted
            return rerouted
        }
        for violation in chosen.violations where !result.contains(where: { $0.rule == violation.rule && $0.message == violation.message }) {
            result.append(violation)
        }
        return result
    }

    package init(policy: CompiledPolicy) {
        self.policy = policy
    }
}
