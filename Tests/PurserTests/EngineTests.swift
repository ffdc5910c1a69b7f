import Foundation
import Testing
import Purser
import PurserTestSupport

@Suite("Evaluation")
struct EngineTests {
    @Test func allowsAnApprovedRequestAndPricesItExactly() async throws {
        let (enforcer, _) = try EngineFixture.enforcer()
        let decision = await enforcer.evaluate(EngineFixture.request(input: 1200, output: 800))
        #expect(decision.verdict == .allow)
        #expect(decision.violations.isEmpty)
        // 1200 × 3/1M + 800 × 15/1M = 0.0036 + 0.012
        #expect(decision.cost == USD("0.0156"))
        #expect(decision.model == "sonnet")
        #expect(decision.region == "us-east-1", "no region asked: the first allowed region serving the model")
        #expect(Set(decision.budgets.map(\.id)) == ["org-month", "team.payments.month", "team.payments.day"])
        let month = try #require(decision.budgets.first { $0.id == "team.payments.month" })
        #expect(month.key == "payments" && month.window == "2026-11" && month.limit == USD(dollars: 100).nanos)
        #expect(decision.budgets.first { $0.id == "team.payments.day" }?.window == "2026-11-23")
    }

    @Test func qaNeverGetsFrontierAndReroutesToTheFallback() async throws {
        let (enforcer, _) = try EngineFixture.enforcer()
        let decision = await enforcer.evaluate(EngineFixture.request(environment: "qa", model: "opus"))
        #expect(decision.verdict == .allow)
        #expect(decision.rerouted)
        #expect(decision.model == "sonnet")
        #expect(decision.summary == ["environment-model:rerouted"])
        let violation = try #require(decision.violations.first)
        #expect(violation.message == "opus (frontier) is not approved in qa")
        #expect(violation.source?.description == "engine.yaml:11:3")
        #expect(violation.kind == .access && violation.severity == .high)
    }

    @Test func withoutRerouteTheRequestIsDenied() async throws {
        let (enforcer, _) = try EngineFixture.enforcer()
        let decision = await enforcer.evaluate(EngineFixture.request(environment: "qa", model: "opus", reroute: false))
        #expect(decision.verdict == .deny)
        #expect(decision.model == "opus")
        #expect(decision.summary == ["environment-model:deny"])
    }

    @Test func exceptionsWaiveUntilTheyExpire() async throws {
        let (enforcer, _) = try EngineFixture.enforcer()
        let waived = await enforcer.evaluate(EngineFixture.request(team: "research", environment: "qa", model: "opus"))
        #expect(waived.verdict == .allow && !waived.rerouted && waived.model == "opus")
        #expect(waived.summary == ["environment-model:waived"])
        #expect(waived.violations.first?.waivedBy == "EXC-1")
        // Expires through the end of 2026-12-31 in Berlin = 2026-12-31T23:00:00Z.
        let lastSecond = await enforcer.evaluate(EngineFixture.request(team: "research", environment: "qa", model: "opus", at: Timestamp(seconds: 1_798_758_000 - 1)))
        #expect(lastSecond.summary == ["environment-model:waived", "late-night:warn"], "23:59:59 in Berlin is also late at night")
        let expired = await enforcer.evaluate(EngineFixture.request(team: "research", environment: "qa", model: "opus", at: Timestamp(seconds: 1_798_758_000)))
        #expect(expired.summary == ["environment-model:rerouted"])
    }

    /// Exceptions name rules, budgets and built-in checks; an id named by several
    /// exceptions is waived by the first that is unexpired and whose `when` holds.
    @Test func exceptionsWaiveRulesBudgetsAndChecksByID() async throws {
        let yaml = """
            version: 1
            models:
              big: {provider: acme, tier: frontier, price: {input: 10, output: 30}}
            environments:
              production: {}
              qa: {tiers: [small]}
            teams:
              payments: {}
              search: {}
            budgets:
              - {id: tiny, scope: team, period: day, limit: 0.01}
            rules:
              - {id: long-prompts, when: {input_tokens: {gt: 5000}}, message: long prompt}
            exceptions:
              - {id: LAUNCH, waives: [long-prompts, tiny], when: {team: payments}, expires: 2026-11-30, reason: launch week}
              - {id: SEARCH, waives: [long-prompts, tiny, environment-model], when: {team: search}, expires: 2026-12-31, reason: search}
            """
        let policy = try #require(load(yaml, file: "waivers.yaml").policy)
        let enforcer = try Enforcer(policy: policy, clock: ManualClock(EngineFixture.monday))
        func request(team: String, environment: String = "production", at time: Timestamp? = nil) -> Request {
            Request(id: "r", timestamp: time, team: team, environment: environment, model: "big",
                    usage: Usage(inputTokens: 6000, outputTokens: 1000))
        }
        let search = await enforcer.evaluate(request(team: "search"))
        #expect(search.verdict == .allow)
        #expect(search.summary == ["long-prompts:waived", "tiny:waived"])
        #expect(search.violations.allSatisfy { $0.waivedBy == "SEARCH" })
        let qa = await enforcer.evaluate(request(team: "search", environment: "qa"))
        #expect(qa.verdict == .allow && qa.summary.first == "environment-model:waived")
        let launch = await enforcer.evaluate(request(team: "payments"))
        #expect(launch.verdict == .allow && launch.violations.map(\.waivedBy) == ["LAUNCH", "LAUNCH"])
        // 2026-12-01T12:00:00Z: LAUNCH has expired and SEARCH's condition does not hold.
        let later = await enforcer.evaluate(request(team: "payments", at: Timestamp(seconds: 1_796_126_400)))
        #expect(later.verdict == .deny)
        #expect(later.summary == ["long-prompts:deny", "tiny:deny"])
    }

