import Foundation
import Testing
import PurserAudit
import Purser
import PurserTestSupport

/// The bodies of LiteLLM's spend-log endpoints, read from the fixtures in
/// examples/exports/litellm (its README gives the expected numbers; team
/// aliases do not exist yet, so only what is independent of them is checked:
/// counts, tokens, cost, models and UTC days). The helpers serve the OpenAI
/// fixtures' tests too.
@Suite("API bodies: LiteLLM spend-log endpoints")
struct LiteLLMAPIBodyTests {
    static func export(_ name: String) -> String { repositoryRoot + "/examples/exports/" + name }

    /// Token totals of the records: input, cached, cache write, output.
    static func tokens(_ imported: Imported) -> [Int64] {
        imported.records.reduce(into: [0, 0, 0, 0]) { sum, record in
            let usage = record.request.usage
            sum[0] += usage.inputTokens
            sum[1] += usage.cachedInputTokens
            sum[2] += usage.cacheWriteTokens
            sum[3] += usage.outputTokens
        }
    }

    /// The exact sum of the records' costs.
    static func cost(_ imported: Imported) -> USDTotal {
        imported.records.reduce(into: USDTotal.zero) { $0 += $1.request.cost ?? .zero }
    }

    /// Records per UTC day of their timestamps.
    static func days(_ imported: Imported) -> [String: Int] {
        imported.records.reduce(into: [:]) { $0[String($1.timestamp.description.prefix(10)), default: 0] += 1 }
    }

    static func audit(_ names: [String]) throws -> AuditReport {
        let policy = try #require(PolicySet.load(paths: [repositoryRoot + "/policies"]).policy)
        var options = AuditOptions()
        options.temporaryDirectory = NSTemporaryDirectory()
        return try Auditor(policy: try CompiledPolicy(policy), options: options).run(names.map(export))
    }

