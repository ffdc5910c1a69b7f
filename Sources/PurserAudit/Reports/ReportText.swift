import Purser
import Crypto

/// Options for rendering an audit report.
public struct AuditRenderOptions: Sendable {
    /// The width of a `table` report in columns (a terminal's width).
    public var width = 120
    /// Violations listed by `table` (the rest are counted).
    public var tableViolations = 50
    /// Violations listed by `html` (the rest are counted).
    public var htmlViolations = 500
    /// The tool version named in SARIF and OCSF output.
    public var toolVersion = PurserVersion.current

    /// The defaults.
    public init() {}
}

/// Human-readable text for report values: exact money, counts, units, fingerprints.
package enum ReportText {
    /// `$12,034.5` → `$12,034.50`: grouped thousands, at least two decimals, every digit
    /// of the exact amount kept (`$0.0123` stays `$0.0123`); built on `USD.description`.
    package static func money(_ value: USD) -> String {
        money(USDTotal(value))
    }

    /// ``money(_:)-(USD)`` for a total, which may be past one amount's range.
    package static func money(_ value: USDTotal) -> String {
        var text = value.description
        let negative = text.hasPrefix("-")
        if negative { text.removeFirst() }
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        var fraction = parts.count > 1 ? String(parts[1]) : ""
        while fraction.count < 2 { fraction += "0" }
        return (negative ? "-$" : "$") + grouped(String(parts[0])) + "." + fraction
    }

    /// `$2,872.68`: rounded to the cent for reading (half away from zero); amounts under a
    /// cent keep their digits (`$0.0029`), so nothing non-zero reads as `$0.00`.
    package static func cents(_ value: USD) -> String {
        cents(USDTotal(value))
    }

    /// ``cents(_:)-(USD)`` for a total, which may be past one amount's range.
    package static func cents(_ value: USDTotal) -> String {
        let magnitude = value.nanos.magnitude
        guard magnitude >= 10_000_000 || magnitude == 0 else { return money(value) }
        let rounded = Int128(magnitude / 10_000_000 + (magnitude % 10_000_000 >= 5_000_000 ? 1 : 0)) * 10_000_000
        return money(USDTotal(nanos: value.nanos < 0 ? -rounded : rounded))
    }

    /// `1234567` → `1,234,567`.
    package static func count(_ value: Int) -> String {
        value < 0 ? "-" + grouped(String(value.magnitude)) : grouped(String(value))
    }

    /// An amount in a budget unit: money for `usd`, else `1,234 tokens` / `12 requests`.
    package static func amount(_ value: Int64, _ unit: BudgetStatus.Unit) -> String {
        switch unit {
        case .usd: return money(USD(nanos: value))
        case .tokens: return count(Int(value)) + " tokens"
        case .requests: return count(Int(value)) + " requests"
        }
    }

    /// A fraction in parts per million as a percentage: `800000` → `80%`, `125000` → `12.5%`.
    package static func percent(ppm: Int64) -> String {
        DecimalText.format(Int128(ppm), scale: 4) + "%"
    }

    /// `2026-11-01T00:05:00Z to 2026-11-30T23:10:00Z`, or `no records`.
    package static func period(_ summary: AuditReport.Summary) -> String {
        guard let first = summary.first, let last = summary.last else { return "no records" }
        return "\(first) to \(last)"
    }

    /// `n thing` / `n things`.
    package static func plural(_ value: Int, _ word: String) -> String {
        count(value) + " " + word + (value == 1 ? "" : "s")
    }

    /// A length of time in the largest whole unit: `1 day`, `7 days`, `1 hour`, `90 seconds`.
    package static func duration(seconds: Int64) -> String {
        for (unit, name) in [(Int64(86_400), "day"), (3_600, "hour"), (60, "minute")] where seconds >= unit && seconds % unit == 0 {
            return plural(Int(seconds / unit), name)
        }
        return plural(Int(clamping: seconds), "second")
    }

    /// A stable identity for a violation: SHA-256 (hex) of its rule id, log file:line and time.
    /// The same record breaking the same rule gets the same id in every run.
    package static func fingerprint(_ item: AuditViolation) -> String {
        var hasher = SHA256()
        hasher.update(data: Array(item.violation.rule.utf8))
        hasher.update(data: [0])
        hasher.update(data: Array(item.input.description.utf8))
        hasher.update(data: [0])
        hasher.update(data: Array(item.timestamp.description.utf8))
        return hasher.finalize().map { byte in
            let hex = String(byte, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined()
    }

    /// Text from a log made safe for a terminal or a one-line cell: control and bidi characters
    /// (including ESC, so no terminal escape sequences) become spaces (``TerminalText``).
    package static func oneLine(_ text: String) -> String {
        TerminalText.sanitized(text, replacement: " ")
    }

    /// Inserts thousands separators into a run of digits.
    private static func grouped(_ digits: String) -> String {
        let characters = Array(digits)
        var out = ""
        for (index, digit) in characters.enumerated() {
            if index > 0 && (characters.count - index) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        return out
    }
}

/// Collects output and hands it to the renderer's `write` closure in chunks of about 64 KiB.
package struct ChunkedOutput {
    package private(set) var bytes: [UInt8] = []
    private let write: ([UInt8]) throws -> Void

    package init(_ write: @escaping ([UInt8]) throws -> Void) {
        self.write = write
        bytes.reserveCapacity(1 << 16)
    }

    /// Appends text, writing a chunk once enough has gathered.
    package mutating func append(_ text: String) throws {
        bytes.append(contentsOf: text.utf8)
        if bytes.count >= 1 << 16 { try flush() }
    }

    /// Appends raw bytes, writing a chunk once enough has gathered.
    package mutating func append(bytes more: [UInt8]) throws {
        bytes.append(contentsOf: more)
        if bytes.count >= 1 << 16 { try flush() }
    }

    /// Writes whatever has gathered.
    package mutating func flush() throws {
        guard !bytes.isEmpty else { return }
        try write(bytes)
        bytes.removeAll(keepingCapacity: true)
    }
}
