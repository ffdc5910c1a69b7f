import Foundation
import Testing
@testable import PurserAudit
import Purser
import PurserTestSupport

/// OpenAI bills the Batch API and flex processing at half the list price and priority processing
/// above it; usage rows processed so are priced as billed (docs/policy-language.md, "Batch, flex
/// and priority prices").
@Suite("Batch, flex and priority prices")
struct TierPricingTests {
    static func usd(_ text: String) throws -> USD { try #require(USD(text)) }

    static func shippedPolicy() throws -> CompiledPolicy {
        try CompiledPolicy(try #require(PolicySet.load(paths: [repositoryRoot + "/policies"]).policy))
    }

    static func compile(_ yaml: String) throws -> CompiledPolicy {
        let result = load(yaml)
        return try CompiledPolicy(try #require(result.policy, "\(result.diagnostics)"))
    }

    /// The costs of a file's records, read as the auditor reads them for `policy`.
    static func costs(_ name: String, policy: CompiledPolicy) throws -> (costs: [USD?], notes: ImportNotes) {
        var options = UsageLogOptions()
        options.pricing = TierPricing(policy: policy)
        let reader = try UsageLogs.open(LiteLLMAPIBodyTests.export(name), options: options)
        var costs: [USD?] = []
        var notes = ImportNotes()
        while let batch = try reader.next() {
            costs += batch.records.map(\.request.cost)
            notes.merge(batch.notes)
        }
        return (costs, notes)
    }

    @Test func usageIsPricedAtItsTier() throws {
        // The fixture README's "As billed" column: standard, batch, flex; standard, batch, priority.
        let (costs, notes) = try Self.costs("openai/usage-completions-page.json", policy: try Self.shippedPolicy())
        #expect(costs == [nil, try Self.usd("2.65"), try Self.usd("0.965"), nil, try Self.usd("1.56"), try Self.usd("0.65")])
        #expect(notes.listPriced.isEmpty)
    }

    @Test func theAuditTotalsWhatOpenAIBilled() throws {
        let report = try LiteLLMAPIBodyTests.audit(["openai/usage-completions-page.json"])
        #expect(report.summary.totalSpend == USDTotal(try Self.usd("11.3775")))  // at list price: 16.2275
        #expect(report.summary.listPriced.isEmpty)
    }

    @Test func aModelWithoutATierPriceIsListPricedAndReported() throws {
        let policy = try Self.compile("""
            version: 1
            models:
              gpt-5-mini:
                provider: openai
                tier: small
                price: {input: 0.25, output: 2.00, cached_input: 0.025}
                aliases: [gpt-5-mini-2025-08-07]

            """)
        let (costs, notes) = try Self.costs("openai/usage-completions-page.json", policy: policy)
        #expect(costs.allSatisfy { $0 == nil })  // left to the engine's list price
        #expect(notes.listPriced == ["gpt-5-mini (batch)": 1, "gpt-5-mini (flex)": 1])
        var options = AuditOptions()
        options.temporaryDirectory = NSTemporaryDirectory()
        let report = try Auditor(policy: policy, options: options).run([LiteLLMAPIBodyTests.export("openai/usage-completions-page.json")])
        #expect(report.summary.listPriced == ["gpt-5-mini (batch)": 1, "gpt-5-mini (flex)": 1])
        #expect(report.warnings.contains { $0.hasPrefix("1 record of gpt-5-mini (batch) priced at the list price") })
    }

    @Test func tierPricesComeFromThePriceTable() throws {
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        try FileManager.default.copyItem(atPath: repositoryRoot + "/examples/prices/litellm-model-prices.json",
                                         toPath: directory + "/prices.json")
        let yaml = """
            version: 1
            price_sources: [prices.json]
            models:
              gpt-5: {tier: frontier}
              gpt-4.1: {tier: standard}

            """
        try yaml.write(toFile: directory + "/policy.yaml", atomically: true, encoding: .utf8)
        let policy = try #require(PolicySet.load(paths: [directory]).policy)
        let prices = Dictionary(uniqueKeysWithValues: policy.models.map { ($0.name, $0.price) })
        let gpt5 = try #require(prices["gpt-5"] ?? nil)
        #expect(gpt5.batch?.input == TokenPrice(perMillion: "0.625"))
        #expect(gpt5.batch?.cachedInput == TokenPrice(perMillion: "0.0625"))
        #expect(gpt5.flex?.output == TokenPrice(perMillion: "5"))
        #expect(gpt5.priority?.output == TokenPrice(perMillion: "20"))
        // The table has no cached batch price for gpt-4.1: the lower of its batch input (1.00) and list cached (0.50).
        let gpt41 = try #require(prices["gpt-4.1"] ?? nil)
        #expect(gpt41.batch?.input == TokenPrice(perMillion: "1"))
        #expect(gpt41.batch?.cachedInput == TokenPrice(perMillion: "0.5"))
        #expect(gpt41.batch?.cacheWrite == TokenPrice(perMillion: "1"))
        #expect(gpt41.flex == nil)
    }

    @Test func aTierPriceIsCheckedLikeAPrice() throws {
        let missing = load("""
            version: 1
            models:
              gpt-5:
                provider: openai
                tier: frontier
                price: {input: 1.25, output: 10, batch: {input: 0.625}}

            """)
        #expect(missing.policy == nil)
        #expect(missing.diagnostics.contains { $0.code == .missingKey && $0.message.contains("models.gpt-5.price.batch") && $0.location.line == 6 })
        let unknown = load("""
            version: 1
            models:
              gpt-5:
                provider: openai
                tier: frontier
                price: {input: 1.25, output: 10, flex: {input: 0.625, output: 5, cached: 0.06}}

            """)
        #expect(unknown.diagnostics.contains { $0.code == .unknownKey && $0.message.contains("cached") })
        let negative = load("""
            version: 1
            models:
              gpt-5:
                provider: openai
                tier: frontier
                price: {input: 1.25, output: 10, priority: {input: -2.5, output: 20}}

            """)
        #expect(negative.diagnostics.contains { $0.code == .invalidValue && $0.message.contains("models.gpt-5.price.priority.input") })
    }

    @Test func theTierOfAResult() {
        #expect(TierPricing.tier(batch: "true", serviceTier: "flex") == .batch)
        #expect(TierPricing.tier(batch: "false", serviceTier: "flex") == .flex)
        #expect(TierPricing.tier(batch: nil, serviceTier: "Priority") == .priority)
        #expect(TierPricing.tier(batch: "false", serviceTier: "default") == .standard)
        #expect(TierPricing.tier(batch: nil, serviceTier: nil) == .standard)
    }
}
