import Foundation
import Testing
import PurserAudit
import Purser
import PurserTestSupport

@Suite("LiteLLM spend-log importer")
struct LiteLLMImporterTests {
    /// The same row read from the CSV export and from JSON lines.
    static let layouts = ["csv", "jsonl"]

    static func read(_ rows: [[String: String]], as layout: String, maps: [String] = []) throws -> Imported {
        let content = layout == "csv" ? LiteLLMFixture.csv(rows) : rows.map(LiteLLMFixture.jsonLine).joined(separator: "\n") + "\n"
        return try importLog(content, name: "spend." + layout, format: .litellm, maps: maps)
    }

    @Test(arguments: layouts)
    func mapsTheDefaults(layout: String) throws {
        let imported = try Self.read([LiteLLMFixture.values()], as: layout)
        #expect(imported.malformed.isEmpty)
        let request = try #require(imported.records.first).request
        #expect(request.id == "r-1")
        #expect(request.timestamp == Timestamp(rfc3339: "2026-11-22T10:00:00.123456Z"))
        #expect(request.model == "claude-sonnet-4-5")  // the provider prefix repeats custom_llm_provider
        #expect(request.team == "payments")
        #expect(request.environment == "production")
        #expect(request.user == "alice")
        #expect(request.tags == ["env": "production", "project": "checkout"])
        #expect(request.cost == USD("0.0123"))
        // prompt_tokens counts cache reads and writes: 1000 - 300 - 100.
        #expect(request.usage == Usage(inputTokens: 600, cachedInputTokens: 300, cacheWriteTokens: 100, outputTokens: 200))
        #expect(imported.lines == [layout == "csv" ? 2 : 1])
    }

    @Test(arguments: [
        // (prompt, read, write, expected input): current LiteLLM counts reads and writes in prompt_tokens,
        // older versions only reads, and a prompt below the reads is taken as already uncached.
        (1000, 300, 100, 600), (350, 300, 100, 50), (200, 300, 0, 200), (1000, 0, 0, 1000),
    ])
    func subtractsCachedTokens(_ example: (Int, Int, Int, Int)) throws {
        let (prompt, read, write, expected) = example
        let metadata = "{\"additional_usage_values\": {\"prompt_tokens_details\": {\"cached_tokens\": \(read)}, \"cache_creation_input_tokens\": \(write)}}"
        let imported = try Self.read([LiteLLMFixture.values(prompt: String(prompt), metadata: metadata)], as: "jsonl")
        let usage = try #require(imported.records.first).request.usage
        #expect(usage.inputTokens == Int64(expected))
        #expect(usage.cachedInputTokens == Int64(read))
        #expect(usage.cacheWriteTokens == Int64(write))
    }

    @Test(arguments: [
        ("anthropic/claude-sonnet-4-5", "anthropic", "claude-sonnet-4-5"),
        ("openai/gpt-5", "openai", "gpt-5"),
        ("openai/gpt-5", "azure", "openai/gpt-5"),  // the prefix is not the provider: kept
        ("gpt-5", "openai", "gpt-5"),
        ("bedrock/us.anthropic.claude", "bedrock", "us.anthropic.claude"),
    ])
    func stripsOnlyTheProviderPrefix(_ example: (String, String, String)) throws {
        let imported = try Self.read([LiteLLMFixture.values(model: example.0, provider: example.1)], as: "csv")
        #expect(try #require(imported.records.first).request.model == example.2)
    }

    @Test(arguments: [
        ("2026-11-22 10:00:00.123456", "2026-11-22T10:00:00.123456Z"),
        ("2026-11-22T10:00:00.123Z", "2026-11-22T10:00:00.123Z"),
        ("2026-11-22T11:00:00+01:00", "2026-11-22T10:00:00Z"),
        ("2026-11-22 05:00:00-05", "2026-11-22T10:00:00Z"),
        ("2026-11-22 10:00:00.5+0000", "2026-11-22T10:00:00.5Z"),
        ("2026-11-22 10:00:00 UTC", "2026-11-22T10:00:00Z"),
        ("1795341600", "2026-11-22T10:00:00Z"),
    ])
    func readsTimestampsInEveryForm(_ example: (String, String)) throws {
        let imported = try Self.read([LiteLLMFixture.values(start: example.0)], as: "csv")
        #expect(imported.malformed.isEmpty, "\(imported.malformed)")
        #expect(try #require(imported.records.first).timestamp == Timestamp(rfc3339: example.1))
    }

