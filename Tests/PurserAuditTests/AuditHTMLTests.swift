import Foundation
import Testing
import PurserAudit
import Purser
import PurserTestSupport

@Suite struct AuditHTMLTests {
    @Test func htmlIsSelfContainedWithChartsAndTables() throws {
        let report = try AuditReportFixture.report()
        let html = try AuditRenderer.text(report, as: .html)
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.contains("<title>Purser audit report"))
        #expect(html.contains("<svg"))
        #expect(html.contains("<th scope=\"col\">"))
        // Every chart has a <title>; the team over its cap is marked.
        let charts = html.components(separatedBy: "<svg").count - 1
        #expect(charts >= report.series.count + 2)
        #expect(html.components(separatedBy: "<svg").dropFirst().allSatisfy { $0.contains("<title") })
        #expect(html.contains("class=\"crossed\""))
        #expect(html.contains("growth: cumulative spend per month against the monthly cap of $6,000.00"))
        // No network: no external resources, no scripts.
        #expect(!html.contains("http://"))
        #expect(!html.contains("https://"))
        #expect(!html.contains("<script"))
        #expect(!html.contains("<link"))
        #expect(!html.contains("<img"))
        #expect(!html.contains("url("))
        #expect(html.contains("default-src 'none'"))
        // The summary and its exact amounts.
        #expect(html.contains(ReportText.plural(report.summary.records, "record")))
        #expect(html.contains("team.growth.month"))
        #expect(html.contains("usage.jsonl:5"))  // the malformed line
    }

    @Test func hostileTextFromLogsIsEscaped() throws {
        let report = try AuditReportFixture.report()
        let html = try AuditRenderer.text(report, as: .html)
        #expect(!html.contains(AuditReportFixture.hostileTeam))
        #expect(!html.contains("<script"))
        let escaped = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
        #expect(html.contains(escaped))  // as a team name
        #expect(html.contains("team &quot;\(escaped)&quot; is not defined in the policy"))  // inside a message
        #expect(html.contains("evil &quot;team&quot;, with\nnewline"))
    }

    @Test func escapeCoversMarkupAndControlCharacters() {
        #expect(HTMLText.escape("<a href=\"x\">&'</a>") == "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;")
        #expect(HTMLText.escape("a\u{1B}[31mb\u{0}") == "a\u{FFFD}[31mb\u{FFFD}")
    }

    @Test func htmlListsTheFirstViolationsAndSaysHowManyMore() throws {
        let report = try AuditReportFixture.report()
        var options = AuditRenderOptions()
        options.htmlViolations = 2
        let html = try AuditRenderer.text(report, as: .html, options: options)
        #expect(html.contains("the first 2 of \(report.summary.violations)"))
        #expect(html.contains("\(report.summary.violations - 2) more violations are not listed here"))
        let table = html.components(separatedBy: "id=\"violations\"").last ?? ""
        let rows = (table.components(separatedBy: "</table>").first ?? "").components(separatedBy: "<tr>").count - 2
        #expect(rows == 2)
    }

    @Test func capChartMarksTheDayTheCapWasCrossed() throws {
        let days = (1...30).map { CivilDate(year: 2026, month: 11, day: $0) }
        let series = SpendSeries(team: "t", monthlyCap: USD(dollars: 100),
                                 days: days.map { ($0.description, USDTotal(USD(dollars: 10))) })
        let crossings = AuditCharts.crossings(series, days: days)
        #expect(crossings.count == 1)
        #expect(crossings.first?.day.description == "2026-11-11")  // $110 > $100 on the 11th
        #expect(crossings.first?.spent == USD(dollars: 110))
        let svg = AuditCharts.capChart(series, days: days, id: "c")
        #expect(svg.contains("Went over the cap on 2026-11-11"))
        #expect(AuditCharts.axisLabel(30_000 * USD.scale) == "$30k")
        #expect(AuditCharts.axisLabel(2_500 * USD.scale) == "$2.5k")
        #expect(AuditCharts.axisLabel(USD.scale / 2) == "$0.5")
        #expect(AuditCharts.step(for: 35_000 * USD.scale) == 10_000 * USD.scale)
    }
}
