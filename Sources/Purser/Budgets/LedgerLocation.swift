/// Where a ledger keeps spend, named by one URL on the command line and in the library
/// (docs/cli.md, "Ledger URLs"): `memory:`, `sqlite:PATH[?OPTION=VALUE&…]`,
/// `postgres://USER@HOST[:PORT]/DATABASE[?OPTION=VALUE&…]`.
///
/// Parsing checks the form only; the store's module reads its options
/// (`SQLiteLedger(url:)`, `PostgresLedger(url:)`) and refuses the ones it does not know. Package-wide: a gateway
/// names its store by the store's own initializer.
package enum LedgerLocation: Sendable, Equatable, CustomStringConvertible {
    /// ``InMemoryLedger``: spend kept until the process ends.
    case memory
    /// A SQLite file, with the options after `?`.
    case sqlite(path: String, options: [String: String])
    /// A PostgreSQL database, by its URL (which `PostgresLedger(url:)` reads).
    case postgres(url: String)

    /// The schemes this build knows, for messages.
    package static let schemes = ["memory:", "sqlite:PATH", "postgres://USER@HOST/DATABASE"]

    /// Parses a ledger URL; `memory` alone is accepted for `memory:`.
    package init(parsing text: String) throws(LedgerError) {
        if text == "memory" || text == "memory:" {
            self = .memory
            return
        }
        guard let colon = text.firstIndex(of: ":") else {
            throw LedgerError("\"\(Self.excerpt(text))\" is not a ledger URL; use one of \(Self.schemes.joined(separator: ", "))")
        }
        let scheme = String(text[..<colon])
        let rest = String(text[text.index(after: colon)...])
        switch scheme {
        case "sqlite":
            let parts = rest.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
            var path = String(parts.first ?? "")
            // sqlite:///abs/path and sqlite://relative are accepted as sqlite:/abs/path and sqlite:relative.
            if path.hasPrefix("//") { path.removeFirst(2) }
            guard !path.isEmpty else { throw LedgerError("the ledger URL \"\(Self.excerpt(text))\" names no file; write sqlite:PATH, e.g. sqlite:/var/lib/purser/ledger.db") }
            guard !path.utf8.contains(0) else { throw LedgerError("the ledger file name holds a NUL byte") }
            var options: [String: String] = [:]
            if parts.count == 2 {
                for pair in parts[1].split(separator: "&") {
                    let item = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                    guard item.count == 2, !item[0].isEmpty else {
                        throw LedgerError("the ledger option \"\(Self.excerpt(String(pair)))\" is not NAME=VALUE")
                    }
                    guard options.updateValue(String(item[1]), forKey: String(item[0])) == nil else {
                        throw LedgerError("the ledger option \(item[0]) is given twice")
                    }
                }
            }
            self = .sqlite(path: path, options: options)
        case "memory":
            throw LedgerError("memory: takes no path or options")
        case "postgres", "postgresql":
            guard rest.hasPrefix("//") else {
                throw LedgerError("a PostgreSQL ledger URL starts with postgres://, e.g. postgres://purser@db.internal:5432/purser")
            }
            guard !text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
                throw LedgerError("the ledger URL holds control characters")
            }
            self = .postgres(url: text)
        default:
            throw LedgerError("unknown ledger scheme \"\(Self.excerpt(scheme))\"; use one of \(Self.schemes.joined(separator: ", "))")
        }
    }

    package var description: String {
        switch self {
        case .memory: return "memory:"
        case .sqlite(let path, let options):
            let query = options.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "&")
            return "sqlite:" + path + (query.isEmpty ? "" : "?" + query)
        case .postgres(let url):
            guard let password = Self.passwordRange(url) else { return url }
            var masked = url
            masked.replaceSubrange(password, with: "***")
            return masked
        }
    }

    /// Whether the URL carries a password (`postgres://USER:PASSWORD@…`), which a command line
    /// shows to every user of the machine.
    package var hasPassword: Bool {
        guard case .postgres(let url) = self else { return false }
        return Self.passwordRange(url) != nil
    }

    /// Where a `postgres://USER:PASSWORD@HOST` URL's password is.
    private static func passwordRange(_ url: String) -> Range<String.Index>? {
        guard let colon = url.firstIndex(of: ":"), url[colon...].hasPrefix("://") else { return nil }
        let authority = url[url.index(colon, offsetBy: 3)...].prefix { $0 != "/" && $0 != "?" }
        guard let at = authority.lastIndex(of: "@"), let separator = authority[..<at].firstIndex(of: ":") else { return nil }
        return url.index(after: separator)..<at
    }

    /// Up to 60 characters of untrusted text, for a message.
    private static func excerpt(_ text: String) -> String {
        let cut = text.unicodeScalars.prefix(60).map { $0.value < 0x20 || $0.value == 0x7F ? "?" : Character($0) }
        return String(cut) + (text.unicodeScalars.count > 60 ? "…" : "")
    }
}
