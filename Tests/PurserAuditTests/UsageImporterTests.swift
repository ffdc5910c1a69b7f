import Foundation
import Testing
import PurserAudit
import Purser
import PurserTestSupport

@Suite("OpenAI usage and FOCUS importers")
struct UsageImporterTests {
    static func result(model: String? = "gpt-5", input: Int = 1000, cached: Int = 400, output: Int = 50, requests: Int = 7,
                       project: String = "proj_a", extra: String = "") -> String {
        let modelJSON = model.map { "\"\($0)\"" } ?? "null"
        return "{\"object\": \"organization.usage.completions.result\", \"input_tokens\": \(input), \"output_tokens\": \(output), "
            + "\"input_cached_tokens\": \(cached), \"input_audio_tokens\": 0, \"output_audio_tokens\": 0, \"num_model_requests\": \(requests), "
            + "\"project_id\": \"\(project)\", \"user_id\": \"user_1\", \"api_key_id\": \"key_1\", \"model\": \(modelJSON), \"batch\": false\(extra)}"
    }

    static func page(_ buckets: [(Int, [String])]) -> String {
        let data = buckets.map { start, results in
            "{\"object\": \"bucket\", \"start_time\": \(start), \"end_time\": \(start + 86_400), \"results\": [\(results.joined(separator: ", "))]}"
        }
        return "{\"object\": \"page\", \"data\": [\(data.joined(separator: ", "))], \"has_more\": false, \"next_page\": null}"
    }

    /// Exports write a missing value as `null`, `None` or `NULL`; other four-byte words are values.
    @Test(arguments: [("null", true), ("None", true), ("NULL", true), ("nOnE", true), ("nul", false), ("nulls", false),
                      ("noun", false), ("mull", false), ("n\u{0}ll", false), ("", false)])
    func nullWords(_ text: String, _ expected: Bool) {
        let bytes = Array(text.utf8)
        bytes.withUnsafeBufferPointer { buffer in
            #expect(ImportValues.isNullWord(buffer[...]) == expected, "\(text)")
        }
    }

    @Test func openAIResultBecomesOneRecord() throws {
        let imported = try importLog(Self.page([(1_795_737_600, [Self.result()])]) + "\n", format: .openaiUsage)
        let record = try #require(imported.records.first)
        #expect(record.timestamp == Timestamp(seconds: 1_795_737_600 + 43_200))  // a UTC day counts at its noon (no policy: UTC)
        #expect(record.request.model == "gpt-5")
        #expect(record.request.team == "proj_a")
        #expect(record.request.user == "user_1")
        #expect(record.request.cost == nil)
        // input_tokens includes the cached tokens.
        #expect(record.request.usage == Usage(inputTokens: 600, cachedInputTokens: 400, outputTokens: 50))
        #expect(record.request.tags == ["requests": "7", "api_key_id": "key_1", "batch": "false"])
    }

