import Purser

/// One scripted call: the request a client sends, what to set up first, and
/// what the gateway must end up doing (the example checks it, so CI catches
/// a change in behaviour).
struct ScriptedCall: Sendable {
    /// What the call shows.
    let title: String
    let request: Request
    let expect: Expectation
    /// Spend recorded before the call (restored from a billing store, say).
    var seed: [Seed] = []
    /// The spend store is unreachable during the call.
    var ledgerDown = false
    /// The provider's usage event arrives twice (at-least-once delivery): settle again.
    var duplicateUsageEvent = false
}

/// Spend already on a budget counter before a call.
struct Seed: Sendable {
    /// The budget id, e.g. `team.growth.day`.
    let budget: String
    /// The scope key of the counter, e.g. `growth` for a team budget.
    let key: String
    /// The amount already spent in the current window, in USD (decimal text).
    let spent: String
}

/// What a scripted call must do.
struct Expectation: Sendable {
    enum Outcome: Sendable, Equatable {
        case denied
        case settled(SettleOutcome)
        case released
        case unrecorded
    }

    let decision: Verdict
    var model: String? = nil
    var region: String? = nil
    var rerouted = false
    /// `rule:effect` for each violation, in the decision's order.
    var violations: [String] = []
    let outcome: Outcome
    /// How many regions answered HTTP 429 before the call went through.
    var rateLimited = 0
    /// `budget[key]@percent` for each alert.
    var alerts: [String] = []
    /// The settled cost must be below the estimate.
    var actualBelowEstimate = false
}

/// ~12 calls from several teams and environments against the shipped
/// policies (../../policies). The provider is set up with eu-central-1 rate
/// limited, o4-mini failing with HTTP 503 and gpt-5 calls taking 11 minutes.
let script: [ScriptedCall] = [
    ScriptedCall(
        title: "normal call by model alias; actual usage below the estimate; crosses feature-month's 80% alert",
        request: Request(id: "r-01", team: "payments", environment: "production", model: "claude-sonnet-4-5-20250929",
                         region: "us-east-1", user: "svc-disputes", tags: ["feature": "dispute-summaries"],
                         usage: Usage(inputTokens: 1_200, outputTokens: 800)),
        expect: Expectation(decision: .allow, model: "claude-sonnet-4-5", region: "us-east-1",
                            outcome: .settled(.settled), alerts: ["feature-month[dispute-summaries]@80%"],
                            actualBelowEstimate: true),
        seed: [Seed(budget: "feature-month", key: "dispute-summaries", spent: "6399.99")]),  // of $8,000

    ScriptedCall(
        title: "QA asks for a frontier model: rerouted down its fallback chain",
        request: Request(id: "r-02", team: "search", environment: "qa", model: "claude-opus-4-5", region: "us-east-1",
                         user: "ci-search", usage: Usage(inputTokens: 3_000, outputTokens: 1_000)),
        expect: Expectation(decision: .allow, model: "claude-sonnet-4-5", region: "us-east-1", rerouted: true,
                            violations: ["environment-model:rerouted"], outcome: .settled(.settled))),

    ScriptedCall(
        title: "EU support bot: eu-central-1 answers 429, retried with unavailable_regions, rerouted inside the EU",
        request: Request(id: "r-03", team: "support-bots", environment: "production", model: "claude-sonnet-4-5",
                         region: "eu-central-1", user: "svc-support-eu",
                         usage: Usage(inputTokens: 2_000, cachedInputTokens: 6_000, outputTokens: 600)),
        expect: Expectation(decision: .allow, model: "claude-sonnet-4-5", region: "eu-west-1", rerouted: true,
                            violations: ["region-unavailable:rerouted"], outcome: .settled(.settled), rateLimited: 1)),

    ScriptedCall(
        title: "the usage event is delivered twice: the second settle counts nothing",
        request: Request(id: "r-04", team: "support-bots", environment: "staging", model: "gemini-2.5-flash",
                         region: "eu-west-1", user: "svc-support-eu", usage: Usage(inputTokens: 1_500, outputTokens: 400)),
        expect: Expectation(decision: .allow, model: "gemini-2.5-flash", region: "eu-west-1", outcome: .settled(.settled)),
        duplicateUsageEvent: true),

    ScriptedCall(
        title: "the team is $0.005 under its daily cap: denied by team.growth.day",
        request: Request(id: "r-05", team: "growth", environment: "production", model: "gpt-5-mini", region: "us-east-1",
                         user: "svc-onboarding-emails", usage: Usage(inputTokens: 10_000, outputTokens: 2_000)),
        expect: Expectation(decision: .deny, violations: ["team.growth.day:deny"], outcome: .denied),
        seed: [Seed(budget: "team.growth.day", key: "growth", spent: "299.995")]),  // of $300

    ScriptedCall(
        title: "a model that is not on the team's list (nor are its fallbacks): denied",
        request: Request(id: "r-06", team: "payments", environment: "production", model: "gemini-2.5-pro", region: "us-east-1",
                         user: "alice", usage: Usage(inputTokens: 5_000, outputTokens: 1_000)),
        expect: Expectation(decision: .deny, violations: ["team-model:deny"], outcome: .denied)),

    ScriptedCall(
        title: "research runs opus in QA under exception EXC-2026-031: allowed, violation waived",
        request: Request(id: "r-07", team: "research", environment: "qa", model: "claude-opus-4-5", region: "us-west-2",
                         user: "svc-nightly-evals", usage: Usage(inputTokens: 4_000, outputTokens: 1_500)),
        expect: Expectation(decision: .allow, model: "claude-opus-4-5", region: "us-west-2",
                            violations: ["environment-model:waived"], outcome: .settled(.settled))),

    ScriptedCall(
        title: "no region given: Purser picks the first allowed one",
        request: Request(id: "r-08", team: "search", environment: "production", model: "gpt-5-mini", user: "svc-search-rerank",
                         usage: Usage(inputTokens: 800, outputTokens: 200)),
        expect: Expectation(decision: .allow, model: "gpt-5-mini", region: "us-east-1", outcome: .settled(.settled))),

    ScriptedCall(
        title: "the provider fails with HTTP 503: the reservation is released",
        request: Request(id: "r-09", team: "search", environment: "production", model: "o4-mini", region: "us-west-2",
                         user: "bob", usage: Usage(inputTokens: 2_000, outputTokens: 3_000)),
        expect: Expectation(decision: .allow, model: "o4-mini", region: "us-west-2", outcome: .released)),

    ScriptedCall(
        title: "a 40k-token reply in staging: allowed with a warning from rule staging-huge-output",
        request: Request(id: "r-10", team: "research", environment: "staging", model: "gpt-4.1", region: "us-east-1",
                         user: "carol", usage: Usage(inputTokens: 2_000, outputTokens: 40_000)),
        expect: Expectation(decision: .allow, model: "gpt-4.1", region: "us-east-1",
                            violations: ["staging-huge-output:warn"], outcome: .settled(.settled))),

    ScriptedCall(
        title: "a stuck 11-minute stream outlives reservation_ttl (10m): the late settle still counts",
        request: Request(id: "r-11", team: "data-platform", environment: "production", model: "gpt-5", region: "us-east-1",
                         user: "svc-enrichment", tags: ["workload": "batch"],
                         usage: Usage(inputTokens: 300_000, outputTokens: 20_000)),
        expect: Expectation(decision: .allow, model: "gpt-5", region: "us-east-1",
                            outcome: .settled(.settledWithoutReservation))),

    ScriptedCall(
        title: "the spend store is down: fail open (settings.ledger_unavailable: allow), spend not recorded",
        request: Request(id: "r-12", team: "research", environment: "dev", model: "gpt-5-nano", region: "us-east-1",
                         user: "dave", usage: Usage(inputTokens: 500, outputTokens: 300)),
        expect: Expectation(decision: .allow, model: "gpt-5-nano", region: "us-east-1",
                            violations: ["ledger-unavailable:warn"], outcome: .unrecorded),
        ledgerDown: true),
]

