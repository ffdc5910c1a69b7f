import Foundation
import Testing
import PurserAudit
import Purser
import PurserTestSupport

/// Exports name teams and regions by the ids their tools keep (LiteLLM `team_id` UUIDs, OpenAI
/// `project_id`s, Azure regions); the shipped policy's aliases count them under its own names.
@Suite("Audits under the policy's names")
struct NameAliasAuditTests {
    static func teams(_ files: [String]) throws -> [String: USDTotal] {
        let report = try LiteLLMAPIBodyTests.audit(files)
        return Dictionary(report.byTeam.map { ($0.name, $0.spend) }, uniquingKeysWith: { first, _ in first })
    }

    static func usd(_ text: String) throws -> USDTotal { USDTotal(try #require(USD(text))) }

    @Test func openAIProjectsAreTheirTeams() throws {
        let spend = try Self.teams(["openai/costs-page.json"])
        #expect(spend == ["data-platform": try Self.usd("5.175"), "search": try Self.usd("4.4"), "support-bots": try Self.usd("1.83")])
    }

    @Test func liteLLMTeamIDsAreTheirTeams() throws {
        let spend = try Self.teams(["litellm/spend-logs-v2-page1.json", "litellm/spend-logs-v2-page2.json"])
        #expect(spend == [
            "research": try Self.usd("0.15125"), "search": try Self.usd("0.085625"), "data-platform": try Self.usd("0.0304"),
            "payments": try Self.usd("0.007"), "support-bots": try Self.usd("0.00285"), "growth": try Self.usd("0.001975"),
        ])
    }

    @Test func withoutAliasesTheIdsAreUnknownTeams() throws {
        let policy = try #require(load("""
            version: 1
            models:
              gpt-5: {provider: openai, tier: frontier, price: {input: 1.25, output: 10}, aliases: [gpt-5-2025-08-07]}
            teams:
              search: {}

            """).policy)
        var options = AuditOptions()
        options.temporaryDirectory = NSTemporaryDirectory()
        let report = try Auditor(policy: try CompiledPolicy(policy), options: options)
            .run([LiteLLMAPIBodyTests.export("openai/costs-page.json")])
        #expect(report.byRule.contains { $0.name == "unknown-team" && $0.records == 14 })
    }
}
