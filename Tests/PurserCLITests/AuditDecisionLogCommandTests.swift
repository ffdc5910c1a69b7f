import Foundation
import Purser
import PurserDecisionLog
import Testing

/// `purser audit` over decision logs (docs/importers.md, "Decision logs (decision-log)"): a log written with
/// the `DecisionLog` writer as `purser serve` writes it, and one written by `purser eval`.
@Suite("purser audit of decision logs")
struct AuditDecisionLogCommandTests {
    static let policy = LedgerCommandTests.policy

    /// Decision id `n`.
    static func id(_ n: Int) -> String { "d-" + String(repeating: "0", count: 24) + String(format: "%02x", n) }

    /// The data `purser serve` logs for an authorize: caller, request and decision.
    static func authorize(_ n: Int, cost: String, verdict: String = "allow") -> [UInt8] {
        let request = #"{"team":"t","environment":"prod","model":"m","cost":\#(cost)}"#
        let decision = #"{"decision":"\#(verdict)","decision_id":"\#(id(n))","request_id":null,"model":"m","region":null,"rerouted":false,"cost":\#(cost),"violations":[],"budgets":[],"alerts":[],"policy_revision":"sha256:00"}"#
        return Array(#"{"caller":"gw","request":\#(request),"decision":\#(decision)}"#.utf8)
    }

    /// The data `purser serve` logs for a settle.
    static func settle(_ n: Int, cost: String, outcome: String = "settled") -> [UInt8] {
        Array(#"{"caller":"gw","settle":{"decision_id":"\#(id(n))","cost":\#(cost)},"result":{"decision_id":"\#(id(n))","outcome":"\#(outcome)","cost":\#(cost),"alerts":[]}}"#.utf8)
    }

    @Test func auditCountsWhatWasSettledOnceAcrossFiles() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("p/p.yaml", Self.policy)
        let keygen = try Purser.run(["keygen", "--key-id", "gw-1", "--out", "k.key"], in: directory.path)
        #expect(keygen.status == 0, "\(keygen.stderr)")

        let log = try DecisionLog(directory: directory.path + "/log", key: DecisionLogSigningKey.read(path: directory.path + "/k.key"))
        func at(_ text: String) throws -> Timestamp { try #require(Timestamp(rfc3339: text)) }
        try log.append(event: "authorize", time: at("2026-12-07T23:59:50Z"), payload: Self.authorize(1, cost: "0.05"))
        try log.append(event: "authorize", time: at("2026-12-07T23:59:51Z"), payload: Self.authorize(2, cost: "0.05"))
        try log.append(event: "settle", time: at("2026-12-07T23:59:52Z"), payload: Self.settle(2, cost: "0.1"))
        try log.append(event: "settle", time: at("2026-12-07T23:59:53Z"), payload: Self.settle(2, cost: "0.1", outcome: "already_settled"))
        try log.append(event: "authorize", time: at("2026-12-07T23:59:54Z"), payload: Self.authorize(3, cost: "7", verdict: "deny"))
        try log.append(event: "authorize", time: at("2026-12-07T23:59:55Z"), payload: Self.authorize(4, cost: "3"))
        try log.append(event: "release", time: at("2026-12-07T23:59:56Z"),
                       payload: Array(#"{"caller":"gw","decision_id":"\#(Self.id(4))","released":true}"#.utf8))
        try log.append(event: "evaluate", time: at("2026-12-07T23:59:57Z"), payload: Self.authorize(6, cost: "5"))
        try log.append(event: "authorize", time: at("2026-12-07T23:59:58Z"), payload: Self.authorize(5, cost: "0.01"))
        // The next UTC day: a file of its own, with the settle of the first decision.
        try log.append(event: "settle", time: at("2026-12-08T00:00:01Z"), payload: Self.settle(1, cost: "0.25"))
        try log.close()

        let verified = try Purser.run(["verify-log", "--public-key", "k.key.pub", "log"], in: directory.path)
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
        #expect(verified.stdout.contains("2 files"), "\(verified.stdout)")

        let result = try Purser.run(["audit", "--policy", "p", "--format", "json", "--no-progress", "log"], in: directory.path)
        #expect(result.status == 0, "\(result.stderr)")
        let (summary, malformed) = try HostileLogInputTests.report(result)
        #expect(malformed["count"] as? Int == 0)
        #expect(summary["records"] as? Int == 3)
        // 0.25 (settled the next day, not the 0.05 estimate) + 0.1 (settled twice, counted once) + 0.01 (never settled).
        #expect((summary["total_spend"] as? NSNumber)?.stringValue == "0.36")
        let skipped = try #require(summary["skipped"] as? [String: Int])
        #expect(skipped["decision-log: authorize denied (no call was made)"] == 1)
        #expect(skipped["decision-log: authorize released and never settled (the call was not made)"] == 1)
        #expect(skipped["decision-log: evaluate (a dry run, not spend)"] == 1)
        #expect(skipped["decision-log: settle (its cost replaces its authorization's estimate)"] == 2)
        #expect(skipped["decision-log: settle the ledger did not count (already_settled, denied)"] == 1)
        #expect(skipped["decision-log: checkpoint"] == 2)
    }

    /// `purser eval --decision-log` logs decisions without their requests: the audit says so at each
    /// allowed one, and exits 1 (not audited whole), rather than reporting no spend.
    @Test func anEvalLogIsReportedAsHoldingNoRequests() throws {
        let directory = try VerifyLogCommandTests.logged(3)
        defer { directory.remove() }
        let result = try Purser.run(["audit", "--policy", "p", "--format", "json", "--no-progress", "log"], in: directory.path)
        #expect(result.status == 1, "\(result.stderr)")
        let (summary, malformed) = try HostileLogInputTests.report(result)
        #expect(summary["records"] as? Int == 0)
        #expect(malformed["count"] as? Int == 3)
        let first = try #require((malformed["records"] as? [[String: Any]])?.first)
        #expect((first["input"] as? String)?.hasSuffix(".jsonl:1") == true, "\(first)")
        #expect((first["message"] as? String)?.contains("written by purser eval --decision-log") == true, "\(first)")

        // Counted like any malformed record: --max-malformed tolerates them, --strict-input stops at the first.
        let tolerated = try Purser.run(["audit", "--policy", "p", "--format", "json", "--no-progress", "--max-malformed", "3", "log"],
                                       in: directory.path)
        #expect(tolerated.status == 0, "\(tolerated.stderr)")
        let strict = try Purser.run(["audit", "--policy", "p", "--format", "json", "--no-progress", "--strict-input", "log"], in: directory.path)
        #expect(strict.status == 2)
        #expect(strict.stderr.contains(".jsonl:1: an allowed decision written by purser eval --decision-log"), "\(strict.stderr)")
    }
}
