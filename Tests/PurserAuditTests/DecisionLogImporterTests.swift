import Foundation
import Testing
import PurserAudit
import Purser
import PurserTestSupport

/// Decision log lines as `purser serve` and `purser eval --decision-log` write them (docs/decision-log.md).
enum DecisionLogFixture {
    static let zeros = String(repeating: "0", count: 64)

    /// The decision id numbered `n`.
    static func id(_ n: Int) -> String {
        "d-" + String(repeating: "0", count: 24) + String(format: "%02x", n)
    }

    /// A whole line.
    static func line(_ seq: Int, _ event: String, _ data: String, time: String = "2026-12-07T10:00:00.123Z") -> String {
        #"{"v":1,"seq":\#(seq),"time":"\#(time)","event":"\#(event)","data":\#(data),"prev":"\#(zeros)"}"#
    }

    /// A checkpoint line.
    static func checkpoint(_ seq: Int) -> String {
        #"{"v":1,"seq":\#(seq),"time":"2026-12-07T10:05:00Z","event":"checkpoint","key_id":"gw-1","lines":3,"prev":"\#(zeros)","sig":"AAAA"}"#
    }

    /// The data of an authorize or evaluate: `{"caller", "request", "decision"}`.
    static func decided(_ n: Int, request: String = #"{"team":"t","environment":"prod","model":"big","usage":{"input_tokens":1000,"output_tokens":100}}"#,
                        verdict: String = "allow", model: String = "small", region: String = #""eu""#) -> String {
        #"{"caller":"litellm","request":\#(request),"decision":{"decision":"\#(verdict)","decision_id":"\#(id(n))","request_id":null,"model":"\#(model)","region":\#(region),"rerouted":true,"cost":0.02,"violations":[],"budgets":[],"alerts":[],"policy_revision":"sha256:00"}}"#
    }

    /// The data of a settle: `{"caller", "settle", "result"}`.
    static func settled(_ n: Int, cost: String, usage: String? = #"{"input_tokens":700,"output_tokens":300}"#,
                        outcome: String = "settled") -> String {
        let body = usage.map { #"{"decision_id":"\#(id(n))","usage":\#($0)}"# } ?? #"{"decision_id":"\#(id(n))"}"#
        return #"{"caller":"litellm","settle":\#(body),"result":{"decision_id":"\#(id(n))","outcome":"\#(outcome)","cost":\#(cost),"alerts":[]}}"#
    }

    /// The data of a release.
    static func released(_ n: Int, _ released: Bool = true) -> String {
        #"{"caller":"litellm","decision_id":"\#(id(n))","released":\#(released)}"#
    }
}

@Suite("Importers: decision logs")
struct DecisionLogImporterTests {
    typealias F = DecisionLogFixture

