import Purser
/// Generates realistic usage records for a policy: its teams, environments,
/// models, regions and budgets, a working-day traffic curve in its time
/// zone, heavy-tailed token counts priced exactly at the policy's prices,
/// and a share of records that break the policy in every way it can be broken.
public struct UsageGenerator: Sendable {
    /// What to generate.
    public struct Options: Sendable {
        /// Records to generate.
        public var records = 10_000
        /// The seed.
        public var seed: UInt64 = 2026
        /// The first instant (inclusive).
        public var start = Timestamp(seconds: 1_793_509_200)  // 2026-11-01T04:00:00Z (midnight in New York)
        /// Days covered.
        public var days = 30
        /// The share of records made to break the policy, in percent.
        public var violationPercent = 6
        /// Whether to add incidents: bursts that run budgets over their caps (a frontier
        /// runaway, a QA burst, a dev agent loop, a campaign over a team's daily cap).
        public var incidents = true

        /// The defaults: 10,000 records over November 2026, 6% violating.
        public init() {}
    }

    /// The policy the records are for.
    public let policy: PolicySet
    /// What to generate.
    public let options: Options

    /// Creates a generator.
    public init(policy: PolicySet, options: Options = Options()) {
        self.policy = policy
        self.options = options
    }

    private struct TeamProfile {
        package let name: String
        package let weight: Int
        package let environments: [String]
        package let models: [String]
        package let regions: [String]
        package let users: [String]
        package let features: [String]
    }

    /// The records, in time order, each with a `usage` and its exact `cost`.
    public func records() -> [Request] {
        var result: [Request] = []
        result.reserveCapacity(options.records)
        forEachRecord { result.append($0) }
        return result
    }

    /// Calls `body` with every record in time order, generating one day at a time
    /// (so ten million records never sit in memory).
    public func forEachRecord(_ body: (Request) -> Void) {
        var random = SeededRandom(seed: options.seed)
        let profiles = teamProfiles()
        guard !profiles.isEmpty, options.days > 0 else { return }
        let totalWeight = profiles.reduce(0) { $0 + $1.weight }
        let zone = ZoneRules(identifier: policy.settings.timezoneIdentifier) ?? ZoneRules.utc
        // Weekdays carry more traffic than weekends.
        let dayWeights = (0..<options.days).map { day -> Double in
            let local = zone.local(options.start.seconds + Int64(day) * 86_400)
            let weekday = ((CalendarWindow.floorDiv(local, 86_400) + 3) % 7 + 7) % 7
            return weekday >= 5 ? 0.3 : 1.0
        }
        let weightSum = dayWeights.reduce(0, +)
        var emitted = 0
        var index = 0
        for day in 0..<options.days {
            let remainingDays = options.days - day
            let share = day == options.days - 1 ? options.records - emitted : Int((Double(options.records) * dayWeights[day] / weightSum).rounded())
            let count = min(max(0, share), options.records - emitted - 0 * remainingDays)
            // Times within the day: busy 9:00–18:00 local, quieter mornings and evenings, little at night.
            var times: [Int64] = []
            times.reserveCapacity(count)
            let dayStart = options.start.seconds + Int64(day) * 86_400
            // Times are milliseconds, so that sorting orders them exactly as they are written.
            while times.count < count {
                let second = dayStart + Int64(random.unit() * 86_400)
                let local = zone.local(second)
                let hour = (local % 86_400 + 86_400) % 86_400 / 3600
                let weight = hour >= 9 && hour < 18 ? 1.0 : hour >= 7 && hour < 21 ? 0.45 : 0.12
                if random.unit() < weight { times.append(second * 1000 + Int64(random.next() % 1000)) }
            }
            // Incidents land on fixed days of the span, in a two-hour window.
            var incidentAt: [Int64: Incident] = [:]
            if options.incidents {
                for incident in incidents where incident.day == day {
                    let begin = dayStart + 14 * 3600
                    for call in 0..<incident.calls {
                        var millisecond = begin * 1000 + Int64(call) * 7_200_000 / Int64(max(1, incident.calls))
                        while incidentAt[millisecond] != nil { millisecond += 1 }
                        times.append(millisecond)
                        incidentAt[millisecond] = incident
                    }
                }
            }
            times.sort()
            for millisecond in times {
                let second = CalendarWindow.floorDiv(millisecond, 1000)
                if let incident = incidentAt[millisecond] {
                    index += 1
                    var request = incident.request
                    request.id = "req-" + pad(index, width: 8)
                    request.timestamp = Timestamp(nanoseconds: millisecond * 1_000_000)
                    request.user = incident.request.user
                    price(&request)
                    body(request)
                    continue
                }
                var pick = Int(random.next() % UInt64(totalWeight))
                var profile = profiles[0]
                for candidate in profiles {
                    if pick < candidate.weight {
                        profile = candidate
                        break
                    }
                    pick -= candidate.weight
                }
                var request = ordinary(profile, &random)
                index += 1
                request.id = "req-" + pad(index, width: 8)
                request.timestamp = Timestamp(nanoseconds: millisecond * 1_000_000)
                // Nightly batch jobs: some of them on frontier models, which a rule forbids at night.
                let hour = (zone.local(second) % 86_400 + 86_400) % 86_400 / 3600
                if hour < 6, random.unit() < 0.3 {
                    request.tags["workload"] = "batch"
                    if random.unit() < 0.5, let model = policy.models.last(where: { $0.tier.value == policy.settings.tiers.last?.value }) {
                        request.model = model.name
                    }
                }
                if Int(random.next() % 100) < options.violationPercent { breakPolicy(&request, profiles, &random) }
                price(&request)
                body(request)
            }
            emitted += count
        }
    }