    @Test func aliasesResolveToTheCanonicalModel() async throws {
        let (enforcer, _) = try EngineFixture.enforcer()
        let decision = await enforcer.evaluate(EngineFixture.request(team: "selfhost", environment: "dev", model: "mini-2025"))
        #expect(decision.verdict == .allow && decision.model == "mini")
    }

    @Test func unknownNamesAreDenied() async throws {
        let (enforcer, _) = try EngineFixture.enforcer()
        let decision = await enforcer.evaluate(EngineFixture.request(team: "nobody", environment: "prod", model: "gpt-9"))
        #expect(decision.verdict == .deny)
        #expect(decision.summary == ["unknown-team:deny", "unknown-environment:deny", "unknown-model:deny"])
        #expect(decision.violations.allSatisfy { $0.source == nil && $0.kind == .unknown })
    }

    @Test func teamAccessChecks() async throws {
        let (enforcer, _) = try EngineFixture.enforcer()
        let teamEnvironment = await enforcer.evaluate(EngineFixture.request(team: "payments", environment: "staging"))
        #expect(teamEnvironment.summary == ["unknown-environment:deny"])
        let teamModel = await enforcer.evaluate(EngineFixture.request(team: "selfhost", environment: "dev", model: "haiku", reroute: false))
        #expect(teamModel.summary == ["team-model:deny"])
    }

    @Test func euTrafficNeverLeavesTheEU() async throws {
        let (enforcer, _) = try EngineFixture.enforcer()
        let us = await enforcer.evaluate(EngineFixture.request(team: "eu", region: "us-east-1"))
        #expect(us.verdict == .deny, "the only fallback of us-east-1 is us-west-2, also outside the EU")
        #expect(us.violations.first?.rule == "region-not-allowed")
        let down = await enforcer.evaluate(EngineFixture.request(team: "eu", region: "eu-central-1", unavailable: ["eu-central-1"]))
        #expect(down.verdict == .allow && down.rerouted)
        #expect(down.region == "eu-west-1")
        #expect(down.summary == ["region-unavailable:rerouted"])
        let picked = await enforcer.evaluate(EngineFixture.request(team: "eu"))
        #expect(picked.region == "eu-central-1", "no region given: the team's first region")
    }

    @Test func modelRegionReroutesToAModelServedThere() async throws {
        let (enforcer, _) = try EngineFixture.enforcer()
        let decision = await enforcer.evaluate(EngineFixture.request(model: "opus", region: "us-west-2"))
        #expect(decision.summary == ["model-region:rerouted"])
        // Region fallback first: us-west-2 → us-east-1, where opus is served.
        #expect(decision.model == "opus" && decision.region == "us-east-1")
    }

    @Test func maxRequestCostDenies() async throws {
        let (enforcer, _) = try EngineFixture.enforcer()
        let decision = await enforcer.evaluate(EngineFixture.request(model: "mini", input: 10_000_000, output: 0))
        #expect(decision.verdict == .deny)
        #expect(decision.summary.contains("max-request-cost:deny"))
        #expect(decision.violations.first { $0.rule == "max-request-cost" }?.message == "estimated cost 2.5 USD is above the max_request_cost of team payments (2 USD)")
    }

