import Purser
/// The tables of the HTML report: budget crossings, alerts, totals, violations and malformed records.
package enum AuditHTMLTables {
    /// One table cell: escaped text with a style.
    package enum Cell {
        case text(String)
        case number(String)
        /// An amount shown to the cent, exact in the tooltip.
        case money(USDTotal)
        /// An amount in a budget unit (money to the cent, exact in the tooltip).
        case amount(Int64, BudgetStatus.Unit)
        case mono(String)
        case message(String)
        /// A file path (wraps anywhere).
        case path(String)
        /// A name that should not wrap (rule, team, model); very long ones are cut, in full in the tooltip.
        case name(String)
        /// A log location `file:line`, shown as the file's last component and the line (in full in the tooltip).
        case input(RecordLocation)
        /// A coloured label (`deny`, `warn`, …; the text is also the CSS class).
        case badge(String)

        package var html: String {
            switch self {
            case .text(let text): return "<td>\(HTMLText.escape(text))</td>"
            case .number(let text): return "<td class=\"num\">\(HTMLText.escape(text))</td>"
            case .money(let value):
                return "<td class=\"num\" title=\"\(HTMLText.escape(ReportText.money(value)))\">\(HTMLText.escape(ReportText.cents(value)))</td>"
            case .amount(let value, let unit):
                guard unit == .usd else { return Cell.number(ReportText.amount(value, unit)).html }
                return Cell.money(USDTotal(USD(nanos: value))).html
            case .mono(let text): return "<td class=\"mono\">\(HTMLText.escape(text))</td>"
            case .message(let text): return "<td class=\"msg\">\(HTMLText.escape(text))</td>"
            case .path(let text): return "<td class=\"path\">\(HTMLText.escape(text))</td>"
            case .name(let text):
                guard text.count > 40 else { return "<td class=\"name\">\(HTMLText.escape(text))</td>" }
                return "<td class=\"name\" title=\"\(HTMLText.escape(text))\">\(HTMLText.escape(HTMLText.truncated(text, 40)))</td>"
            case .input(let location):
                let file = location.file.split(separator: "/").last.map(String.init) ?? location.file
                return "<td class=\"mono\" title=\"\(HTMLText.escape(location.description))\">\(HTMLText.escape("\(file):\(location.line)"))</td>"
            case .badge(let text):
                let style = text.unicodeScalars.allSatisfy { ("a"..."z").contains($0) } ? text : "other"
                return "<td><span class=\"badge \(style)\">\(HTMLText.escape(text))</span></td>"
            }
        }
    }

    /// `<div><table><caption>…<thead>…<tbody>` with numeric columns (`#` prefix) right-aligned.
    package static func open(_ caption: String, note: String = "", id: String, columns: [String]) -> String {
        var html = "<section aria-labelledby=\"\(id)\">\n<div class=\"table-wrap\"><table>\n<caption id=\"\(id)\">\(HTMLText.escape(caption))"
        if !note.isEmpty { html += " <span class=\"note\">\(HTMLText.escape(note))</span>" }
        html += "</caption>\n<thead><tr>"
        for column in columns {
            html += column.hasPrefix("#") ? "<th scope=\"col\" class=\"num\">\(HTMLText.escape(String(column.dropFirst())))</th>"
                : "<th scope=\"col\">\(HTMLText.escape(column))</th>"
        }
        return html + "</tr></thead>\n<tbody>\n"
    }

    /// One table row.
    package static func row(_ cells: [Cell]) -> String {
        "<tr>" + cells.map(\.html).joined() + "</tr>\n"
    }

    package static let close = "</tbody>\n</table></div>\n</section>\n"

    /// The budget counters that went over their caps.
    package static func crossings(_ report: AuditReport) -> String {
        var html = "<h2>Budget crossings</h2>\n"
        guard !report.budgets.isEmpty else { return html + "<p class=\"empty\">No budget went over its cap.</p>\n" }
        html += open("Counters that went over their caps", note: "in the order they first did", id: "crossings",
                     columns: ["Budget", "Key", "Window", "#Limit", "#Spent", "#Overspend", "Cap", "First crossed at", "Input", "Defined at"])
        for crossing in report.budgets {
            html += row([.name(crossing.counter.budget), .name(crossing.counter.key), .mono(crossing.counter.windowLabel),
                         .amount(crossing.limit, crossing.unit), .amount(crossing.spent, crossing.unit),
                         .amount(crossing.overspend, crossing.unit), .badge(crossing.onExceed == .deny ? "hard" : "soft"),
                         .mono(crossing.firstCrossedAt.description), .input(crossing.firstCrossedInput),
                         .path(crossing.source.description)])
        }
        return html + close
    }

    /// The alert fractions crossed.
    package static func alerts(_ report: AuditReport) -> String {
        var html = "<h2>Alerts</h2>\n"
        guard !report.alerts.isEmpty else { return html + "<p class=\"empty\">No alert fraction was crossed.</p>\n" }
        html += open("Alert fractions crossed", note: "in time order", id: "alerts",
                     columns: ["Budget", "Key", "Window", "#Threshold", "#Used", "#Limit", "At", "Input"])
        for alert in report.alerts {
            html += row([.name(alert.counter.budget), .name(alert.counter.key), .mono(alert.counter.windowLabel),
                         .number(ReportText.percent(ppm: alert.threshold)), .amount(alert.used, alert.unit),
                         .amount(alert.limit, alert.unit), .mono(alert.at.description), .input(alert.input)])
        }
        return html + close
    }

    /// Complete totals by team, environment, model and rule.
    package static func totals(_ report: AuditReport) -> String {
        var html = "<h2>Totals</h2>\n<div class=\"totals\">\n"
        for (title, id, noun, totals) in [("By team", "t-team", "Team", report.byTeam), ("By environment", "t-env", "Environment", report.byEnvironment),
                                          ("By model", "t-model", "Model", report.byModel)]
        {
            html += open(title, note: "\(ReportText.count(totals.count)), largest spend first", id: id,
                         columns: [noun, "#Records", "#Spend", "#Violations", "#Violating spend"])
            for total in totals {
                html += row([.name(total.name), .number(ReportText.count(total.records)), .money(total.spend),
                             .number(ReportText.count(total.violations)), .money(total.violatingSpend)])
            }
            html += close
        }
        html += open("By rule", note: "\(ReportText.count(report.byRule.count)), most violations first", id: "t-rule",
                     columns: ["Rule", "Kind", "#Violations", "#Spend", "#Denied spend"])
        for total in report.byRule {
            html += row([.name(total.name), .text(report.rule(total.name).kind.rawValue), .number(ReportText.count(total.violations)),
                         .money(total.spend), .money(total.violatingSpend)])
        }
        return html + close + "</div>\n"
    }

    /// The first `limit` violations, streamed from the spool, and how many more there are.
    package static func violations(_ report: AuditReport, limit: Int, into out: inout ChunkedOutput) throws {
        let total = report.summary.violations
        try out.append("<h2>Violations</h2>\n")
        guard total > 0 else { return try out.append("<p class=\"empty\">No violations.</p>\n") }
        let shown = min(limit, total)
        let note = total > shown ? "the first \(ReportText.count(shown)) of \(ReportText.count(total)), in time order" : "\(ReportText.count(total)), in time order"
        try out.append(open("Violations", note: note, id: "violations",
                            columns: ["Time", "Input", "Rule", "Effect", "Team", "Environment", "Model", "#Cost", "Message"]))
        try report.forEachViolation(first: limit) { item in
            try out.append(row([.mono(item.timestamp.description), .input(item.input), .name(item.violation.rule),
                                .badge(item.violation.effect.rawValue), .name(item.team ?? "–"), .name(item.environment ?? "–"),
                                .name(item.model), (item.cost.map { .money(USDTotal($0)) } ?? .number("–")), .message(item.violation.message)]))
        }
        try out.append(close)
        if total > shown {
            try out.append("<p class=\"more\">\(ReportText.count(total - shown)) more violations are not listed here; "
                + "<code>purser audit --format jsonl</code> (or <code>csv</code>, <code>sarif</code>, <code>ocsf</code>) writes every one.</p>\n")
        }
    }

    /// The malformed records the report kept.
    package static func malformed(_ report: AuditReport) -> String {
        let count = report.summary.malformed
        var html = "<h2>Malformed records</h2>\n"
        guard count > 0 else { return html + "<p class=\"empty\">Every record was read.</p>\n" }
        let note = count > report.malformed.count ? "the first \(ReportText.count(report.malformed.count)) of \(ReportText.count(count))" : ReportText.count(count)
        html += open("Records that could not be read (skipped)", note: note, id: "malformed", columns: ["Input", "Problem"])
        for entry in report.malformed { html += row([.path(entry.location.description), .message(entry.message)]) }
        return html + close
    }
}
