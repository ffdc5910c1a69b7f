import Foundation
import Testing
import PurserAudit
import Purser
import PurserTestSupport

@Suite("Importers: detection, limits and end-to-end audits")
struct ImporterAuditTests {
    @Test(arguments: [
        ("{\"object\": \"page\", \"data\": []}", UsageLogFormat.openaiUsage),
        ("{\n  \"data\": [\n    {\"object\": \"bucket\"", .openaiUsage),
        ("[{\"object\": \"page\"", .openaiUsage),
        ("{\"object\": \"bucket\", \"start_time\": 1, \"results\": []}", .openaiUsage),
        ("{\"request_id\": \"r\", \"spend\": 0.1}", .litellm),
        ("{\"startTime\": \"2026-11-22\"}", .litellm),
        ("{\"model\": \"gpt-5\", \"timestamp\": \"2026-11-22T10:00:00Z\"}", .purser),
        ("{\"broken\n{\"model\": \"gpt-5\", \"timestamp\": \"2026-11-22T10:00:00Z\"}", .purser),
        ("request_id,call_type,spend,startTime\n", .litellm),
        ("\u{FEFF}\"BilledCost\",\"ChargePeriodStart\"\r\n", .focus),
        ("BillingAccountId,ChargePeriodStart,BilledCost\n", .focus),
    ])
    func detects(_ example: (String, UsageLogFormat)) {
        #expect(UsageLogs.detect(Array(example.0.utf8)) == example.1)
    }

    @Test(arguments: ["{\"hello\": 1}", "name,age\nbob,3\n", "   \n"])
    func doesNotGuess(_ text: String) {
        #expect(UsageLogs.detect(Array(text.utf8)) == nil)
    }

    @Test(arguments: [UsageLogFormat.auto, .litellm, .openaiUsage, .focus, .decisionLog])
    func emptyFileHasNothing(format: UsageLogFormat) throws {
        let imported = try importLog("", format: format)
        #expect(imported.records.isEmpty && imported.malformed.isEmpty)
    }

    @Test func headerOnlyFilesHaveNothing() throws {
        #expect(try importLog(LiteLLMFixture.csv([]), format: .auto).records.isEmpty)
        #expect(try importLog(UsageImporterTests.focusHeader + "\n", format: .auto).malformed.isEmpty)
    }

    @Test func wrongHeaderIsAnError() throws {
        #expect(throws: UsageLogError.self) { try importLog("a,b\n1,2\n", format: .litellm) }
        #expect(throws: UsageLogError.self) { try importLog("a,b\n1,2\n", format: .focus) }
    }