    @Test(arguments: ["page", "array", "jsonl", "pretty"])
    func openAIFileShapes(shape: String) throws {
        let first = Self.page([(1_795_737_600, [Self.result(), Self.result(model: "gpt-4.1")])])
        let second = Self.page([(1_795_824_000, [Self.result(model: "o4-mini")])])
        let content: String
        switch shape {
        case "page": content = first
        case "array": content = "[\n" + first + ",\n" + second + "\n]\n"
        case "jsonl": content = first + "\n" + second + "\n"
        default:
            let object = try JSONSerialization.jsonObject(with: Data(first.utf8))
            let pretty = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
            content = String(decoding: pretty, as: UTF8.self)
        }
        let imported = try importLog(content, name: "usage.json")  // detected
        #expect(imported.malformed.isEmpty, "\(imported.malformed)")
        let expected = shape == "page" || shape == "pretty" ? ["gpt-5", "gpt-4.1"] : ["gpt-5", "gpt-4.1", "o4-mini"]
        #expect(imported.records.map(\.request.model) == expected)
        if shape == "jsonl" { #expect(imported.lines == [1, 1, 2]) }
        if shape == "pretty" {
            // The line of each result object.
            let lines = content.split(separator: "\n", omittingEmptySubsequences: false)
            for record in imported.records {
                let line = lines[record.location.line - 1]
                #expect(line.contains("{"), "\(line)")
            }
            #expect(Set(imported.lines).count == 2)
        }
    }

    @Test func openAIBadResultsAndPages() throws {
        let lines = [
            Self.page([(1_795_737_600, [Self.result(), Self.result(model: nil), Self.result(extra: ", \"input_tokens\": \"many\"")])]),
            "{\"object\": \"page\", \"data\": [{\"object\": \"bucket\", \"results\": [\(Self.result())]}]}",
            "garbage",
            "{\"object\": \"list\"}",
            String(Self.page([(1_795_737_600, [Self.result()])]).dropLast(10)),
        ]
        let imported = try importLog(lines.joined(separator: "\n"), format: .openaiUsage)
        #expect(imported.records.count == 1)
        #expect(imported.malformedLines == [1, 1, 2, 3, 4, 5])
        #expect(imported.malformed[0].message.contains("group_by=model"))
        #expect(imported.malformed[2].message.contains("no start_time"))
        #expect(imported.malformed[5].message.contains("truncated"))
    }

    @Test func openAICacheWriteTokensAndMap() throws {
        let result = Self.result(input: 1000, cached: 300, extra: ", \"input_cache_write_tokens\": 200, \"service_tier\": \"flex\"")
        let imported = try importLog(Self.page([(1_795_737_600, [result])]), format: .openaiUsage,
                                     maps: ["team=tags.api_key_id", "environment=service_tier"])
        let request = try #require(imported.records.first).request
        #expect(request.usage == Usage(inputTokens: 500, cachedInputTokens: 300, cacheWriteTokens: 200, outputTokens: 50))
        #expect(request.team == "key_1")
        #expect(request.environment == "flex")
    }

    // MARK: FOCUS

    static let focusHeader = "BilledCost,BillingCurrency,ChargeCategory,ChargeDescription,ChargePeriodEnd,ChargePeriodStart,"
        + "ConsumedQuantity,ConsumedUnit,EffectiveCost,RegionId,ResourceName,ServiceName,SkuId,Tags,x_Project"

    static func focusRow(cost: String = "1.25", category: String = "Usage", description: String = "input tokens",
                         start: String = "2026-11-22T10:00:00Z", quantity: String = "1000", unit: String = "Tokens",
                         sku: String = "claude-sonnet-4-5", tags: String = "{\"team\": \"payments\", \"env\": \"production\", \"user\": \"bob\"}",
                         currency: String = "USD") -> String {
        csvLine([cost, currency, category, description, "2026-11-22T11:00:00Z", start, quantity, unit, cost, "us-east-1",
                 "workspace-1", "Claude", sku, tags, "checkout"])
    }

    @Test func focusUsageRow() throws {
        let imported = try importLog(Self.focusHeader + "\n" + Self.focusRow(cost: "0.0000000125") + "\n", name: "focus.csv")
        let request = try #require(imported.records.first).request
        #expect(request.timestamp == Timestamp(rfc3339: "2026-11-22T10:30:00Z"))  // the hour 10:00–11:00 counts at its midpoint
        #expect(request.cost == USD(nanos: 13))  // rounded half away from zero to the nano-dollar
        #expect(request.model == "claude-sonnet-4-5")
        #expect(request.region == "us-east-1")
        #expect(request.team == "payments")
        #expect(request.environment == "production")
        #expect(request.user == "bob")
        #expect(request.usage == Usage(inputTokens: 1000))
    }

    @Test(arguments: [
        ("Tokens", "claude-sonnet-4-5-output", "", Usage(outputTokens: 1000)),
        ("Output Tokens", "sku", "", Usage(outputTokens: 1000)),
        ("1000 Tokens", "sku", "prompt", Usage(inputTokens: 1_000_000)),
        ("1M Tokens", "sku", "cached input tokens", Usage(cachedInputTokens: 1_000_000_000)),
        ("Tokens", "sku", "cache write tokens", Usage(cacheWriteTokens: 1000)),
        ("Tokens", "sku", "", Usage(inputTokens: 1000)),
        ("Requests", "sku", "output", Usage()),
    ])
    func focusTokenDirection(_ example: (String, String, String, Usage)) throws {
        let row = Self.focusRow(description: example.2, unit: example.0, sku: example.1)
        let imported = try importLog(Self.focusHeader + "\n" + row + "\n", format: .focus)
        #expect(try #require(imported.records.first).request.usage == example.3)
    }

    @Test func focusSkipsAndReports() throws {
        let rows = [
            Self.focusRow(),
            Self.focusRow(category: "Tax"),
            Self.focusRow(cost: "-5", category: "Credit"),
            Self.focusRow(category: "Purchase"),
            Self.focusRow(cost: "-0.40"),
            Self.focusRow(start: ""),
            Self.focusRow(cost: "abc"),
            Self.focusRow(currency: "EUR"),
            Self.focusRow(tags: "[1, 2]"),
            Self.focusRow(sku: "unknown-model-x"),
            "1,2,3",
        ]
        let imported = try importLog(Self.focusHeader + "\r\n" + rows.joined(separator: "\r\n"), format: .focus)
        #expect(imported.records.map(\.request.model) == ["claude-sonnet-4-5", "unknown-model-x"])
        #expect(imported.skipped == ["focus: Tax charge": 1, "focus: Credit charge": 1, "focus: Purchase charge": 1,
                                     "focus: negative BilledCost (refund)": 1])
        #expect(imported.malformedLines == [7, 8, 9, 10, 12])
        #expect(imported.malformed[2].message.contains("EUR"))
    }

    @Test func focusMapAndModelColumn() throws {
        let header = Self.focusHeader + ",x_Model"
        let row = Self.focusRow() + ",gpt-5"
        let byDefault = try importLog(header + "\n" + row + "\n", format: .focus)
        #expect(byDefault.records.first?.request.model == "gpt-5")  // a vendor model column wins over SkuId
        let mapped = try importLog(header + "\n" + row + "\n", format: .focus,
                                   maps: ["model=ResourceName", "team=x_Project", "environment=Tags.team", "tags.service=ServiceName"])
        let request = try #require(mapped.records.first).request
        #expect(request.model == "workspace-1")
        #expect(request.team == "checkout")
        #expect(request.environment == "payments")
        #expect(request.tags["service"] == "Claude")
    }
}
