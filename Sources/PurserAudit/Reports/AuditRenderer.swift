import Purser
/// The report formats of `purser audit --format`.
public enum AuditReportFormat: String, Sendable, CaseIterable {
    /// Human-readable tables (the default on a terminal).
    case table
    /// `{"summary", "violations", "budgets", "alerts", "malformed"}`.
    case json
    /// One violation per line.
    case jsonl
    /// One violation per row.
    case csv
    /// One self-contained page with inline SVG charts.
    case html
    /// SARIF 2.1.0: one result per violation, located in the log.
    case sarif
    /// OCSF Compliance Finding (class 2003), one finding per violation, as JSON Lines.
    case ocsf
}

/// Renders an audit report, streaming its output through `write` in chunks.
public enum AuditRenderer {
    /// Writes the report in a format.
    public static func render(_ report: AuditReport, as format: AuditReportFormat, options: AuditRenderOptions = AuditRenderOptions(),
                              write: ([UInt8]) throws -> Void) throws
    {
        switch format {
        case .json, .jsonl, .csv, .sarif, .ocsf:
            guard report.keptEveryViolation else {
                throw AuditError("the \(format.rawValue) format lists every violation, and this audit kept only the first \(report.spool.count) (AuditOptions.violationsKept)")
            }
        case .table, .html:
            break
        }
        try withoutActuallyEscaping(write) { write in
            switch format {
            case .json: try AuditJSON.render(report, write: write)
            case .jsonl: try report.forEachViolationChunk(write)
            case .table: try AuditTable.render(report, options: options, write: write)
            case .csv: try AuditCSV.render(report, write: write)
            case .html: try AuditHTML.render(report, options: options, write: write)
            case .sarif: try AuditSARIF.render(report, options: options, write: write)
            case .ocsf: try AuditOCSF.render(report, options: options, write: write)
            }
        }
    }