    @Test func unpricedModelsAreDeniedUnderUSDBudgets() async throws {
        let (enforcer, _) = try EngineFixture.enforcer()
        let unpriced = await enforcer.evaluate(EngineFixture.request(team: "selfhost", environment: "dev", model: "local"))
        #expect(unpriced.summary == ["unpriced-model:deny"])
        let withCost = await enforcer.evaluate(EngineFixture.request(team: "selfhost", environment: "dev", model: "local", cost: USD("0.01")))
        #expect(withCost.verdict == .allow && withCost.cost == USD("0.01"))
    }

    @Test func rulesWithUnlessAndAudit() async throws {
        let (enforcer, _) = try EngineFixture.enforcer()
        let big = await enforcer.evaluate(EngineFixture.request(environment: "dev", model: "haiku", input: 150_000, output: 0))
        #expect(big.summary == ["big-dev-prompts:deny"])
        #expect(big.violations.first?.message == "dev prompts are capped at 100k tokens")
        let ticket = await enforcer.evaluate(EngineFixture.request(environment: "dev", model: "haiku", input: 150_000, output: 0, tags: ["ticket": "OPS-1"]))
        #expect(ticket.verdict == .allow && ticket.violations.isEmpty)
        // 22:30 in Berlin = 21:30Z: the audit rule warns, never blocks.
        let night = await enforcer.evaluate(EngineFixture.request(at: Timestamp(seconds: 1_795_469_400)))
        #expect(night.verdict == .allow)
        #expect(night.summary == ["late-night:warn"])
    }

    @Test func softBudgetsWarn() async throws {
        let (enforcer, _) = try EngineFixture.enforcer()
        let decision = await enforcer.evaluate(EngineFixture.request(environment: "qa", model: "haiku", cost: USD("1.5")))
        #expect(decision.verdict == .allow)
        #expect(decision.summary == ["qa-soft:warn"])
    }

    @Test func tokenBudgetsCountTokens() async throws {
        let (enforcer, _) = try EngineFixture.enforcer()
        let fits = await enforcer.authorize(EngineFixture.request(input: 600, output: 400, user: "alice"))
        #expect(fits.verdict == .allow)
        #expect(fits.budgets.first { $0.id == "user-tokens" }?.unit == .tokens)
        let over = await enforcer.authorize(EngineFixture.request(input: 1, output: 0, user: "alice", reroute: false))
        #expect(over.summary == ["user-tokens:deny"])
        let otherUser = await enforcer.authorize(EngineFixture.request(input: 1, output: 0, user: "bob"))
        #expect(otherUser.verdict == .allow)
    }

    @Test func decisionJSONHasTheSpecFields() async throws {
        let (enforcer, _) = try EngineFixture.enforcer()
        let decision = await enforcer.evaluate(EngineFixture.request(environment: "qa", model: "opus"))
        let json = DecisionEncoder.json(decision)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(Set(object.keys).isSuperset(of: ["decision", "decision_id", "request_id", "model", "region", "rerouted", "cost", "violations", "budgets", "alerts", "policy_revision"]))
        #expect(object["decision"] as? String == "allow")
        #expect(object["rerouted"] as? Bool == true)
        let violation = try #require((object["violations"] as? [[String: Any]])?.first)
        #expect(violation["rule"] as? String == "environment-model")
        #expect(violation["effect"] as? String == "rerouted")
        #expect(violation["source"] as? String == "engine.yaml:11:3")
        #expect(violation["waived_by"] is NSNull)
        let budget = try #require((object["budgets"] as? [[String: Any]])?.first { $0["id"] as? String == "team.payments.month" })
        #expect(budget["window"] as? String == "2026-11")
        #expect((budget["limit"] as? NSNumber)?.intValue == 100)
        #expect(json.contains("\"cost\":0.0105"), "cost is exact decimal text: \(json)")
        #expect(DecisionID(decision.id.description) == decision.id)
    }

    @Test func reloadNeverReplacesAValidPolicyWithAnInvalidOne() async throws {
        let (enforcer, _) = try EngineFixture.enforcer()
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        try Data("version: 1\nmodels: {x: {tier: nope}}\n".utf8).write(to: URL(fileURLWithPath: directory + "/bad.yaml"))
        let before = enforcer.policy.revision
        let result = enforcer.reload(paths: [directory])
        #expect(result.policy == nil && result.errorCount > 0)
        #expect(enforcer.policy.revision == before)
        #expect(await enforcer.evaluate(EngineFixture.request()).verdict == .allow)
        try Data(CheckCatalog.base.utf8).write(to: URL(fileURLWithPath: directory + "/bad.yaml"))
        #expect(enforcer.reload(paths: [directory]).policy != nil)
        #expect(enforcer.policy.revision != before)
        #expect(await enforcer.evaluate(EngineFixture.request()).summary == ["unknown-team:deny", "unknown-environment:deny", "unknown-model:deny"])
    }
}
