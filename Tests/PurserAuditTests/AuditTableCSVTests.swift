import Foundation
import Testing
import PurserAudit
import Purser
import PurserTestSupport

@Suite struct AuditTableTests {
    @Test func tableShowsTheSummaryNumbers() throws {
        let report = try AuditReportFixture.report()
        let summary = report.summary
        #expect(summary.records == 9)
        #expect(summary.malformed == 1)
        #expect(summary.denied > 0 && summary.warned > 0 && summary.waived > 0)
        let text = try AuditRenderer.text(report, as: .table)
        /// The value printed after a summary label.
        func field(_ label: String) -> String? {
            text.split(separator: "\n").first { $0.hasPrefix("  " + label + "  ") }
                .map { String($0.dropFirst(label.count + 2)).trimmingCharacters(in: .whitespaces) }
        }
        #expect(field("Records") == "9")
        #expect(field("Total spend") == ReportText.money(summary.totalSpend))
        #expect(field("Violations") == "\(summary.violations): \(summary.denied) deny, \(summary.warned) warn, \(summary.waived) waived")
        #expect(field("Spend that broke policy") == "\(ReportText.money(summary.spendBreakingPolicy)) in \(summary.violatingRecords) records")
        #expect(field("Rerouting savings")?.hasPrefix(ReportText.money(summary.reroutingSavings)) == true)
        #expect(field("Blockable spend")?.hasPrefix(ReportText.money(summary.blockableSpend)) == true)
        #expect(field("Malformed records") == "1 (the log was not audited whole)")
        #expect(field("Budget crossings") == String(report.budgets.count))
        #expect(text.contains("team.growth.month"))
        #expect(text.contains("$6,000.00") && text.contains("$6,500.5"))  // limit and spent of the crossing
        #expect(text.contains("usage.jsonl:5"))  // the malformed line
        // No terminal escapes or raw newlines from log text.
        #expect(!text.contains("\u{1B}"))
        #expect(!text.contains("with\nnewline"))
    }

    @Test func tableFitsItsWidthAndListsOnlyTheFirstViolations() throws {
        let report = try AuditReportFixture.report()
        var options = AuditRenderOptions()
        options.width = 100
        options.tableViolations = 3
        let text = try AuditRenderer.text(report, as: .table, options: options)
        let over = text.split(separator: "\n").filter { $0.count > 100 }
        #expect(over.isEmpty, "\(over)")
        #expect(text.contains("Violations (first 3 of \(report.summary.violations))"))
        #expect(text.contains("\(report.summary.violations - 3) more not shown; use --format jsonl"))
    }

    @Test func moneyIsExactAndGrouped() {
        #expect(ReportText.money(USD(nanos: 12_034_500_000_000)) == "$12,034.50")
        #expect(ReportText.money(USD(nanos: 12_300_000)) == "$0.0123")
        #expect(ReportText.money(USD(nanos: 1)) == "$0.000000001")
        #expect(ReportText.money(USD(dollars: -5)) == "-$5.00")
        #expect(ReportText.money(USD(dollars: 1_234_567)) == "$1,234,567.00")
        #expect(ReportText.percent(ppm: 800_000) == "80%")
        #expect(ReportText.percent(ppm: 125_000) == "12.5%")
    }
}

@Suite struct AuditCSVTests {
    /// A minimal RFC 4180 reader: quoted fields, doubled quotes, CRLF (or LF) record ends.
    static func parse(_ text: String) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var quoted = false
        var characters = Array(text.unicodeScalars)[...]
        while let scalar = characters.popFirst() {
            if quoted {
                if scalar == "\"" {
                    if characters.first == "\"" {
                        field.unicodeScalars.append("\"")
                        characters.removeFirst()
                    } else {
                        quoted = false
                    }
                } else {
                    field.unicodeScalars.append(scalar)
                }
                continue
            }
            switch scalar {
            case "\"": quoted = true
            case ",":
                row.append(field)
                field = ""
            case "\r": continue
            case "\n":
                row.append(field)
                rows.append(row)
                row = []
                field = ""
            default: field.unicodeScalars.append(scalar)
            }
        }
        if !field.isEmpty || !row.isEmpty {
            row.append(field)
            rows.append(row)
        }
        return rows
    }

    @Test func csvParsesBackToOneRowPerViolation() throws {
        let report = try AuditReportFixture.report()
        let text = try AuditRenderer.text(report, as: .csv)
        #expect(text.hasSuffix("\r\n"))
        let rows = Self.parse(text)
        #expect(rows.first == AuditCSV.columns)
        #expect(rows.count == report.summary.violations + 1)
        #expect(rows.allSatisfy { $0.count == AuditCSV.columns.count })
        let column = Dictionary(uniqueKeysWithValues: AuditCSV.columns.enumerated().map { ($1, $0) })
        func value(_ row: [String], _ name: String) -> String { row[column[name] ?? 0] }
        let violations = try AuditReportFixture.violations(report)
        for (row, item) in zip(rows.dropFirst(), violations) {
            #expect(value(row, "rule") == item.violation.rule)
            #expect(value(row, "effect") == item.violation.effect.rawValue)
            #expect(value(row, "cost") == (item.cost?.description ?? ""))
            #expect(value(row, "input") == item.input.description)
        }
        // Quotes, commas and newlines survive the round trip.
        let awkward = try #require(rows.first { value($0, "team") == AuditReportFixture.awkwardTeam })
        #expect(value(awkward, "rule") == "unknown-team")
        #expect(value(awkward, "message").contains("\"evil \"team\", with\nnewline\""))
        #expect(text.contains("\"evil \"\"team\"\", with\nnewline\""))
        // Formula injection: text starting with = + - @ gets a leading quote.
        let formula = try #require(rows.first { value($0, "team") == "'" + AuditReportFixture.formulaTeam })
        #expect(value(formula, "request_id") == "'-1+2")
    }

    @Test func formulaGuardLeavesNumbersAlone() throws {
        #expect(AuditCSV.text("=1+2") == "'=1+2")
        #expect(AuditCSV.text("+1") == "'+1")
        #expect(AuditCSV.text("@SUM(A1)") == "'@SUM(A1)")
        #expect(AuditCSV.text("\tx") == "'\tx")
        #expect(AuditCSV.text("\rx") == "\u{FFFD}x")  // a lone CR is replaced, not only guarded
        #expect(AuditCSV.text("\r\nx") == "\"'\r\nx\"")
        #expect(AuditCSV.text("plain") == "plain")
        #expect(AuditCSV.text(nil) == "")
        #expect(AuditCSV.number(USD(nanos: -1_500_000_000)) == "-1.5")
        #expect(AuditCSV.number(nil) == "")
    }
}
