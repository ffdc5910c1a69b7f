import Purser
/// `--format table`: the report as aligned plain text for a terminal — the summary, budget
/// crossings, alerts, the top totals, the first violations and malformed records.
///
/// Only the first `tableViolations` violations are listed (read from the spool and no more);
/// every count and total covers all of them. Text from logs is stripped of control characters.
package enum AuditTable {
    /// Rows shown per totals table.
    package static let topTotals = 20
    /// Malformed records listed.
    package static let malformedListed = 20

    /// Writes every section in turn.
    package static func render(_ report: AuditReport, options: AuditRenderOptions, write: @escaping ([UInt8]) throws -> Void) throws {
        var out = ChunkedOutput(write)
        let width = max(options.width, 60)
        try out.append("Purser audit report\n\n")
        try out.append(summary(report))
        try out.append(crossings(report, width: width))
        try out.append(alerts(report, width: width))
        for (title, noun, totals) in [("Violations by rule", "rule", report.byRule), ("Spend by team", "team", report.byTeam),
                                      ("Spend by environment", "environment", report.byEnvironment), ("Spend by model", "model", report.byModel)]
        {
            try out.append(self.totals(title, noun: noun, totals, report: report, width: width))
        }
        try violations(report, limit: options.tableViolations, width: width, into: &out)
        try out.append(malformed(report, width: width))
        try out.flush()
    }

    /// A blank line and a section title.
    private static func heading(_ title: String, _ detail: String = "") -> String {
        "\n" + title + (detail.isEmpty ? "" : " (\(detail))") + "\n"
    }

    /// The summary block: files, records, period and the money.
    package static func summary(_ report: AuditReport) -> String {
        let summary = report.summary
        var fields = TextFields()
        fields.add("Policy revision", report.policyRevision)
        fields.add("Time zone", report.timezone)
        fields.add("Files", summary.files.isEmpty ? "none" : summary.files.joined(separator: ", "))
        if !summary.skippedFiles.isEmpty {
            fields.add("Files skipped", summary.skippedFiles.map { "\($0.path) (\($0.reason))" }.joined(separator: ", "))
        }
        fields.add("Records", ReportText.count(summary.records) + (summary.sorted ? " (sorted by time on disk first)" : ""))
        if summary.outOfWindow > 0 {
            fields.add("Outside --since/--until", ReportText.plural(summary.outOfWindow, "record") + " (not replayed)")
        }
        fields.add("Period", ReportText.period(summary))
        if !summary.bucketWidths.isEmpty {
            let widths = summary.bucketWidths.keys.sorted().map { width in
                "\(ReportText.duration(seconds: width)): \(ReportText.plural(summary.bucketWidths[width] ?? 0, "record"))"
            }
            fields.add("Bucketed records", "by bucket width, " + widths.joined(separator: "; "))
        }
        for warning in report.warnings {
            fields.add("Warning", warning)
        }
        fields.add("Total spend", ReportText.money(summary.totalSpend)
            + (summary.unpricedRecords > 0 ? " (\(ReportText.plural(summary.unpricedRecords, "record")) without a cost)" : ""))
        fields.add("Violations", "\(ReportText.count(summary.violations)): \(ReportText.count(summary.denied)) deny, "
            + "\(ReportText.count(summary.warned)) warn, \(ReportText.count(summary.waived)) waived")
        fields.add("Spend that broke policy", "\(ReportText.money(summary.spendBreakingPolicy)) in \(ReportText.plural(summary.violatingRecords, "record"))")
        fields.add("Rerouting savings", "\(ReportText.money(summary.reroutingSavings)) (\(ReportText.plural(summary.reroutable, "record")) would have rerouted)")
        fields.add("Blockable spend", "\(ReportText.money(summary.blockableSpend)) (\(ReportText.plural(summary.blockable, "record")) with no reroute)")
        fields.add("Budget crossings", ReportText.count(report.budgets.count))
        fields.add("Alerts", ReportText.count(report.alerts.count))
        fields.add("Malformed records", ReportText.count(summary.malformed)
            + (summary.malformedTolerated > 0 ? " (tolerated: --max-malformed allows \(ReportText.count(summary.malformedAllowed)))"
                : summary.malformed > 0 ? " (the log was not audited whole)" : ""))
        return "Summary\n" + fields.render()
    }

    /// The budget counters that went over their caps.
    package static func crossings(_ report: AuditReport, width: Int) -> String {
        let text = heading("Budget crossings", ReportText.count(report.budgets.count))
        guard !report.budgets.isEmpty else { return text + "  none\n" }
        var table = TextTable([
            .init(title: "BUDGET", flexible: true), .init(title: "KEY", flexible: true), .init(title: "WINDOW"),
            .init(title: "LIMIT", rightAligned: true, decimal: true), .init(title: "SPENT", rightAligned: true, decimal: true),
            .init(title: "OVERSPEND", rightAligned: true, decimal: true), .init(title: "CAP"), .init(title: "FIRST CROSSED AT"),
            .init(title: "INPUT", flexible: true, minimum: 16, keepEnd: true),
        ], spill: 2)
        for crossing in report.budgets {
            table.add([crossing.counter.budget, crossing.counter.key, crossing.counter.windowLabel,
                       ReportText.amount(crossing.limit, crossing.unit), ReportText.amount(crossing.spent, crossing.unit),
                       ReportText.amount(crossing.overspend, crossing.unit), crossing.onExceed == .deny ? "hard" : "soft",
                       crossing.firstCrossedAt.description, crossing.firstCrossedInput.description])
        }
        return text + table.render(width: width)
    }

    /// The alert fractions crossed.
    package static func alerts(_ report: AuditReport, width: Int) -> String {
        var text = heading("Alerts", ReportText.count(report.alerts.count))
        guard !report.alerts.isEmpty else { return text + "  none\n" }
        var table = TextTable([
            .init(title: "BUDGET", flexible: true), .init(title: "KEY", flexible: true), .init(title: "WINDOW"),
            .init(title: "THRESHOLD", rightAligned: true), .init(title: "USED", rightAligned: true, decimal: true),
            .init(title: "LIMIT", rightAligned: true, decimal: true), .init(title: "AT"), .init(title: "INPUT", flexible: true, minimum: 16, keepEnd: true),
        ], spill: 2)
        for alert in report.alerts {
            table.add([alert.counter.budget, alert.counter.key, alert.counter.windowLabel, ReportText.percent(ppm: alert.threshold),
                       ReportText.amount(alert.used, alert.unit), ReportText.amount(alert.limit, alert.unit), alert.at.description,
                       alert.input.description])
        }
        text += table.render(width: width)
        return text
    }

    /// The top totals of one kind.
    package static func totals(_ title: String, noun: String, _ totals: [AuditTotal], report: AuditReport, width: Int) -> String {
        let shown = totals.prefix(topTotals)
        let text = heading(title, totals.count > shown.count ? "top \(shown.count) of \(ReportText.count(totals.count))" : ReportText.count(totals.count))
        guard !totals.isEmpty else { return text + "  none\n" }
        let isRule = noun == "rule"
        var columns: [TextTable.Column] = [.init(title: noun.uppercased(), flexible: true)]
        if isRule { columns.append(.init(title: "KIND")) } else { columns.append(.init(title: "RECORDS", rightAligned: true)) }
        columns += [.init(title: "VIOLATIONS", rightAligned: true), .init(title: "SPEND", rightAligned: true, decimal: true),
                    .init(title: isRule ? "DENIED SPEND" : "SPEND BREAKING POLICY", rightAligned: true, decimal: true)]
        var table = TextTable(columns)
        for total in shown {
            table.add([total.name, isRule ? report.rule(total.name).kind.rawValue : ReportText.count(total.records),
                       ReportText.count(total.violations), ReportText.money(total.spend), ReportText.money(total.violatingSpend)])
        }
        return text + table.render(width: width)
    }

    /// The first `limit` violations and how many more there are.
    package static func violations(_ report: AuditReport, limit: Int, width: Int, into out: inout ChunkedOutput) throws {
        let total = report.summary.violations
        let shown = min(limit, total)
        try out.append(heading("Violations", total > shown ? "first \(ReportText.count(shown)) of \(ReportText.count(total))" : ReportText.count(total)))
        guard total > 0 else { return try out.append("  none\n") }
        var table = TextTable([
            .init(title: "TIME"), .init(title: "RULE", flexible: true, minimum: 22), .init(title: "EFFECT"), .init(title: "TEAM", flexible: true, minimum: 8),
            .init(title: "ENV", flexible: true, minimum: 6), .init(title: "MODEL", flexible: true), .init(title: "COST", rightAligned: true, decimal: true),
            .init(title: "INPUT", flexible: true, minimum: 14, keepEnd: true), .init(title: "MESSAGE", flexible: true, minimum: 20),
        ], spill: 2)
        try report.forEachViolation(first: limit) { item in
            table.add([item.timestamp.description, item.violation.rule, item.violation.effect.rawValue, item.team ?? "-",
                       item.environment ?? "-", item.model, item.cost.map(ReportText.money) ?? "-", item.input.description, item.violation.message])
        }
        try out.append(table.render(width: width))
        if total > shown {
            try out.append("  \(ReportText.count(total - shown)) more not shown; use --format jsonl (or csv) for every violation.\n")
        }
    }

    /// The first malformed records.
    package static func malformed(_ report: AuditReport, width: Int) -> String {
        let count = report.summary.malformed
        let shown = report.malformed.prefix(malformedListed)
        var text = heading("Malformed records", count > shown.count ? "first \(shown.count) of \(ReportText.count(count))" : ReportText.count(count))
        guard !shown.isEmpty else { return text + "  none\n" }
        var table = TextTable([.init(title: "INPUT", flexible: true, minimum: 16, keepEnd: true), .init(title: "MESSAGE", flexible: true, minimum: 20)])
        for entry in shown { table.add([entry.location.description, entry.message]) }
        text += table.render(width: width)
        if count > shown.count {
            text += "  \(ReportText.count(count - shown.count)) more; --format json lists \(ReportText.count(report.malformed.count)).\n"
        }
        return text
    }
}