    @Test func mixedOffsetsLandOnOneTimeline() throws {
        let rows = [
            LiteLLMFixture.values(id: "a", start: "2026-11-22T12:00:00+02:00"),
            LiteLLMFixture.values(id: "b", start: "2026-11-22 09:30:00"),
            LiteLLMFixture.values(id: "c", start: "2026-11-22T04:45:00-05:00"),
        ]
        let imported = try Self.read(rows, as: "csv")
        let times = imported.records.map { $0.timestamp.description }
        #expect(times == ["2026-11-22T10:00:00Z", "2026-11-22T09:30:00Z", "2026-11-22T09:45:00Z"])
    }

    @Test(arguments: layouts)
    func failedCallsCountOnlyWhenTheyCost(layout: String) throws {
        let imported = try Self.read([
            LiteLLMFixture.values(id: "free", spend: "0", status: "failure"),
            LiteLLMFixture.values(id: "paid", spend: "0.5", status: "failure"),
        ], as: layout)
        #expect(imported.records.map(\.request.id) == ["paid"])
        #expect(imported.records.first?.request.tags["status"] == "failure")
        #expect(imported.skipped == [LiteLLMMapping.skippedFailure: 1])
    }

    @Test func floatSpendIsExactToTheNanoDollar() throws {
        let imported = try Self.read([
            LiteLLMFixture.values(id: "a", spend: "1.2345678901e-05"),
            LiteLLMFixture.values(id: "b", spend: "0.004494910647887381"),
            LiteLLMFixture.values(id: "c", spend: "2.9999900000000002e-06"),
        ], as: "jsonl")
        #expect(imported.records.map(\.request.cost) == [USD(nanos: 12346), USD(nanos: 4_494_911), USD(nanos: 3000)])
    }

    @Test(arguments: layouts)
    func mapOverridesDefaults(layout: String) throws {
        let metadata = "{\"user_api_key_team_alias\": \"search\", \"spend_logs_metadata\": {\"cost_center\": \"cc-42\"}}"
        let imported = try Self.read([LiteLLMFixture.values(metadata: metadata)], as: layout, maps: [
            "team=metadata.user_api_key_team_alias", "environment=tags.project", "region=api_key",
            "tags.cost_center=metadata.spend_logs_metadata.cost_center", "user=metadata.missing",
        ])
        let request = try #require(imported.records.first).request
        #expect(request.team == "search")
        #expect(request.environment == "checkout")
        #expect(request.region == "hash")
        #expect(request.tags["cost_center"] == "cc-42")
        #expect(request.user == "alice")  // a path with no value leaves the default
    }

    @Test func metadataAndTagsMayBeJSONStrings() throws {
        // SpendLogsPayload writes metadata and request_tags as JSON text.
        let line = "{\"request_id\": \"r\", \"startTime\": \"2026-11-22T10:00:00Z\", \"model\": \"gpt-5\", \"spend\": 0.1, "
            + "\"metadata\": \"{\\\"user_api_key_team_alias\\\": \\\"growth\\\", \\\"environment\\\": \\\"staging\\\"}\", "
            + "\"request_tags\": \"[\\\"batch\\\"]\"}\n"
        let imported = try importLog(line, format: .litellm)
        let request = try #require(imported.records.first).request
        #expect(request.team == "growth")
        #expect(request.environment == "staging")
        #expect(request.tags == ["batch": "true"])
    }

    @Test func unknownModelsAreRecordsNotMalformed() throws {
        let imported = try Self.read([LiteLLMFixture.values(model: "mystery-model-9000", provider: "")], as: "csv")
        #expect(imported.malformed.isEmpty)
        #expect(imported.records.first?.request.model == "mystery-model-9000")
    }

