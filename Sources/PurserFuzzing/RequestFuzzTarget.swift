import Purser
import PurserCore
import PurserPolicy
import PurserYAML

/// libFuzzer entry point: one input, read as a JSON request and as a
/// LiteLLM price table.
///
/// A request that decodes is evaluated against a fixed policy, so hostile
/// token counts, costs, tags and timestamps reach the cost arithmetic and
/// the evaluator. Error offsets must lie inside the input.
public func fuzzRequest(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    decodeRequest(bytes)
    readPriceTable(bytes)
    return 0
}

/// RequestDecoder, then a pure evaluation and its JSON encoding.
private func decodeRequest(_ bytes: [UInt8]) {
    let request: Request
    do {
        request = try RequestDecoder.decode(bytes)
    } catch {
        if error.offset < 0 || error.offset > bytes.count {
            preconditionFailure("request error offset \(error.offset) outside input of \(bytes.count) bytes")
        }
        return
    }
    guard let enforcer = FuzzPolicy.enforcer else { return }
    let decision = enforcer.evaluateNow(request)
    _ = DecisionEncoder.json(decision)
}

/// PriceTable on the same bytes.
private func readPriceTable(_ bytes: [UInt8]) {
    do {
        _ = try PriceTable(litellmJSON: bytes, file: "fuzz.json")
    } catch {
        if error.offset < 0 || error.offset > bytes.count {
            preconditionFailure("price table error offset \(error.offset) outside input of \(bytes.count) bytes")
        }
    }
}

/// A small policy that uses every kind of check, loaded once.
private enum FuzzPolicy {
    static let yaml = """
        version: 1
        settings: {timezone: Europe/Berlin}
        models:
          opus: {provider: anthropic, tier: frontier, price: {input: 5, output: 25, cached_input: 0.5, cache_write: 6.25}, regions: [us-east-1, eu-central-1], fallbacks: [sonnet, haiku]}
          sonnet: {provider: anthropic, tier: standard, price: {input: 3, output: 15}, regions: [us-east-1, us-west-2, eu-central-1, eu-west-1], fallbacks: [haiku]}
          haiku: {provider: anthropic, tier: small, price: {input: 1, output: 5}}
          mini: {provider: openai, tier: small, price: {input: 0.25, output: 2}, aliases: [mini-2025]}
          local: {provider: self-hosted, tier: small, price: {input: 0, output: 0}}
        environments:
          production: {models: [opus, sonnet, haiku, "mini*", local]}
          qa: {tiers: [small, standard]}
          dev: {models: [haiku, mini, local]}
        teams:
          payments: {environments: [production, qa, dev], budget: {month: 100, day: 10}, max_request_cost: 2}
          eu: {regions: [eu-central-1, eu-west-1]}
          research: {}
        budgets:
          - {id: org-month, scope: org, period: month, limit: 1000, alerts: [0.5, 0.8]}
          - {id: qa-soft, scope: [team, environment], when: {environment: qa}, period: day, limit: 1, on_exceed: warn}
          - {id: user-tokens, scope: user, period: hour, tokens: 1000, requests: 10}
          - {id: tagged, scope: "tag:project", period: week, limit: 50}
        regions:
          allowed: [us-east-1, us-west-2, eu-central-1, eu-west-1]
          fallbacks: {us-east-1: [us-west-2], eu-central-1: [eu-west-1]}
        rules:
          - {id: big-dev-prompts, when: {environment: dev, input_tokens: {gt: 100000}}, unless: {tags.ticket: {exists: true}}, message: capped}
          - {id: late-night, when: {hour: {gte: 22}}, enforcement: audit, severity: low}
          - {id: no-opus-users, when: {model: opus, user: {in: [mallory, eve]}, cost: {gt: 0.5}}, effect: warn}
        exceptions:
          - {id: EXC-1, waives: [environment-model], when: {team: research, environment: qa, tier: frontier}, expires: 2099-12-31, reason: eval}

        """

    /// The enforcer, or nil when the fixed policy does not load (a bug the
    /// first run reports loudly).
    static let enforcer: Enforcer? = {
        let result = PolicySet.load(yaml: yaml, file: "fuzz-policy.yaml")
        guard let policy = result.policy else {
            preconditionFailure("the fuzz policy is invalid: \(result.diagnostics)")
        }
        return try? Enforcer(policy: policy, clock: ManualClock(Timestamp(seconds: 1_795_428_000)))
    }()
}
