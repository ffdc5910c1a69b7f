import Purser
/// `--format csv`: one violation per row, the `--format jsonl` fields as columns, RFC 4180.
///
/// - Rows end in CRLF; a field holding a comma, a quote, CR or LF is quoted, its quotes doubled.
/// - A missing value (JSON null) is an empty field.
/// - C0 and C1 controls other than CR and LF, and bidi formatting characters, become U+FFFD.
/// - Formula injection guard: a *text* field that starts with `=`, `+`, `-`, `@`, a tab or CR
///   gets a leading `'`, so a spreadsheet shows it as text instead of running it (OWASP's
///   advice). Team names, messages and request ids come from logs and are untrusted. The money
///   columns (`cost`, `reroute_cost`) are exact decimal numbers and are never prefixed, so `-1.5`
///   stays a number.
package enum AuditCSV {
    /// The columns, in order.
    package static let columns = ["rule", "kind", "effect", "severity", "message", "source", "waived_by", "request_id", "timestamp", "team",
                          "environment", "model", "region", "cost", "input", "reroute_model", "reroute_region", "reroute_cost"]

    /// Writes the header and one row per violation, streamed from the spool.
    package static func render(_ report: AuditReport, write: @escaping ([UInt8]) throws -> Void) throws {
        var out = ChunkedOutput(write)
        try out.append(columns.joined(separator: ",") + "\r\n")
        try report.forEachViolation { item in
            try out.append(row(item))
        }
        try out.flush()
    }

    /// One violation as a CSV row, CRLF included.
    package static func row(_ item: AuditViolation) -> String {
        let violation = item.violation
        let fields: [String] = [
            text(violation.rule), text(violation.kind.rawValue), text(violation.effect.rawValue), text(violation.severity.rawValue),
            text(violation.message), text(violation.source?.description), text(violation.waivedBy), text(item.requestID),
            text(item.timestamp.description), text(item.team), text(item.environment), text(item.model), text(item.region),
            number(item.cost), text(item.input.description), text(item.reroute?.model), text(item.reroute?.region),
            number(item.reroute?.cost),
        ]
        return fields.joined(separator: ",") + "\r\n"
    }

    /// A text field: guarded against formulas, then quoted if it must be.
    package static func text(_ value: String?) -> String {
        guard let raw = value, !raw.isEmpty else { return "" }
        // Controls other than line breaks (which RFC 4180 quoting keeps) are replaced: ESC, BEL,
        // NUL, a lone CR, C1 and bidi overrides would reach the terminal of whoever views the file.
        var value = TerminalText.sanitizedKeepingLineBreaks(raw)
        if let first = value.unicodeScalars.first, ["=", "+", "-", "@", "\t", "\r"].contains(first) { value = "'" + value }
        return quoted(value)
    }

    /// An exact amount (never prefixed: `-1.5` is a number, not a formula).
    package static func number(_ value: USD?) -> String {
        value?.description ?? ""
    }

    /// RFC 4180: quote a field holding a comma, quote, CR or LF, doubling its quotes.
    package static func quoted(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0D || $0 == 0x0A }) else { return value }
        var out = "\""
        for character in value {
            if character == "\"" { out.append("\"") }
            out.append(character)
        }
        return out + "\""
    }
}