    @Test func legacySpendLogsArray() throws {
        let imported = try importFile(Self.export("litellm/spend-logs-v1.json"))
        #expect(imported.malformed.isEmpty, "\(imported.malformed)")
        #expect(imported.records.count == 5)
        #expect(imported.skipped == [LiteLLMMapping.skippedFailure: 1])
        #expect(Self.tokens(imported) == [61_050, 25_400, 1_000, 8_400])
        #expect(Self.cost(imported) == USDTotal(try #require(USD("0.07832"))))
        #expect(imported.records.map(\.request.model) == [
            "claude-sonnet-4-5-20250929", "gpt-4.1", "gpt-5-mini", "eu.anthropic.claude-haiku-4-5-20251001-v1:0", "gemini-2.5-flash",
        ].reversed())
        #expect(Self.days(imported) == ["2026-11-01": 3, "2026-11-02": 2])
        // Each record at the line of its opening brace.
        let lines = try String(contentsOfFile: Self.export("litellm/spend-logs-v1.json"), encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false)
        for record in imported.records { #expect(lines[record.location.line - 1].trimmingCharacters(in: .whitespaces) == "{") }
    }

    @Test func spendLogsV2Pages() throws {
        let first = try importFile(Self.export("litellm/spend-logs-v2-page1.json"))
        let second = try importFile(Self.export("litellm/spend-logs-v2-page2.json"))
        #expect(first.malformed.isEmpty && second.malformed.isEmpty, "\(first.malformed) \(second.malformed)")
        #expect(first.records.count == 4)
        #expect(second.records.count == 3)
        #expect(Self.tokens(first) == [65_000, 85_000, 0, 11_300])
        #expect(Self.tokens(second) == [15_900, 17_000, 5_000, 3_400])
        #expect(Self.cost(first) == USDTotal(try #require(USD("0.124525"))))
        #expect(Self.cost(second) == USDTotal(try #require(USD("0.154575"))))
        #expect(Set(first.records.map(\.request.model)) == ["gpt-4.1-mini", "claude-haiku-4-5-20251001", "gpt-5", "gpt-5-mini"])
        #expect(second.records.map(\.request.model) == ["gpt-5-mini", "claude-opus-4-5-20251101", "gpt-5-mini"])
        #expect(Self.days(first) == ["2026-11-15": 4])
        #expect(Self.days(second) == ["2026-11-14": 3])
        // The failed call with spend is counted and tagged.
        #expect(second.records.last?.request.tags["status"] == "failure")
        // Page 2 is one line.
        #expect(Set(second.lines) == [1])
    }

    @Test func spendLogBodiesAuditToTheCent() throws {
        let report = try Self.audit(["litellm/spend-logs-v1.json", "litellm/spend-logs-v2-page1.json", "litellm/spend-logs-v2-page2.json"])
        #expect(report.summary.records == 12)
        #expect(report.summary.malformed == 0)
        #expect(report.summary.skipped == [LiteLLMMapping.skippedFailure: 1])
        // 0.07832 + 0.2791
        #expect(report.summary.totalSpend == USD("0.35742"))
    }

    @Test func newestFirstRowsAreReplayedInTimeOrder() throws {
        // Both pages in one file, newest first: the rows of a chunk of the file come in one
        // batch, which is sorted; batches out of order would be sorted on disk.
        let pages = try ["litellm/spend-logs-v2-page1.json", "litellm/spend-logs-v2-page2.json"].map {
            try String(contentsOfFile: Self.export($0), encoding: .utf8)
        }
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        let path = directory + "/pages.json"
        try Data((pages[0] + pages[1]).utf8).write(to: URL(fileURLWithPath: path))
        let policy = try #require(PolicySet.load(paths: [repositoryRoot + "/policies"]).policy)
        var options = AuditOptions()
        options.temporaryDirectory = NSTemporaryDirectory()
        options.logs.batchSize = 1
        let report = try Auditor(policy: try CompiledPolicy(policy), options: options).run([path])
        #expect(report.summary.records == 7)
        #expect(report.summary.malformed == 0)
        #expect(report.summary.totalSpend == USD("0.2791"))
        #expect(report.summary.first == Timestamp(rfc3339: "2026-11-14T09:00:00Z"))
        #expect(report.summary.last == Timestamp(rfc3339: "2026-11-15T22:10:05.771Z"))
    }

    @Test(arguments: ["litellm/spend-logs-v1.json", "litellm/spend-logs-v2-page1.json", "litellm/spend-logs-v2-page2.json",
                      "litellm/spend-logs-v1-summarized.json"])
    func detectsLiteLLMBodies(_ name: String) throws {
        let head = Array(try Data(contentsOf: URL(fileURLWithPath: Self.export(name))).prefix(UsageLogs.detectionBytes))
        #expect(UsageLogs.detect(head) == .litellm)
    }

    @Test(arguments: [UsageLogFormat.auto, .litellm])
    func summarizedSpendLogsAreRejected(format: UsageLogFormat) throws {
        do {
            _ = try importFile(Self.export("litellm/spend-logs-v1-summarized.json"), format: format)
            Issue.record("the summarized body was read")
        } catch let error as UsageLogError {
            #expect(error.file.hasSuffix("spend-logs-v1-summarized.json"))
            #expect(error.message.hasPrefix("line 2: "), "\(error.message)")
            #expect(error.message.contains("summarized") && error.message.contains("summarize=false"), "\(error.message)")
        }
    }

    @Test func summaryAfterRowsIsRejectedToo() throws {
        let row = LiteLLMFixture.jsonLine(LiteLLMFixture.values())
        let body = "[\n" + row + ",\n{\"users\": {}, \"models\": {}, \"spend\": 0, \"startTime\": \"2026-11-03\"}\n]\n"
        do {
            _ = try importLog(body, format: .litellm)
            Issue.record("the summarized day was read")
        } catch let error as UsageLogError {
            #expect(error.message.hasPrefix("line 3: "), "\(error.message)")
        }
    }

    @Test func emptyAndTruncatedPages() throws {
        let empty = try importLog("{\"data\": [], \"total\": 0, \"page\": 1, \"page_size\": 50, \"total_pages\": 0}\n")
        #expect(empty.records.isEmpty && empty.malformed.isEmpty && empty.skipped.isEmpty)
        let pretty = try importLog("{\n  \"data\": [],\n  \"total\": 0,\n  \"page\": 1,\n  \"page_size\": 50,\n  \"total_pages\": 0\n}\n")
        #expect(pretty.records.isEmpty && pretty.malformed.isEmpty)

        let page = try String(contentsOfFile: Self.export("litellm/spend-logs-v2-page1.json"), encoding: .utf8)
        let truncated = try importLog(String(page.prefix(page.utf8.count / 2)), name: "page.json", format: .auto)
        #expect(truncated.records.isEmpty)
        #expect(truncated.malformed.count == 1)
        #expect(truncated.malformedLines == [1])
        #expect(truncated.malformed.first?.message.contains("truncated") == true)
        #expect(truncated.malformed.first?.location.description.hasSuffix("page.json:1") == true, "\(truncated.malformed)")
    }

    @Test func badRowsInAPageAreLocated() throws {
        let good = LiteLLMFixture.jsonLine(LiteLLMFixture.values(id: "r-1"))
        let noTime = LiteLLMFixture.jsonLine(LiteLLMFixture.values(id: "r-2", start: ""))
        let body = "{\n\"data\": [\n" + good + ",\n" + noTime + ",\n" + good + "\n],\n\"total\": 3, \"page\": 1, \"total_pages\": 1\n}\n"
        let imported = try importLog(body, format: .auto)
        #expect(imported.records.count == 2)
        #expect(imported.lines == [3, 5])
        #expect(imported.malformedLines == [4])
        // A syntax error stops the page where it is, with its line and column.
        let broken = try importLog("{\n\"data\": [\n" + good + ",\n{\"spend\": 1,,}\n]}\n", format: .litellm)
        #expect(broken.records.count == 1)
        #expect(broken.malformedLines == [4])
        #expect(broken.malformed.first?.message.hasPrefix("column 13:") == true, "\(broken.malformed)")
    }

    @Test func pageRowsTakeTheMapRules() throws {
        let page = try importFile(Self.export("litellm/spend-logs-v2-page1.json"), maps: ["team=metadata.user_api_key_team_alias"])
        #expect(Set(page.records.compactMap(\.request.team)) == ["data-platform", "payments", "search", "growth"])
    }

    @Test func jsonLinesStayJSONLines() throws {
        let rows = (0..<3).map { LiteLLMFixture.jsonLine(LiteLLMFixture.values(id: "r\($0)")) }
        // A broken line stays one malformed line, not the rest of the file.
        let imported = try importLog(rows[0] + "\n{\"request_id\": \"x\", \"spend\": [\n" + rows[1] + "\n" + rows[2] + "\n", format: .litellm)
        #expect(imported.records.count == 3)
        #expect(imported.malformedLines == [2])
    }
}
