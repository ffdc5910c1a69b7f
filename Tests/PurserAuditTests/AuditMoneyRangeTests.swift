import Testing
import PurserAudit
import Purser
import PurserTestSupport

/// Audit totals and reports of amounts at the edges of the range (the engine's side is in
/// PurserTests' `Money ranges`).
@Suite("Audit money ranges")
struct AuditMoneyRangeTests {
    @Test func totalsOfHugeRecordsAreExact() {
        var total = USDTotal.zero
        for _ in 0..<19 { total += USD(nanos: 999_999_999 * USD.scale) }
        #expect(total.description == "18999999981")
        #expect(total.amount == nil)
        #expect(ReportText.money(total) == "$18,999,999,981.00")
        total += USD.max
        #expect(total.nanos == Int128(19) * 999_999_999 * 1_000_000_000 + Int128(Int64.max))
        #expect(total > USDTotal(USD.max))
    }

    /// Twenty records of $999,999,999: a 64-bit total wrapped to $1.55 billion (and nineteen to $0).
    @Test(arguments: [19, 20])
    func anAuditOfHugeRecordsTotalsExactly(_ count: Int) throws {
        let lines = (0..<count).map { minute in
            let time = Timestamp(seconds: EngineFixture.monday.seconds + Int64(minute) * 60)
            return #"{"id":"r-\#(minute)","timestamp":"\#(time)","team":"payments","environment":"qa","model":"opus","#
                + #""usage":{"input_tokens":1000,"output_tokens":100},"cost":999999999}"#
        }
        let report = try AuditReplayTests.audit([("huge.jsonl", lines.joined(separator: "\n") + "\n")])
        #expect(report.summary.records == count)
        #expect(report.summary.totalSpend == USDTotal(nanos: Int128(count) * 999_999_999 * 1_000_000_000))
        #expect(report.summary.spendBreakingPolicy.nanos >= 0 && report.summary.spendBreakingPolicy <= report.summary.totalSpend)
        #expect(report.summary.reroutingSavings.nanos >= 0 && report.summary.reroutingSavings <= report.summary.totalSpend)
        #expect(report.byTeam.first { $0.name == "payments" }?.spend == report.summary.totalSpend)
        let json = try AuditRenderer.text(report, as: .json)
        #expect(json.contains("\"total_spend\":\(count * 999_999_999)"), "\(json.prefix(600))")
    }
}

/// A usage log whose records repeat a JSON key.
@Suite("Audit duplicate keys")
struct AuditDuplicateKeyTests {
    /// The audit's shaped fast path sends a line with a repeated key to the full decoder,
    /// which reports it: neither value is counted.
    @Test func auditReportsRepeatedKeysAsMalformed() throws {
        let good = #"{"id":"r-1","timestamp":"2026-11-23T10:00:00Z","team":"payments","environment":"production","model":"haiku","cost":1}"#
        let lines = [
            good, good.replacingOccurrences(of: "r-1", with: "r-2"),
            #"{"id":"r-3","timestamp":"2026-11-23T10:01:00Z","team":"payments","environment":"production","model":"haiku","cost":0.5,"cost":0.000001}"#,
            #"{"id":"r-4","timestamp":"2026-11-23T10:02:00Z","team":"payments","environment":"production","model":"haiku","model":"opus","cost":1}"#,
            #"{"id":"r-5","timestamp":"2026-11-23T10:03:00Z","team":"payments","environment":"production","model":"haiku","cost":1,"usage":{"input_tokens":1,"input_tokens":9}}"#,
        ]
        let report = try AuditReplayTests.audit([("a.jsonl", lines.joined(separator: "\n") + "\n")])
        #expect(report.summary.records == 2)
        #expect(report.summary.malformed == 3)
        #expect(report.malformed.map(\.location.line) == [3, 4, 5])
        #expect(report.malformed.allSatisfy { $0.message.contains("duplicate field") })
        #expect(report.summary.totalSpend == USD(dollars: 2))
    }
}
