import Purser

/// A small policy that exercises every built-in check.
package enum EngineFixture {
    package static let yaml = """
        version: 1
        settings: {timezone: Europe/Berlin}
        models:
          opus: {provider: anthropic, tier: frontier, price: {input: 5, output: 25}, regions: [us-east-1, eu-central-1], fallbacks: [sonnet, haiku]}
          sonnet: {provider: anthropic, tier: standard, price: {input: 3, output: 15}, regions: [us-east-1, us-west-2, eu-central-1, eu-west-1], fallbacks: [haiku]}
          haiku: {provider: anthropic, tier: small, price: {input: 1, output: 5}}
          mini: {provider: openai, tier: small, price: {input: 0.25, output: 2}, aliases: [mini-2025]}
          local: {provider: self-hosted, tier: small}
        environments:
          production: {}
          qa: {tiers: [small, standard]}
          dev: {models: [haiku, mini, local]}
        teams:
          payments: {environments: [production, qa, dev], budget: {month: 100, day: 10}, max_request_cost: 2}
          eu: {regions: [eu-central-1, eu-west-1]}
          research: {}
          selfhost: {models: [local, mini]}
        budgets:
          - {id: org-month, scope: org, period: month, limit: 1000, alerts: [0.5, 0.8]}
          - {id: qa-soft, scope: [team, environment], when: {environment: qa}, period: day, limit: 1, on_exceed: warn}
          - {id: user-tokens, scope: user, period: hour, tokens: 1000}
        regions:
          allowed: [us-east-1, us-west-2, eu-central-1, eu-west-1]
          fallbacks: {us-east-1: [us-west-2], us-west-2: [us-east-1], eu-central-1: [eu-west-1], eu-west-1: [eu-central-1]}
        rules:
          - {id: big-dev-prompts, when: {environment: dev, input_tokens: {gt: 100000}}, unless: {tags.ticket: {exists: true}}, message: dev prompts are capped at 100k tokens}
          - {id: late-night, when: {hour: {gte: 22}}, enforcement: audit, severity: low}
        exceptions:
          - {id: EXC-1, waives: [environment-model], when: {team: research, environment: qa, tier: frontier}, expires: 2026-12-31, reason: eval harness}

        """

    package static let policy: PolicySet = {
        let result = load(yaml, file: "engine.yaml")
        guard let policy = result.policy else { fatalError("fixture policy is invalid: \(result.diagnostics)") }
        return policy
    }()

    /// 2026-11-23T10:00:00Z (11:00 in Berlin, a Monday).
    package static let monday = Timestamp(seconds: 1_795_428_000)

    /// An enforcer on the fixture policy at `time`; the ledger, when not given, is an in-memory one on the same clock.
    package static func enforcer(ledger: (any Ledger)? = nil, at time: Timestamp = monday) throws -> (Enforcer, ManualClock) {
        let clock = ManualClock(time)
        return (try Enforcer(policy: policy, ledger: ledger ?? InMemoryLedger(clock: clock), clock: clock), clock)
    }

    package static func request(
        team: String? = "payments", environment: String? = "production", model: String = "sonnet",
        region: String? = nil, input: Int64 = 1000, output: Int64 = 500, cost: USD? = nil,
        user: String? = nil, tags: Tags = [:], unavailable: [String] = [], reroute: Bool = true,
        at timestamp: Timestamp? = nil
    ) -> Request {
        Request(id: "r-1", timestamp: timestamp, team: team, environment: environment, model: model, region: region,
                user: user, tags: tags, usage: Usage(inputTokens: input, outputTokens: output), cost: cost,
                unavailableRegions: unavailable, allowReroute: reroute)
    }
}

extension Decision {
    /// Violation rule ids with effects, e.g. `environment-model:rerouted`.
    package var summary: [String] { violations.map { "\($0.rule):\($0.effect.rawValue)" } }
}