/// The differences between what a call did and what it should have done.
func mismatches(_ call: ScriptedCall, _ result: CallResult, duplicate: SettleOutcome?) -> [String] {
    let expect = call.expect
    let decision = result.decision
    var problems: [String] = []
    func check<T: Equatable>(_ name: String, _ actual: T, _ expected: T) {
        if actual != expected { problems.append("\(name): expected \(expected), got \(actual)") }
    }
    check("decision", decision.verdict, expect.decision)
    if let model = expect.model { check("model", decision.model, model) }
    if let region = expect.region { check("region", decision.region ?? "none", region) }
    check("rerouted", decision.rerouted, expect.rerouted)
    check("violations", decision.violations.map { "\($0.rule):\($0.effect.rawValue)" }, expect.violations)
    check("rate-limited regions", result.rateLimited.count, expect.rateLimited)
    check("alerts", result.alerts.map(alertLabel), expect.alerts)
    let outcome: Expectation.Outcome
    switch result.outcome {
    case .denied: outcome = .denied
    case .completed(_, let settlement):
        outcome = .settled(settlement.outcome)
        if expect.actualBelowEstimate, let estimate = decision.cost, let actual = settlement.cost, actual >= estimate {
            problems.append("actual cost \(actual) is not below the estimate \(estimate)")
        }
    case .failed: outcome = .released
    case .unrecorded: outcome = .unrecorded
    }
    check("outcome", outcome, expect.outcome)
    if call.duplicateUsageEvent { check("duplicate settle", duplicate, .alreadySettled) }
    return problems
}

/// `budget[key]@percent`, e.g. `feature-month[dispute-summaries]@80%`.
func alertLabel(_ alert: BudgetAlert) -> String {
    "\(alert.budget)[\(alert.key)]@\(alert.threshold / 10_000)%"
}