    /// A burst of identical calls on one day.
    private struct Incident {
        package let day: Int
        package let calls: Int
        package let request: Request
    }

    /// Incidents derived from the policy: each takes a team over one of its caps.
    private var incidents: [Incident] {
        let days = options.days
        guard days >= 4 else { return [] }
        var result: [Incident] = []
        let dayCaps = policy.budgets.compactMap { budget -> (String, USD)? in
            guard let team = budget.team, budget.period == .day, let limit = budget.limits.usd else { return nil }
            return (team, limit)
        }
        func approved(_ team: TeamDefinition, _ environment: String, tier: String?) -> ModelDefinition? {
            guard let definition = policy.environment(named: environment) else { return nil }
            let models = policy.models.filter { model in
                (tier == nil || model.tier.value == tier)
                    && (team.models?.contains { EnvironmentApproval.matches($0.value, model) } ?? true)
                    && EnvironmentApproval.approves(definition, model: model, settings: policy.settings) && model.price != nil
            }
            return models.max { ($0.price?.output ?? .zero) < ($1.price?.output ?? .zero) }
        }
        func burst(_ team: TeamDefinition, _ environment: String, _ model: ModelDefinition, usage: Usage, spend: USD, day: Int,
                   tags: [String: String], user: String? = nil)
        {
            guard let price = model.price, let each = usage.cost(at: price), each.nanos > 0 else { return }
            let calls = min(3000, Int((spend.nanos + each.nanos - 1) / each.nanos))
            let region = team.regions?.first?.value ?? model.regions?.first?.value
            result.append(Incident(day: day, calls: calls, request: Request(
                team: team.name, environment: environment, model: model.name, region: region, user: user,
                tags: Tags(tags), usage: usage)))
        }
        // 1. A frontier runaway in production: the unrestricted team with the largest daily cap goes 10% over it.
        let production = { (name: String) in
            policy.team(named: name).map { team in team.models == nil && (team.environments?.contains { $0.value == "production" } ?? true) } ?? false
        }
        if let (name, cap) = dayCaps.filter({ production($0.0) }).max(by: { $0.1 < $1.1 }),
           let team = policy.team(named: name), let model = approved(team, "production", tier: policy.settings.tiers.last?.value)
        {
            burst(team, "production", model, usage: Usage(inputTokens: 900_000, outputTokens: 60_000),
                  spend: USD(nanos: cap.nanos / 10 * 11), day: days / 6, tags: ["feature": "\(name)-reindex", "ticket": "INC-4411"])
        }
        // 2. A QA burst: a team with a hard QA cap runs its load test on a standard model.
        if let qaCap = policy.budgets.first(where: { $0.scope == [.team, .environment] && $0.onExceed == .deny }), let limit = qaCap.limits.usd,
           let team = policy.teams.first(where: { $0.environments?.contains { $0.value == "qa" } ?? true }),
           let model = approved(team, "qa", tier: "standard")
        {
            burst(team, "qa", model, usage: Usage(inputTokens: 250_000, outputTokens: 20_000),
                  spend: USD(nanos: limit.nanos / 4 * 5), day: days * 2 / 5, tags: ["feature": "\(team.name)-load-test"])
        }
        // 3. A dev agent loop on a small model, over a soft dev cap (warnings and alerts).
        if let devCap = policy.budgets.first(where: { $0.onExceed == .warn && $0.when != nil && $0.scope.contains(.environment) }), let limit = devCap.limits.usd,
           let team = policy.teams.first(where: { ($0.environments?.contains { $0.value == "dev" } ?? true) && $0.models == nil }),
           let model = approved(team, "dev", tier: policy.settings.tiers.first?.value)
        {
            burst(team, "dev", model, usage: Usage(inputTokens: 90_000, outputTokens: 12_000),
                  spend: USD(nanos: limit.nanos / 2 * 3), day: days * 3 / 5, tags: ["feature": "\(team.name)-agent", "ticket": "DEV-77"],
                  user: "\(team.name)-dev1")
        }
        // 4. A campaign: the team with the smallest daily cap goes 10% over it on its cheapest production model.
        if let (name, cap) = dayCaps.min(by: { $0.1 < $1.1 }), let team = policy.team(named: name),
           let model = approved(team, "production", tier: nil)
        {
            burst(team, "production", model, usage: Usage(inputTokens: 120_000, outputTokens: 8_000),
                  spend: USD(nanos: cap.nanos / 10 * 11), day: days * 4 / 5, tags: ["feature": "\(name)-campaign"])
        }
        return result
    }