    @Test func anAllowedAuthorizationSettledTwiceCountsOnceAtTheSettledCost() throws {
        let log = [
            F.line(1, "authorize", F.decided(1)),
            F.line(2, "settle", F.settled(1, cost: "0.4567")),
            F.line(3, "settle", F.settled(1, cost: "0.4567", outcome: "already_settled")),
            F.line(4, "release", F.released(1, false)),
            F.checkpoint(5),
        ].joined(separator: "\n") + "\n"
        let imported = try importLog(log, format: .decisionLog)
        #expect(imported.malformed.isEmpty)
        #expect(imported.lines == [1])
        let request = try #require(imported.records.first).request
        #expect(request.cost == USD(nanos: 456_700_000))
        #expect(request.usage.inputTokens == 700 && request.usage.outputTokens == 300)
        // The decision's model and region: the call went where it was rerouted.
        #expect(request.model == "small")
        #expect(request.region == "eu")
        #expect(request.team == "t" && request.environment == "prod")
        #expect(request.timestamp == Timestamp(rfc3339: "2026-12-07T10:00:00.123Z"))
        #expect(request.id == F.id(1))
        #expect(imported.skipped == [
            "decision-log: settle (its cost replaces its authorization's estimate)": 1,
            "decision-log: settle the ledger did not count (already_settled, denied)": 1,
            "decision-log: release (not spend)": 1,
            "decision-log: checkpoint": 1,
        ])
    }

    @Test func aSettleWithoutUsageKeepsTheRequestsUsage() throws {
        let log = F.line(1, "authorize", F.decided(1)) + "\n" + F.line(2, "settle", F.settled(1, cost: "0.1", usage: nil)) + "\n"
        let request = try #require(try importLog(log, format: .decisionLog).records.first).request
        #expect(request.cost == USD(nanos: 100_000_000))
        #expect(request.usage.inputTokens == 1000 && request.usage.outputTokens == 100)
    }

    @Test func anUnsettledAuthorizationCountsAtItsRequestAndKeepsItsTimestamp() throws {
        let request = #"{"timestamp":"2026-12-07T09:59:59Z","team":"t","model":"big","cost":0.03}"#
        let imported = try importLog(F.line(1, "authorize", F.decided(1, request: request, region: "null")) + "\n", format: .decisionLog)
        let record = try #require(imported.records.first)
        #expect(record.request.cost == USD(nanos: 30_000_000))
        #expect(record.request.model == "small" && record.request.region == nil)
        #expect(record.timestamp == Timestamp(rfc3339: "2026-12-07T09:59:59Z"))
    }

    @Test func whatIsNotSpendIsSkippedAndCounted() throws {
        let log = [
            F.line(1, "authorize", F.decided(1, verdict: "deny")),
            F.line(2, "evaluate", F.decided(2)),
            F.line(3, "authorize", F.decided(3)),
            F.line(4, "release", F.released(3)),
            F.line(5, "settle", F.settled(9, cost: "1")),
            F.line(6, "invalid-request", #"{"error":"bad","line":1,"column":2}"#),
            F.line(7, "restart", #"{"file":"decisions-2026-12-07-0001.jsonl","whole_lines":4,"dropped_bytes":0}"#),
            F.checkpoint(8),
            F.line(9, "authorize", F.decided(4)),
            F.line(10, "authorize", F.decided(4)),
        ].joined(separator: "\n")
        let imported = try importLog(log, format: .decisionLog)
        #expect(imported.malformed.isEmpty)
        #expect(imported.lines == [9])
        #expect(imported.skipped == [
            "decision-log: authorize denied (no call was made)": 1,
            "decision-log: evaluate (a dry run, not spend)": 1,
            "decision-log: authorize released and never settled (the call was not made)": 1,
            "decision-log: release (not spend)": 1,
            "decision-log: settle of a decision not authorized in the logs read (its spend is not counted)": 1,
            "decision-log: invalid-request (refused, not spend)": 1,
            "decision-log: restart": 1,
            "decision-log: checkpoint": 1,
            "decision-log: authorize repeated (its decision id is counted once)": 1,
        ])
    }

    @Test func malformedLinesAreLocated() throws {
        let log = [
            F.line(1, "authorize", F.decided(1)),
            #"{"v":1,"seq":2,"time":"2026-12-07T10:00:00Z","event":"authorize","data":{"#,
            #"{"seq":3,"time":"2026-12-07T10:00:00Z","event":"authorize","data":{},"prev":"00"}"#,
            F.line(4, "authorize", #"{"caller":"c","decision":{"decision":"allow"}}"#),
            F.line(5, "authorize", F.decided(5, request: #"{"team":"t"}"#)),
            F.line(6, "settle", #"{"caller":"c","result":{"outcome":"settled"}}"#),
            #"{"v":1,"seq":7,"time":"yesterday","event":"release","data":{},"prev":"00"}"#,
        ].joined(separator: "\n")
        let imported = try importLog(log, name: "decisions-2026-12-07-0001.jsonl", format: .decisionLog)
        #expect(imported.lines == [1])
        #expect(imported.malformedLines == [2, 3, 4, 5, 6, 7])
        #expect(imported.malformed.allSatisfy { $0.location.file.hasSuffix("decisions-2026-12-07-0001.jsonl") })
        #expect(imported.malformed[1].message.contains("\"v\":1"), "\(imported.malformed[1].message)")
        #expect(imported.malformed[3].message.contains("has no \"model\""), "\(imported.malformed[3].message)")
        #expect(imported.malformed[5].message.contains("RFC 3339"), "\(imported.malformed[5].message)")
    }

    /// `purser eval --decision-log` writes the decision alone: an allowed one cannot be replayed,
    /// and says so where it is; a denied one is not spend.
    @Test func anEvalLogsAllowedDecisionsAreReportedNotDropped() throws {
        let decision = #"{"decision":"allow","decision_id":"\#(F.id(1))","request_id":null,"model":"m","region":null,"rerouted":false,"cost":0.01,"violations":[],"budgets":[],"alerts":[],"policy_revision":"sha256:00"}"#
        let denied = decision.replacingOccurrences(of: "\"allow\"", with: "\"deny\"")
        let log = F.line(1, "authorize", decision) + "\n" + F.line(2, "authorize", denied) + "\n"
        let imported = try importLog(log)
        #expect(imported.records.isEmpty)
        #expect(imported.malformedLines == [1])
        #expect(imported.malformed.first?.message.contains("written by purser eval --decision-log") == true)
        #expect(imported.skipped == ["decision-log: authorize denied (no call was made)": 1])
    }

    /// Settles in the next day's file count, and still count once when the log is out of order
    /// and the auditor sorts it on disk (the sort's readers get the same settles).
    @Test func settlesInALaterFileCountThroughTheDiskSort() throws {
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        let authorizations = (1...20).map { n in
            // Descending request times: out of order beyond a batch.
            let request = #"{"timestamp":"2026-12-07T23:\#(String(format: "%02d", 59 - n)):00Z","team":"payments","environment":"production","model":"claude-sonnet-4-5","cost":9}"#
            return F.line(n, "authorize", F.decided(n, request: request, model: "claude-sonnet-4-5", region: "null"), time: "2026-12-07T23:59:59Z")
        }
        let settles = (1...20).flatMap { n in
            [F.line(20 + 2 * n - 1, "settle", F.settled(n, cost: "0.0\(n)", usage: nil), time: "2026-12-08T00:00:01Z"),
             F.line(20 + 2 * n, "settle", F.settled(n, cost: "0.0\(n)", usage: nil, outcome: "already_settled"), time: "2026-12-08T00:00:02Z")]
        }
        try Data((authorizations.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: directory + "/decisions-2026-12-07-0001.jsonl"))
        try Data((settles.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: directory + "/decisions-2026-12-08-0001.jsonl"))
        let report = try ImporterAuditTests.sortedAudit(directory, records: 20)
        // 0.01 + 0.02 + … + 0.09 + 0.010 + … + 0.020: each settled cost once, never the 9 USD estimate.
        #expect(report.summary.totalSpend == USD(nanos: (1...20).reduce(0) { total, n in total + Int64(n < 10 ? n * 10_000_000 : n * 1_000_000) }))
        #expect(report.summary.skipped["decision-log: settle (its cost replaces its authorization's estimate)"] == 20)
        #expect(report.summary.skipped["decision-log: settle the ledger did not count (already_settled, denied)"] == 20)
    }

    @Test(arguments: [
        DecisionLogFixture.line(1, "authorize", DecisionLogFixture.decided(1)),
        DecisionLogFixture.line(1, "restart", #"{"file":"x"}"#),
        DecisionLogFixture.checkpoint(9),
    ])
    func autoDetectsADecisionLog(_ line: String) throws {
        #expect(UsageLogs.detect(Array((line + "\n").utf8)) == .decisionLog)
    }

    @Test func autoReadsADecisionLog() throws {
        let log = F.line(1, "authorize", F.decided(1)) + "\n" + F.line(2, "settle", F.settled(1, cost: "0.25")) + "\n"
        let imported = try importLog(log, name: "decisions-2026-12-07-0001.jsonl")
        #expect(imported.records.map(\.request.cost) == [USD(nanos: 250_000_000)])
    }
}
