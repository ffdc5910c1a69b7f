import Foundation
import Testing
import PurserAudit
import Purser
import PurserTestSupport

/// Reports whose size a hostile log cannot blow up: thousands of team names or charge
/// categories make a bounded number of charts and summary lines.
@Suite("Report size")
struct ReportSizeTests {
    @Test func theHTMLReportChartsTheTopTeamsAndGroupsTheRest() throws {
        let teams = 300
        let lines = (0..<teams).map { index in
            let time = Timestamp(seconds: EngineFixture.monday.seconds + Int64(index))
            return #"{"id":"r-\#(index)","timestamp":"\#(time)","team":"team-\#(index)","environment":"production","model":"haiku","cost":\#(index + 1)}"#
        }
        let report = try AuditReplayTests.audit([("teams.jsonl", lines.joined(separator: "\n") + "\n")])
        #expect(report.series.count == teams)
        let html = try AuditRenderer.text(report, as: .html)
        let charts = html.components(separatedBy: "<svg").count - 1
        // The cap charts are at most `chartedTeams`; the violation bar charts are a few more.
        #expect(charts <= AuditHTML.chartedTeams + 4, "\(charts) charts")
        #expect(html.contains("\(teams - AuditHTML.chartedTeams + 1) other teams"))
        // The grouped chart adds up exactly the spend of the teams it stands for.
        let grouped = SpendSeries.grouping(report.series, as: "all")
        var sum = USDTotal.zero
        for (_, spend) in grouped.days { sum += spend }
        #expect(sum == report.summary.totalSpend)
    }

    @Test func unknownFOCUSChargeCategoriesShareOneReason() throws {
        let source = try String(contentsOfFile: repositoryRoot + "/examples/samples/focus-1.0.csv", encoding: .utf8)
        var lines = source.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let template = lines[1]
        for index in 0..<2_000 {
            lines.append(template.replacingOccurrences(of: ",Usage,", with: ",Made-up \(index)\u{1B}[2J,"))
        }
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        let path = directory + "/focus.csv"
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let policy = try #require(PolicySet.load(paths: [repositoryRoot + "/policies"]).policy)
        var options = AuditOptions()
        options.temporaryDirectory = NSTemporaryDirectory()
        let report = try Auditor(policy: try CompiledPolicy(policy), options: options).run([path])
        let other = report.summary.skipped.filter { $0.key.contains("other ChargeCategory") }
        #expect(other.values.reduce(0, +) == 2_000)
        #expect(report.summary.skipped.count <= FOCUSReader.knownCategories.count + 2)
        #expect(!report.summary.skipped.keys.contains { $0.contains("\u{1B}") })
    }

    @Test(arguments: [("Tax", "focus: Tax charge"), ("CREDIT", "focus: Credit charge"), ("adjustment", "focus: Adjustment charge"),
                      ("Refund", "focus: other ChargeCategory (not Usage, Purchase, Tax, Credit or Adjustment)")])
    func knownCategoriesKeepTheirNames(_ category: String, _ reason: String) {
        #expect(FOCUSReader.skipReason(category: category) == reason)
    }
}