    /// The report as one string (a convenience for tests and small reports).
    public static func text(_ report: AuditReport, as format: AuditReportFormat, options: AuditRenderOptions = AuditRenderOptions()) throws -> String {
        var bytes: [UInt8] = []
        try render(report, as: format, options: options) { bytes.append(contentsOf: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// `--format json`: the summary, every violation, budget crossings, alerts and malformed records.
package enum AuditJSON {
    package static func render(_ report: AuditReport, write: ([UInt8]) throws -> Void) throws {
        var json = JSONWriter()
        json.appendRaw(Array("{\"summary\":".utf8))
        summary(report, into: &json)
        json.appendRaw(Array(",\"violations\":[".utf8))
        try write(json.bytes)
        json.reset()
        var first = true
        try report.forEachViolationChunk { chunk in
            // The spool holds one violation object per line: join them with commas.
            var out: [UInt8] = []
            out.reserveCapacity(chunk.count + 64)
            var start = 0
            while start < chunk.count {
                let end = chunk[start...].firstIndex(of: 0x0A) ?? chunk.count
                if end > start {
                    if !first { out.append(UInt8(ascii: ",")) }
                    first = false
                    out.append(contentsOf: chunk[start..<end])
                }
                start = end + 1
            }
            try write(out)
        }
        // Each section is its own JSON value: write it with a fresh writer, framed by raw separators.
        let tail = JSONWriter()
        tail.appendRaw(Array("],\"budgets\":".utf8))
        let section = JSONWriter()
        section.array { json in
            for crossing in report.budgets { AuditJSON.crossing(crossing, into: &json) }
        }
        tail.appendRaw(section.bytes)
        tail.appendRaw(Array(",\"alerts\":".utf8))
        section.reset()
        section.array { json in
            for alert in report.alerts { AuditJSON.alert(alert, into: &json) }
        }
        tail.appendRaw(section.bytes)
        tail.appendRaw(Array(",\"malformed\":".utf8))
        section.reset()
        section.object { json in
            json.field("count", report.summary.malformed)
            json.field("allowed", report.summary.malformedAllowed)
            json.field("tolerated", report.summary.malformedTolerated)
            json.field("records", array: { json in
                for entry in report.malformed {
                    json.object { json in
                        json.field("input", entry.location.description)
                        json.field("message", entry.message)
                    }
                }
            })
        }
        tail.appendRaw(section.bytes)
        json = tail
        json.appendRaw(Array("}\n".utf8))
        try write(json.bytes)
    }

    package static func summary(_ report: AuditReport, into json: inout JSONWriter) {
        let summary = report.summary
        json.object { json in
            json.field("policy_revision", report.policyRevision)
            json.field("timezone", report.timezone)
            json.field("files", array: { json in summary.files.forEach { json.string($0) } })
            json.field("records", summary.records)
            json.field("malformed", summary.malformed)
            json.field("skipped", object: { json in
                for reason in summary.skipped.keys.sorted() {
                    json.key(dynamic: reason)
                    json.integer(Int64(summary.skipped[reason] ?? 0))
                }
            })
            json.field("out_of_window", summary.outOfWindow)
            json.field("bucket_widths", object: { json in
                for width in summary.bucketWidths.keys.sorted() {
                    json.key(dynamic: String(width))
                    json.integer(Int64(summary.bucketWidths[width] ?? 0))
                }
            })
            json.field("list_priced", object: { json in
                for key in summary.listPriced.keys.sorted() {
                    json.key(dynamic: key)
                    json.integer(Int64(summary.listPriced[key] ?? 0))
                }
            })
            json.field("warnings", array: { json in report.warnings.forEach { json.string($0) } })
            json.field("skipped_files", array: { json in
                for file in summary.skippedFiles {
                    json.object { json in
                        json.field("path", file.path)
                        json.field("reason", file.reason)
                    }
                }
            })
            json.field("first", summary.first?.description)
            json.field("last", summary.last?.description)
            json.field("sorted", summary.sorted)
            json.field("total_spend", summary.totalSpend)
            json.field("unpriced_records", summary.unpricedRecords)
            json.field("violations", summary.violations)
            json.field("denied", summary.denied)
            json.field("warned", summary.warned)
            json.field("waived", summary.waived)
            json.field("violating_records", summary.violatingRecords)
            json.field("spend_breaking_policy", summary.spendBreakingPolicy)
            json.field("reroutable_records", summary.reroutable)
            json.field("rerouting_savings", summary.reroutingSavings)
            json.field("blockable_records", summary.blockable)
            json.field("blockable_spend", summary.blockableSpend)
            json.field("budget_crossings", report.budgets.count)
            json.field("alerts", report.alerts.count)
            for (name, totals) in [("by_rule", report.byRule), ("by_team", report.byTeam), ("by_environment", report.byEnvironment), ("by_model", report.byModel)] {
                json.key(dynamic: name)
                json.array { json in
                    for total in totals {
                        json.object { json in
                            json.field("name", total.name)
                            json.field("records", total.records)
                            json.field("spend", total.spend)
                            json.field("violations", total.violations)
                            json.field("violating_spend", total.violatingSpend)
                        }
                    }
                }
            }
        }
    }

    package static func crossing(_ crossing: BudgetCrossing, into json: inout JSONWriter) {
        json.object { json in
            json.field("id", crossing.counter.budget)
            json.field("key", crossing.counter.key)
            json.field("window", crossing.counter.windowLabel)
            json.field("unit", crossing.unit.rawValue)
            amount("limit", crossing.limit, crossing.unit, into: &json)
            amount("spent", crossing.spent, crossing.unit, into: &json)
            amount("overspend", crossing.overspend, crossing.unit, into: &json)
            json.field("first_crossed_at", crossing.firstCrossedAt.description)
            json.field("input", crossing.firstCrossedInput.description)
            json.field("on_exceed", crossing.onExceed.rawValue)
            json.field("source", crossing.source.description)
        }
    }

    package static func alert(_ alert: AuditAlert, into json: inout JSONWriter) {
        json.object { json in
            json.field("budget", alert.counter.budget)
            json.field("key", alert.counter.key)
            json.field("window", alert.counter.windowLabel)
            json.key("threshold")
            json.raw(DecimalText.format(Int128(alert.threshold), scale: 6))
            json.field("unit", alert.unit.rawValue)
            amount("used", alert.used, alert.unit, into: &json)
            amount("limit", alert.limit, alert.unit, into: &json)
            json.field("at", alert.at.description)
            json.field("input", alert.input.description)
        }
    }

    package static func amount(_ name: StaticString, _ value: Int64, _ unit: BudgetStatus.Unit, into json: inout JSONWriter) {
        json.key(name)
        if unit == .usd { json.usd(USD(nanos: value)) } else { json.integer(value) }
    }
}