    @Test func badRowsAreReportedByLine() throws {
        var rows = [LiteLLMFixture.values(id: "ok")]
        rows.append(LiteLLMFixture.values(id: "no-time", start: ""))
        rows.append(LiteLLMFixture.values(id: "bad-time", start: "yesterday"))
        rows.append(LiteLLMFixture.values(id: "bad-spend", spend: "lots"))
        rows.append(LiteLLMFixture.values(id: "bad-tokens", prompt: "-5"))
        rows.append(LiteLLMFixture.values(id: "bad-metadata", metadata: "{not json"))
        rows.append(LiteLLMFixture.values(id: "no-model", model: "", provider: "").merging(["model_group": ""]) { $1 })
        var content = LiteLLMFixture.csv(rows)
        content += "too,few,fields\n"
        let imported = try importLog(content, format: .litellm)
        #expect(imported.records.map(\.request.id) == ["ok"])
        #expect(imported.malformedLines == [3, 4, 5, 6, 7, 8, 9])
        #expect(imported.malformed[0].message.contains("startTime"))
        #expect(imported.malformed[3].message.contains("prompt_tokens"))
        #expect(imported.malformed[6].message.contains("3 fields; the header has 26"))
    }

    @Test func badJSONLinesAreReportedByLine() throws {
        let lines = [
            LiteLLMFixture.jsonLine(LiteLLMFixture.values(id: "a")),
            "{\"request_id\": \"b\", \"startTime\": 12, \"model\": \"gpt-5\"",  // unterminated
            "not json at all",
            "{\"request_id\": \"c\", \"startTime\": \"2026-11-22T10:00:00Z\", \"model\": [1], \"spend\": 0.1}",
            "{\"request_id\": \"d\", \"model\": \"gpt-5\", \"spend\": 0.1}",
            "",
            String(LiteLLMFixture.jsonLine(LiteLLMFixture.values(id: "e")).dropLast(3)),  // a truncated last line
        ]
        let imported = try importLog(lines.joined(separator: "\n"), format: .litellm)
        #expect(imported.records.map(\.request.id) == ["a"])
        #expect(imported.malformedLines == [2, 3, 4, 5, 7])
        #expect(imported.malformed[3].message.contains("no startTime"))
    }

    @Test func csvWithQuotedNewlinesCRLFAndBOM() throws {
        var first = LiteLLMFixture.values(id: "multi")
        first["messages"] = "[{\"role\": \"user\", \"content\": \"line one\nline two\r\nline \"\"three\"\"\"}]"
        let second = LiteLLMFixture.values(id: "after")
        let content = "\u{FEFF}" + LiteLLMFixture.csv([first, second], lineEnd: "\r\n")
        let imported = try importLog(content, format: .litellm)
        #expect(imported.malformed.isEmpty, "\(imported.malformed)")
        #expect(imported.records.map(\.request.id) == ["multi", "after"])
        #expect(imported.lines == [2, 5])
    }

    /// Names read through the cache are the names read without it, or fail as they fail:
    /// repeated and distinct names, spaces, null words, invalid UTF-8, names over the limit.
    @Test func cachedNamesAreTheNamesReadWithoutTheCache() {
        var generator = SeededRandom(seed: 5)
        let pieces: [[UInt8]] = [Array("payments".utf8), Array("gpt-5".utf8), Array(" qa ".utf8), Array("null".utf8), [],
                                 Array("caf\u{E9}".utf8), [0xC3], [0xFF, 0x41], Array(String(repeating: "n", count: 300).utf8),
                                 Array("us-east-1".utf8), Array("None".utf8)]
        var cache = NameCache()
        var cachedHits = 0
        for _ in 0..<5000 {
            var bytes: [UInt8] = []
            for _ in 0..<(1 + Int(generator.next() % 2)) { bytes += pieces[Int(generator.next() % UInt64(pieces.count))] }
            if generator.next() % 4 == 0 { bytes += Array(String(generator.next() % 50).utf8) }
            bytes.withUnsafeBufferPointer { buffer in
                let plain = Result { () throws(RecordProblem) in try ImportValues.name(buffer, "team") }
                let cached = Result { () throws(RecordProblem) in try ImportValues.name(buffer, "team", cache: &cache) }
                switch (plain, cached) {
                case (.success(let name), .success(let cachedName)):
                    #expect(name == cachedName && name?.utf8.elementsEqual(cachedName?.utf8 ?? "".utf8) != false)
                    if name != nil { cachedHits += 1 }
                case (.failure(let problem), .failure(let cachedProblem)):
                    #expect(problem.message == cachedProblem.message)
                default:
                    Issue.record("\(bytes): \(plain) without the cache, \(cached) with it")
                }
            }
        }
        #expect(cachedHits > 1000)
    }
}