    private func teamProfiles() -> [TeamProfile] {
        let environments = policy.environments.map(\.name)
        return policy.teams.enumerated().map { index, team in
            let allowed = team.environments?.map(\.value) ?? environments
            let models = policy.models.filter { model in
                (team.models?.contains { EnvironmentApproval.matches($0.value, model) } ?? true)
                    && policy.environments.contains { EnvironmentApproval.approves($0, model: model, settings: policy.settings) }
            }.map(\.name)
            let regions = team.regions?.map(\.value) ?? policy.regions.allowed?.map(\.value) ?? ["us-east-1"]
            let users = (1...4).map { "\(team.name)-dev\($0)" } + ["svc-\(team.name)"]
            return TeamProfile(
                name: team.name, weight: [9, 7, 6, 4, 5, 3, 2, 2][index % 8], environments: allowed,
                models: models.isEmpty ? policy.models.map(\.name) : models, regions: regions, users: users,
                features: ["\(team.name)-assistant", "\(team.name)-summaries", "\(team.name)-search"])
        }
    }

    /// A request that follows the policy (mostly: budgets may still run out).
    private func ordinary(_ profile: TeamProfile, _ random: inout SeededRandom) -> Request {
        let environment = weightedEnvironment(profile.environments, &random)
        let approved = profile.models.filter { name in
            guard let model = policy.model(named: name), let definition = policy.environment(named: environment) else { return false }
            return EnvironmentApproval.approves(definition, model: model, settings: policy.settings)
        }
        let models = approved.isEmpty ? profile.models : approved
        // Cheaper models are used more.
        let ranked = models.sorted { tierRank($0) < tierRank($1) }
        let model = ranked[min(ranked.count - 1, Int(Double(ranked.count) * random.unit() * random.unit()))]
        let served = policy.model(named: model)?.regions?.map(\.value)
        var regions = profile.regions.filter { served?.contains($0) ?? true }
        if let allowed = policy.environment(named: environment)?.regions?.map(\.value) { regions = regions.filter(allowed.contains) }
        let region = regions.isEmpty ? nil : regions[Int(random.next() % UInt64(regions.count))]
        var tags: [String: String] = [:]
        if random.unit() < 0.7 { tags["feature"] = profile.features[Int(random.next() % UInt64(profile.features.count))] }
        if random.unit() < 0.1 { tags["workload"] = "batch" }
        let input = Int64(heavyTail(&random, median: 1_800, maximum: 60_000))
        let output = Int64(heavyTail(&random, median: 350, maximum: 6_000))
        let cached = random.unit() < 0.3 ? Int64(Double(input) * random.unit() * 0.8) : 0
        return Request(
            team: profile.name, environment: environment, model: model, region: region,
            user: profile.users[Int(random.next() % UInt64(profile.users.count))], tags: Tags(tags),
            usage: Usage(inputTokens: input - cached, cachedInputTokens: cached, outputTokens: output))
    }

    private func weightedEnvironment(_ environments: [String], _ random: inout SeededRandom) -> String {
        let weights = environments.map { name -> Int in
            switch name {
            case "production": return 60
            case "staging": return 15
            case "qa": return 15
            case "dev": return 10
            default: return 10
            }
        }
        var pick = Int(random.next() % UInt64(weights.reduce(0, +)))
        for (name, weight) in zip(environments, weights) {
            if pick < weight { return name }
            pick -= weight
        }
        return environments[0]
    }

    private func tierRank(_ model: String) -> Int {
        guard let tier = policy.model(named: model)?.tier.value else { return 0 }
        return policy.settings.tiers.firstIndex { $0.value == tier } ?? 0
    }

