import Testing
import Purser
import PurserTestSupport

/// Teams, environments and regions under the names logs use (a LiteLLM `team_id`, an OpenAI
/// `project_id`, Azure's `eastus2`): evaluated, budgeted and reported under the policy's names.
@Suite("Name aliases")
struct NameAliasTests {
    static let yaml = """
        version: 1
        models:
          m: {provider: p, tier: small, price: {input: 1, output: 1}, regions: [us-east-1, eu-central-1]}
        environments:
          production: {aliases: [prod]}
        teams:
          payments: {aliases: [0b6f3c57-8f0e-4d4a-9a51-6a0f2f6f1c01, proj_Xq3vN8rT2kLm7PwY4sBd9GhJ], regions: [us-east-1]}
          search: {}
        budgets:
          - {id: per-team, scope: team, period: month, limit: 10}
        regions:
          allowed: [us-east-1, eu-central-1]
          aliases: {eastus2: us-east-1, swedencentral: eu-central-1}

        """

    static func enforcer() throws -> Enforcer {
        let policy = try #require(load(yaml).policy)
        return try Enforcer(policy: policy, ledger: InMemoryLedger(), clock: ManualClock(EngineFixture.monday))
    }

    static func request(team: String, environment: String = "production", region: String? = nil, cost: String = "4",
                        unavailable: [String] = []) -> Request {
        Request(team: team, environment: environment, model: "m", region: region, cost: USD(cost),
                unavailableRegions: unavailable, allowReroute: false)
    }

    @Test func anAliasIsEvaluatedAsItsTeamEnvironmentAndRegion() async throws {
        let enforcer = try Self.enforcer()
        let decision = await enforcer.authorize(Self.request(team: "0b6f3c57-8f0e-4d4a-9a51-6a0f2f6f1c01", environment: "prod",
                                                       region: "eastus2"))
        #expect(decision.isAllowed, "\(decision.violations)")
        #expect(decision.region == "us-east-1")
        #expect(decision.violations.isEmpty)
    }

    @Test func aTeamsAliasesShareOneBudget() async throws {
        let enforcer = try Self.enforcer()
        // $10 a month per team: $4 under each of three names is $12 for one team, so the third is denied.
        #expect(await enforcer.authorize(Self.request(team: "payments")).isAllowed)
        #expect(await enforcer.authorize(Self.request(team: "0b6f3c57-8f0e-4d4a-9a51-6a0f2f6f1c01")).isAllowed)
        let third = await enforcer.authorize(Self.request(team: "proj_Xq3vN8rT2kLm7PwY4sBd9GhJ"))
        #expect(!third.isAllowed)
        #expect(third.violations.map(\.rule).contains("per-team"))
        // Another team's counter is its own.
        #expect(await enforcer.authorize(Self.request(team: "search")).isAllowed)
        let counters = try await enforcer.ledger.read([CounterKey(budget: "per-team", key: "payments", period: .month, window: 2026 * 12 + 10)])
        #expect(counters[0].reserved.usd == USD(dollars: 8).nanos)
    }

    @Test func aRegionAliasIsCheckedAsItsRegion() async throws {
        let enforcer = try Self.enforcer()
        // payments must stay in us-east-1: swedencentral is eu-central-1, so it is denied as that region.
        let denied = await enforcer.authorize(Self.request(team: "payments", region: "swedencentral"))
        #expect(!denied.isAllowed)
        #expect(denied.violations.map(\.rule).contains("region-not-allowed"))
        #expect(denied.violations.contains { $0.message.contains("eu-central-1") })
        // An unavailable region given by its alias is unavailable under its name.
        let unavailable = await enforcer.authorize(Self.request(team: "search", unavailable: ["eastus2"]))
        #expect(unavailable.isAllowed)
        #expect(unavailable.region == "eu-central-1")
    }

    @Test func namesThatAreNotAliasesAreUnknownAsBefore() async throws {
        let enforcer = try Self.enforcer()
        let decision = await enforcer.authorize(Self.request(team: "proj_unknown"))
        #expect(decision.violations.map(\.rule).contains("unknown-team"))
    }

    @Test func aliasesMayNotBeNamesOrOtherAliases() {
        let clash = """
            version: 1
            environments:
              production: {aliases: [prod]}
              prod: {}
            teams:
              payments: {aliases: [search, shared-id]}
              search: {}
              growth: {aliases: [shared-id]}
            regions:
              allowed: [us-east-1]
              aliases: {eastus2: us-east-1, westeurope: eu-west-1}

            """
        let result = load(clash)
        let messages = result.diagnostics.map { "\($0.code.id): \($0.message)" }
        #expect(messages.filter { $0.hasPrefix("duplicate-definition") }.count == 3, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("undefined-reference") && $0.contains("regions.aliases.westeurope") }, "\(messages)")
    }

    @Test func aRegionIsNotAnAliasOfItself() throws {
        let result = load("""
            version: 1
            regions:
              allowed: [us-east-1]
              aliases: {eastus2: us-east-1, us-east-1: us-east-1}

            """)
        #expect(result.policy == nil)
        let finding = try #require(result.diagnostics.first { $0.code.id == "invalid-value" })
        #expect(finding.message == "regions.aliases.us-east-1 makes a region an alias of itself; an alias is another name for a region (eastus2: us-east-1)")
        #expect(finding.location.line == 4)
    }
}
