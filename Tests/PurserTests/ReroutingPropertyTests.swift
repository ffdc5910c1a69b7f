import Testing
import Purser
import PurserTestSupport

/// Property: rerouting never lands on a model or region the policy forbids
/// for that request, over generated policies and requests.
@Suite("Rerouting property")
struct ReroutingPropertyTests {
    static let regions = ["us-east-1", "us-west-2", "eu-central-1", "eu-west-1", "ap-south-1"]
    static let tiers = ["small", "standard", "frontier"]

    static func pick<T>(_ items: [T], _ generator: inout SeededRandom) -> T {
        items[Int.random(in: 0..<items.count, using: &generator)]
    }

    static func subset(_ items: [String], _ generator: inout SeededRandom, minimum: Int = 1) -> [String] {
        let chosen = items.filter { _ in Bool.random(using: &generator) }
        return chosen.count >= minimum ? chosen : Array(items.prefix(minimum))
    }

    static func list(_ names: [String]) -> String { "[" + names.joined(separator: ", ") + "]" }

    /// A random valid policy (fallbacks point to earlier models, so they never loop).
    static func policy(_ generator: inout SeededRandom) -> String {
        // Regions named by environments, teams and fallbacks must be in regions.allowed when it is set.
        let allowed: [String]? = Bool.random(using: &generator) ? subset(regions, &generator, minimum: 2) : nil
        let usable = allowed ?? regions
        let modelCount = Int.random(in: 3...8, using: &generator)
        let models = (0..<modelCount).map { "m\($0)" }
        var yaml = "version: 1\nmodels:\n"
        for (index, model) in models.enumerated() {
            yaml += "  \(model):\n    provider: p\(index % 2)\n    tier: \(pick(tiers, &generator))\n    price: {input: \(index + 1), output: \(index + 2)}\n"
            if Bool.random(using: &generator) { yaml += "    regions: \(list(subset(regions, &generator)))\n" }
            if index > 0, Bool.random(using: &generator) {
                yaml += "    fallbacks: \(list(subset(Array(models[0..<index]), &generator)))\n"
            }
        }
        yaml += "environments:\n"
        for environment in ["e0", "e1", "e2"] {
            yaml += "  \(environment):\n"
            switch Int.random(in: 0..<4, using: &generator) {
            case 0: yaml += "    tiers: \(list(subset(tiers, &generator)))\n"
            case 1: yaml += "    models: \(list(subset(models, &generator)))\n"
            case 2: yaml += "    exclude: [\(pick(models, &generator))]\n"
            default: yaml += "    description: anything\n"
            }
            if Bool.random(using: &generator) { yaml += "    regions: \(list(subset(usable, &generator)))\n" }
        }
        yaml += "teams:\n"
        for team in ["t0", "t1", "t2"] {
            yaml += "  \(team):\n    description: a team\n"
            if Bool.random(using: &generator) { yaml += "    environments: \(list(subset(["e0", "e1", "e2"], &generator)))\n" }
            if Bool.random(using: &generator) { yaml += "    models: \(list(subset(models, &generator)))\n" }
            if Bool.random(using: &generator) { yaml += "    regions: \(list(subset(usable, &generator)))\n" }
        }
        yaml += "regions:\n"
        if let allowed { yaml += "  allowed: \(list(allowed))\n" }
        yaml += "  fallbacks:\n"
        for region in usable where Bool.random(using: &generator) {
            yaml += "    \(region): \(list(subset(usable.filter { $0 != region }, &generator)))\n"
        }
        return yaml
    }

    /// Whether the policy, read straight from its definitions, permits this model and region for the request.
    static func permitted(_ policy: PolicySet, request: Request, model name: String, region: String?) -> String? {
        guard let model = policy.model(named: name) else { return "unknown model \(name)" }
        guard let environment = request.environment.flatMap(policy.environment(named:)),
              let team = request.team.flatMap(policy.team(named:))
        else { return "unknown team or environment" }
        if !EnvironmentApproval.approves(environment, model: model, settings: policy.settings) { return "\(name) not approved in \(environment.name)" }
        if let environments = team.environments, !environments.contains(where: { $0.value == environment.name }) { return "team may not run in \(environment.name)" }
        if let models = team.models, !models.contains(where: { EnvironmentApproval.matches($0.value, model) }) { return "\(name) not on the team's list" }
        guard let region else {
            let constrained = policy.regions.allowed != nil || environment.regions != nil || team.regions != nil || model.regions != nil
            return constrained ? "no region chosen although regions are constrained" : nil
        }
        for (what, names) in [("regions.allowed", policy.regions.allowed), ("environment", environment.regions), ("team", team.regions), ("model", model.regions)] {
            if let names, !names.contains(where: { $0.value == region }) { return "\(region) not allowed by \(what)" }
        }
        if request.unavailableRegions.contains(region) { return "\(region) is unavailable" }
        return nil
    }

    @Test func reroutingNeverLandsWhereThePolicyForbids() async throws {
        var generator = SeededRandom(seed: 2026)
        var allowed = 0
        var rerouted = 0
        for _ in 0..<150 {
            let yaml = Self.policy(&generator)
            let result = load(yaml)
            let policy = try #require(result.policy, "generated policy is invalid: \(result.diagnostics)\n\(yaml)")
            let enforcer = try Enforcer(policy: policy, clock: ManualClock(EngineFixture.monday))
            for _ in 0..<60 {
                let region: String? = Bool.random(using: &generator) ? Self.pick(Self.regions, &generator) : nil
                let request = Request(
                    team: Self.pick(["t0", "t1", "t2"], &generator), environment: Self.pick(["e0", "e1", "e2"], &generator),
                    model: "m\(Int.random(in: 0..<policy.models.count, using: &generator))", region: region,
                    usage: Usage(inputTokens: 100, outputTokens: 10),
                    unavailableRegions: Bool.random(using: &generator) ? [Self.pick(Self.regions, &generator)] : [])
                let decision = await enforcer.evaluate(request)
                guard decision.isAllowed else { continue }
                allowed += 1
                if decision.rerouted { rerouted += 1 }
                if let problem = Self.permitted(policy, request: request, model: decision.model, region: decision.region) {
                    Issue.record("allowed \(decision.model) in \(decision.region ?? "-") for \(request): \(problem)\n\(yaml)")
                    return
                }
            }
        }
        #expect(allowed > 1000 && rerouted > 200, "the generator must exercise rerouting (allowed \(allowed), rerouted \(rerouted))")
    }
}