    /// Log-normal-like counts: most near the median, a long tail up to the maximum.
    private func heavyTail(_ random: inout SeededRandom, median: Double, maximum: Double) -> Double {
        let u = max(random.unit(), 1e-9)
        let value = median * pow2(3.0 * (u - 0.5) + (random.unit() < 0.02 ? 3 : 0))
        return min(maximum, max(1, value.rounded()))
    }

    private func pow2(_ exponent: Double) -> Double {
        var result = 1.0
        var remaining = exponent
        while remaining >= 1 { result *= 2; remaining -= 1 }
        while remaining <= -1 { result /= 2; remaining += 1 }
        return result * (1 + remaining * 0.6931471805599453 + remaining * remaining * 0.2402265069591007)
    }

    /// Turns an ordinary request into one that breaks the policy in one of many ways.
    private func breakPolicy(_ request: inout Request, _ profiles: [TeamProfile], _ random: inout SeededRandom) {
        let frontier = policy.models.filter { $0.tier.value == policy.settings.tiers.last?.value }.map(\.name)
        let restrictedTeams = policy.teams.filter { $0.environments != nil }
        let listedTeams = policy.teams.filter { $0.models != nil }
        let residentTeams = policy.teams.filter { $0.regions != nil }
        switch random.next() % 14 {
        case 0, 1:  // a frontier model in QA (environment-model; rerouted by a gateway)
            request.environment = "qa"
            if let model = frontier.randomElement(using: &random) { request.model = model }
        case 2:  // a team outside its environments (team-environment)
            if let team = restrictedTeams.randomElement(using: &random), let outside = policy.environments.map(\.name).first(where: { name in !(team.environments?.contains { $0.value == name } ?? true) }) {
                request.team = team.name
                request.environment = outside
            }
        case 3:  // a model off the team's list (team-model)
            if let team = listedTeams.randomElement(using: &random), let model = policy.models.first(where: { model in !(team.models?.contains { EnvironmentApproval.matches($0.value, model) } ?? true) }) {
                request.team = team.name
                request.model = model.name
            }
        case 4:  // residency broken (region-not-allowed)
            if let team = residentTeams.randomElement(using: &random), let region = policy.regions.allowed?.first(where: { name in !(team.regions?.contains { $0.value == name.value } ?? true) })?.value {
                request.team = team.name
                request.region = region
            }
        case 5:  // a region that does not serve the model (model-region)
            if let model = policy.models.first(where: { $0.regions != nil && ($0.regions?.count ?? 0) < (policy.regions.allowed?.count ?? 0) }),
               let region = policy.regions.allowed?.first(where: { name in !(model.regions?.contains { $0.value == name.value } ?? true) })?.value
            {
                request.model = model.name
                request.region = region
                request.environment = "production"
                request.team = policy.teams.first { $0.models == nil && $0.regions == nil && $0.environments?.contains { $0.value == "production" } ?? true }?.name ?? request.team
            }
        case 6:  // a huge prompt (max-request-cost, dev-prompt-size)
            request.usage.inputTokens = Int64(400_000 + random.next() % 600_000)
            if random.unit() < 0.5 { request.environment = "dev" }
        case 7:  // a batch job on a frontier model (a rule breaks it when it runs at night)
            request.tags["workload"] = "batch"
            if let model = frontier.randomElement(using: &random) { request.model = model }
        case 8:  // customer data outside production (rule)
            request.environment = ["qa", "dev"].randomElement(using: &random) ?? "qa"
            request.tags["data_class"] = "pii"
        case 9:  // a huge output in staging (warn rule)
            request.environment = "staging"
            request.usage.outputTokens = Int64(33_000 + random.next() % 20_000)
        case 10:  // a model the catalog does not know (unknown-model)
            request.model = ["gpt-6-preview", "llama-4-70b", "mistral-large-2"].randomElement(using: &random) ?? "gpt-6-preview"
            request.cost = USD(nanos: Int64(random.next() % 50_000_000))
        case 11:  // a team the policy does not know (unknown-team)
            request.team = ["marketing", "legal-ops", "intern-hackathon"].randomElement(using: &random) ?? "marketing"
        default:  // a runaway loop: a burst of big, expensive requests (budgets, alerts)
            request.usage.inputTokens = Int64(150_000 + random.next() % 100_000)
            request.usage.outputTokens = Int64(8_000 + random.next() % 8_000)
            if let model = frontier.randomElement(using: &random), request.environment == "production" { request.model = model }
        }
    }

    /// Sets the exact cost from the policy's price (unknown models keep the cost they were given).
    private func price(_ request: inout Request) {
        guard request.cost == nil, let price = policy.model(named: request.model)?.price else { return }
        request.cost = request.usage.cost(at: price)
    }
}