    @Test(arguments: ["csv", "jsonl", "openai"])
    func hundredMegabyteLineIsOneMalformedRecord(layout: String) throws {
        let good = LiteLLMFixture.values()
        var bytes: [UInt8]
        switch layout {
        case "csv":
            // A column the importer reads (a long `messages` is streamed past: LongCSVRecordTests).
            var huge = good
            huge["metadata"] = "HUGE"
            let parts = csvLine(LiteLLMFixture.row(huge)).components(separatedBy: "HUGE")
            bytes = Array(LiteLLMFixture.csv([good]).utf8) + Array(parts[0].utf8)
            bytes += [UInt8](repeating: UInt8(ascii: "m"), count: 100_000_000)
            bytes += Array((parts[1] + "\n" + csvLine(LiteLLMFixture.row(good)) + "\n").utf8)
        case "jsonl":
            bytes = Array((LiteLLMFixture.jsonLine(good) + "\n{\"messages\": \"").utf8)
            bytes += [UInt8](repeating: UInt8(ascii: "m"), count: 100_000_000)
            bytes += Array(("\"}\n" + LiteLLMFixture.jsonLine(good) + "\n").utf8)
        default:
            let page = UsageImporterTests.page([(1_795_737_600, [UsageImporterTests.result()])])
            bytes = Array((page + "\n{\"object\": \"page\", \"data\": [], \"pad\": \"").utf8)
            bytes += [UInt8](repeating: UInt8(ascii: "m"), count: 100_000_000)
            bytes += Array(("\"}\n" + page + "\n").utf8)
        }
        let format: UsageLogFormat = layout == "openai" ? .openaiUsage : .litellm
        let imported = try importLog(bytes: bytes, name: "big." + layout, format: format)
        #expect(imported.records.count == 2)
        #expect(imported.malformed.count == 1)
        #expect(imported.malformed.first?.message.contains(layout == "csv" ? "column \"metadata\" is 100000000 bytes" : "record-size limit") == true,
                "\(imported.malformed.first?.message ?? "")")
        #expect(imported.malformedLines == [layout == "csv" ? 3 : 2])
    }

    @Test(arguments: [1, 3, 16_384])
    func batchesKeepFileOrder(batchSize: Int) throws {
        let rows = (0..<50).map { LiteLLMFixture.values(id: "r\($0)") }
        let imported = try importLog(LiteLLMFixture.csv(rows), format: .litellm, batchSize: batchSize)
        #expect(imported.records.map(\.request.id) == rows.map { $0["request_id"] })
    }

    // MARK: End to end

    static func audit(_ sample: String) throws -> AuditReport {
        let policy = try #require(PolicySet.load(paths: [repositoryRoot + "/policies"]).policy)
        var options = AuditOptions()
        options.temporaryDirectory = NSTemporaryDirectory()
        let auditor = Auditor(policy: try CompiledPolicy(policy), options: options)
        return try auditor.run([repositoryRoot + "/examples/samples/" + sample])
    }

    /// Audits `path` against the shipped policies in runs of 7 records and batches of 4, so that
    /// a log out of order beyond a batch is sorted on disk; checks that it was, with `records`
    /// records and none malformed.
    static func sortedAudit(_ path: String, records: Int) throws -> AuditReport {
        let policy = try #require(PolicySet.load(paths: [repositoryRoot + "/policies"]).policy)
        var options = AuditOptions()
        options.runSize = 7
        options.logs.batchSize = 4
        let report = try Auditor(policy: try CompiledPolicy(policy), options: options).run([path])
        #expect(report.summary.sorted)
        #expect(report.summary.records == records)
        #expect(report.summary.malformed == 0)
        return report
    }

    static func violations(_ report: AuditReport) throws -> [(Int, String, String)] {
        var found: [(Int, String, String)] = []
        try report.forEachViolation { found.append(($0.input.line, $0.violation.rule, $0.violation.effect.rawValue)) }
        return found
    }

    @Test func outOfOrderImportsSurviveTheDiskSort() throws {
        // Descending times across 4 MiB chunks make the auditor sort on disk (Purser JSON runs) and replay.
        let padding = String(repeating: "p", count: 100_000)
        let rows = (0..<60).map { index in
            var values = LiteLLMFixture.values(id: "r\(index)", spend: "0.00\(index + 10)", start: "2026-11-22 10:\(pad(59 - index)):00.5",
                                               tags: "[\"env:production\", \"feature:f\(index)\", \"batch\"]")
            values["messages"] = padding
            return values
        }
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        let path = directory + "/spend.csv"
        try Data(LiteLLMFixture.csv(rows).utf8).write(to: URL(fileURLWithPath: path))
        let report = try Self.sortedAudit(path, records: 60)
        // 0.0010 + 0.0011 + … + 0.0069 USD
        #expect(report.summary.totalSpend == USD(nanos: (0..<60).reduce(0) { $0 + Int64($1 + 10) * 100_000 }))
        #expect(report.summary.first == Timestamp(rfc3339: "2026-11-22T10:00:00.5Z"))
    }

    @Test func auditsTheLiteLLMSample() throws {
        let report = try Self.audit("litellm-spend-logs.csv")
        #expect(report.summary.records == 5)
        #expect(report.summary.malformed == 0)
        #expect(report.summary.skipped == [LiteLLMMapping.skippedFailure: 1])
        #expect(report.summary.totalSpend == USD("0.12905"))
        let violations = try Self.violations(report)
        #expect(violations.contains { $0 == (3, "environment-model", "deny") })  // payments sent claude-opus-4-5 in qa
        #expect(violations.contains { $0 == (12, "unknown-model", "deny") })  // after a record that spans several lines
    }

    @Test func auditsTheOpenAIUsageSample() throws {
        let report = try Self.audit("openai-usage-page.json")
        #expect(report.summary.records == 3)
        #expect(report.summary.malformed == 0)
        #expect(report.summary.unpricedRecords == 0)  // priced from the policy's catalog
        let violations = try Self.violations(report)
        // Project ids are not Purser teams until mapped.
        #expect(violations.contains { $0.1 == "unknown-team" && $0.2 == "deny" })
    }

    @Test func auditsTheFOCUSSample() throws {
        let report = try Self.audit("focus-1.0.csv")
        #expect(report.summary.records == 3)
        #expect(report.summary.malformed == 0)
        #expect(report.summary.skipped == ["focus: Tax charge": 1, "focus: Credit charge": 1, FOCUSReader.correctionReason: 1])
        #expect(report.summary.totalSpend == USD("26.55"))
        let violations = try Self.violations(report)
        #expect(violations.contains { $0 == (4, "environment-model", "deny") })  // growth ran gpt-5 in qa
    }
}
