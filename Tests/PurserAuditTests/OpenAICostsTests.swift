import Foundation
import Testing
import PurserAudit
import Purser
import PurserTestSupport

/// OpenAI's organization costs and embeddings pages, read from the fixtures in
/// examples/exports/openai (its README gives the expected numbers; project ids
/// are not team names until aliases exist, so only counts, tokens, cost,
/// models and UTC days are checked).
@Suite("API bodies: OpenAI costs and embeddings")
struct OpenAICostsTests {
    typealias Bodies = LiteLLMAPIBodyTests

    // MARK: OpenAI costs

    @Test func costsPage() throws {
        let imported = try importFile(Bodies.export("openai/costs-page.json"))
        #expect(imported.malformed.isEmpty, "\(imported.malformed)")
        #expect(imported.records.count == 14)
        #expect(Bodies.cost(imported) == USDTotal(try #require(USD("11.405"))))
        #expect(Bodies.tokens(imported) == [19_180_000, 1_320_000, 0, 3_087_000])
        #expect(Bodies.days(imported) == ["2026-11-01": 7, "2026-11-02": 7])
        #expect(Set(imported.records.map(\.request.model)) == [
            "gpt-5-2025-08-07", "gpt-5-mini-2025-08-07", "gpt-4.1-2025-04-14", "gpt-4.1-mini-2025-04-14", "assistants api | file search",
        ])
        let search = try #require(imported.records.first { $0.request.tags["line_item"] == "assistants api | file search" })
        #expect(search.request.cost == USD("0.0275"))
        #expect(search.request.usage == Usage())
        #expect(search.request.team == "proj_Xq3vN8rT2kLm7PwY4sBd9GhJ")
        // The amount written as a decimal string.
        let output = try #require(imported.records.first { $0.request.tags["line_item"] == "gpt-4.1-2025-04-14, output" })
        #expect(output.request.cost == USD("0.76"))
        #expect(output.request.usage == Usage(outputTokens: 95_000))
        #expect(output.request.tags["endpoint"] == "costs")
    }

    @Test func costsAndUsagePagesAudit() throws {
        let report = try Bodies.audit(["openai/costs-page.json"])
        #expect(report.summary.records == 14)
        #expect(report.summary.malformed == 0)
        #expect(report.summary.totalSpend == USD("11.405"))
        let embeddings = try Bodies.audit(["openai/usage-embeddings-page.json"])
        #expect(embeddings.summary.records == 3)
        #expect(embeddings.summary.malformed == 0)
        var unknown = 0
        try embeddings.forEachViolation { if $0.violation.rule == "unknown-model" { unknown += 1 } }
        #expect(unknown == 3)  // the shipped policy defines no embedding model
    }

    @Test(arguments: [
        ("gpt-4o-2024-08-06, input", "gpt-4o-2024-08-06", OpenAIUsageReader.TokenKind.input),
        ("gpt-4o-2024-08-06, cached input", "gpt-4o-2024-08-06", .cachedInput),
        ("gpt-4o-2024-08-06, Output", "gpt-4o-2024-08-06", .output),
        ("ft-gpt-4o-2024-08-06, input", "ft-gpt-4o-2024-08-06", .input),
        ("evals | gpt-4o-mini-2024-07-18, input", "gpt-4o-mini-2024-07-18", .input),
    ])
    func lineItems(_ example: (String, String, OpenAIUsageReader.TokenKind)) {
        let (model, kind) = OpenAIUsageReader.lineItem(example.0)
        #expect(model == example.1)
        #expect(kind == example.2)
    }

    @Test(arguments: ["assistants api | file search", "web search tool calls", ", input", "code interpreter sessions, gpt-4o sessions"])
    func lineItemsWithoutAModel(_ text: String) {
        let (model, _) = OpenAIUsageReader.lineItem(text)
        #expect(model == nil)
    }

    static func costResult(_ value: String, currency: String = "usd", item: String? = "gpt-5-2025-08-07, input",
                           quantity: String = "1000", unit: String = "\"tokens\"") -> String {
        let itemJSON = item.map { "\"\($0)\"" } ?? "null"
        return "{\"object\": \"organization.costs.result\", \"amount\": {\"value\": \(value), \"currency\": \"\(currency)\"}, "
            + "\"line_item\": \(itemJSON), \"project_id\": \"proj_a\", \"quantity\": \(quantity), \"quantity_unit\": \(unit)}"
    }

    @Test func costResultsEdgeCases() throws {
        let results = [
            Self.costResult("\"0.1234567895\""),  // rounded half away from zero to the nano-dollar
            Self.costResult("2e-3", quantity: "1.5", unit: "\"1000_tokens\""),  // 1,500 tokens, exactly
            Self.costResult("1", currency: "EUR"),
            Self.costResult("1e30"),  // past a billion USD: malformed, never wrapped
            Self.costResult("\"-0.5\""),  // a credit
            Self.costResult("1", item: nil),
            Self.costResult("1", quantity: "\"lots\""),
            Self.costResult("1", quantity: "2", unit: "\"requests\""),  // not tokens: no token count
            "{\"object\": \"organization.usage.images.result\", \"images\": 3, \"model\": \"gpt-image-1\"}",
        ]
        let page = UsageImporterTests.page([(1_795_737_600, results)])
        let imported = try importLog(page, format: .openaiUsage)
        #expect(imported.records.count == 3, "\(imported.malformed)")
        #expect(imported.records.map(\.request.cost) == [USD(nanos: 123_456_790), USD(nanos: 2_000_000), USD(dollars: 1)])
        #expect(imported.records.map(\.request.usage.inputTokens) == [1_000, 1_500, 0])
        #expect(imported.skipped == [OpenAIUsageReader.skippedCredit: 1, OpenAIUsageReader.skippedOtherUsage: 1])
        let messages = imported.malformed.map(\.message)
        #expect(messages.count == 4)
        #expect(messages.contains { $0.contains("USD only") })
        #expect(messages.contains { $0.contains("amount.value must be an amount of USD") })
        #expect(messages.contains { $0.contains("group_by=line_item") })
        #expect(messages.contains { $0.contains("quantity must be a number") })
    }

    @Test func detectsOpenAIPages() throws {
        for name in ["openai/costs-page.json", "openai/usage-embeddings-page.json", "openai/usage-completions-page.json"] {
            let head = Array(try Data(contentsOf: URL(fileURLWithPath: Bodies.export(name))).prefix(UsageLogs.detectionBytes))
            #expect(UsageLogs.detect(head) == .openaiUsage, "\(name)")
        }
        #expect(UsageLogs.detect(Array("{\"object\": \"organization.costs.result\", \"amount\": {}}".utf8)) == .openaiUsage)
    }

    // MARK: OpenAI embeddings

    @Test func embeddingsPage() throws {
        let imported = try importFile(Bodies.export("openai/usage-embeddings-page.json"))
        #expect(imported.malformed.isEmpty, "\(imported.malformed)")
        #expect(imported.records.count == 3)
        #expect(Bodies.tokens(imported) == [87_000_000, 0, 0, 0])
        #expect(imported.records.map(\.request.model) == ["text-embedding-3-small", "text-embedding-3-large", "text-embedding-3-small"])
        #expect(imported.records.allSatisfy { $0.request.tags["endpoint"] == "embeddings" && $0.request.cost == nil })
        #expect(Bodies.days(imported) == ["2026-11-01": 2, "2026-11-02": 1])
        // The first bucket starts at the query's start_time (05:00Z) and ends with the UTC day:
        // shorter than a day, it counts at its midpoint (docs/importers.md, "Buckets: the day they count on").
        #expect(imported.records.first?.timestamp == Timestamp(rfc3339: "2026-11-01T14:30:00Z"))
        #expect(imported.records.first?.request.tags["requests"] == "12000")
    }

    @Test func completionsPageIsUnchanged() throws {
        let imported = try importFile(Bodies.export("openai/usage-completions-page.json"))
        #expect(imported.malformed.isEmpty, "\(imported.malformed)")
        #expect(imported.records.count == 6)
        #expect(Bodies.tokens(imported) == [19_160_000, 1_320_000, 20_000, 3_087_000])
        #expect(imported.records.allSatisfy { $0.request.tags["endpoint"] == nil })
    }
}
