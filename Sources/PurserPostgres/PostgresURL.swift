import Foundation
import Purser
import PurserCore

extension PostgresLedger {
    /// Connects to the ledger a `postgres://` URL names, as `--ledger` takes it (docs/cli.md,
    /// "Ledger URLs"):
    ///
    ///     postgres://USER@HOST[:PORT]/DATABASE[?OPTION=VALUE&…]
    ///
    /// Options: `sslmode=disable|prefer|require`, `timeout_ms=N` (1 to 600000),
    /// `pool_size=N` (1 to 1000), `retention_s=N` (60 to 31536000), `password_file=PATH`,
    /// `sslrootcert=PATH` (a PEM file of the certificate authorities that `sslmode=require` verifies
    /// the server against, instead of the system's roots).
    /// The password comes from `password_file`, else from the `PGPASSWORD` environment
    /// variable, else from the URL (where a command line would show it to every user of the
    /// machine; `purser` refuses it there).
    public convenience init(url: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(LedgerError) {
        let parsed = try PostgresURL(url)
        var options = Options()
        var passwordFile: String?
        for (name, value) in parsed.options.sorted(by: { $0.key < $1.key }) {
            switch name {
            case "sslmode":
                guard let mode = Options.TLSMode(rawValue: value) else {
                    throw LedgerError("postgres: sslmode=\(Self.safe(value)) is not one of disable, prefer, require")
                }
                options.tls = mode
            case "timeout_ms":
                guard let number = Int64(value), (1...600_000).contains(number) else {
                    throw LedgerError("postgres: timeout_ms=\(Self.safe(value)) is not a whole number of milliseconds from 1 to 600000")
                }
                options.timeout = .milliseconds(number)
            case "pool_size":
                guard let number = Int(value), (1...1000).contains(number) else {
                    throw LedgerError("postgres: pool_size=\(Self.safe(value)) is not a whole number of connections from 1 to 1000")
                }
                options.maximumConnections = number
            case "retention_s":
                guard let number = Int64(value), (60...31_536_000).contains(number) else {
                    throw LedgerError("postgres: retention_s=\(Self.safe(value)) is not a whole number of seconds from 60 to 31536000")
                }
                options.retentionSeconds = number
            case "password_file":
                passwordFile = value
            case "sslrootcert":
                options.rootCertificates = value
            default:
                throw LedgerError("postgres: unknown option \"\(Self.safe(name))\"; the options are sslmode, sslrootcert, timeout_ms, pool_size, retention_s, password_file")
            }
        }
        var password = parsed.password
        if let passwordFile {
            // At most 4 KiB of a regular file is read: a device such as /dev/zero, or a FIFO
            // with no writer, must not hang the command.
            guard let bytes = try? SystemCalls.readSmallFile(passwordFile, limit: 4096),
                  let text = String(validating: bytes, as: UTF8.self)
            else {
                throw LedgerError("postgres: cannot read the password file \(Self.safe(passwordFile)) (a regular file of at most 4 KiB of UTF-8)")
            }
            password = text.trimmingCharacters(in: .newlines)
        } else if let variable = environment["PGPASSWORD"], !variable.isEmpty {
            password = variable
        }
        try self.init(endpoint: parsed.endpoint, password: password, options: options)
    }

    /// Untrusted text made safe for a message: control characters as `?`, at most 60 characters.
    static func safe(_ text: String) -> String {
        let cut = text.unicodeScalars.prefix(60).map { $0.value < 0x20 || $0.value == 0x7F ? "?" : Character($0) }
        return String(cut) + (text.unicodeScalars.count > 60 ? "…" : "")
    }
}

/// The parts of a `postgres://` URL.
struct PostgresURL {
    let endpoint: PostgresLedger.Endpoint
    let password: String?
    let options: [String: String]

    init(_ text: String) throws(LedgerError) {
        var rest: Substring
        if text.hasPrefix("postgres://") {
            rest = text.dropFirst("postgres://".count)
        } else if text.hasPrefix("postgresql://") {
            rest = text.dropFirst("postgresql://".count)
        } else {
            throw LedgerError("\"\(PostgresLedger.safe(text))\" is not a postgres:// URL")
        }
        var options: [String: String] = [:]
        if let question = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: question)...].split(separator: "&") {
                let item = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard item.count == 2, !item[0].isEmpty, let value = String(item[1]).removingPercentEncoding else {
                    throw LedgerError("postgres: the option \"\(PostgresLedger.safe(String(pair)))\" is not NAME=VALUE")
                }
                guard options.updateValue(value, forKey: String(item[0])) == nil else {
                    throw LedgerError("postgres: the option \(PostgresLedger.safe(String(item[0]))) is given twice")
                }
            }
            rest = rest[..<question]
        }
        var database = "postgres"
        if let slash = rest.firstIndex(of: "/") {
            let name = String(rest[rest.index(after: slash)...])
            if !name.isEmpty {
                guard let decoded = name.removingPercentEncoding, !decoded.utf8.contains(0) else {
                    throw LedgerError("postgres: the database name is not a valid URL path")
                }
                database = decoded
            }
            rest = rest[..<slash]
        }
        var user = "postgres"
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            let parts = credentials.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = parts.first.flatMap({ String($0).removingPercentEncoding }), !name.isEmpty else {
                throw LedgerError("postgres: the URL names no user before @")
            }
            user = name
            if parts.count == 2 {
                guard let secret = String(parts[1]).removingPercentEncoding else {
                    throw LedgerError("postgres: the password in the URL is not valid percent-encoding")
                }
                password = secret
            }
        }
        var host = String(rest)
        var port = 5432
        if host.hasPrefix("[") {  // [::1]:5432, or a percent-encoded socket directory in brackets
            guard let close = host.firstIndex(of: "]") else { throw LedgerError("postgres: the host \"\(PostgresLedger.safe(host))\" has no closing ]") }
            let after = host[host.index(after: close)...]
            if after.hasPrefix(":") { port = try Self.port(String(after.dropFirst())) }
            else if !after.isEmpty { throw LedgerError("postgres: unexpected \"\(PostgresLedger.safe(String(after)))\" after the host") }
            host = String(host[..<host.index(after: close)])
        } else if let colon = host.lastIndex(of: ":") {
            port = try Self.port(String(host[host.index(after: colon)...]))
            host = String(host[..<colon])
        }
        if let decoded = host.removingPercentEncoding, decoded.hasPrefix("/") { host = decoded }  // %2Fvar%2Frun%2Fpostgresql
        if let socket = options.removeValue(forKey: "host") {  // ?host=/var/run/postgresql, as libpq takes it
            guard socket.hasPrefix("/") else { throw LedgerError("postgres: host=\(PostgresLedger.safe(socket)) must be a socket directory (an absolute path)") }
            host = socket
        }
        guard !host.isEmpty else { throw LedgerError("postgres: the URL names no host; write postgres://USER@HOST:PORT/DATABASE") }
        guard !host.utf8.contains(0), !host.contains(where: { $0 == " " || $0 == "\t" }) else {
            throw LedgerError("postgres: the host \"\(PostgresLedger.safe(host))\" is not a host name")
        }
        endpoint = PostgresLedger.Endpoint(host: host, port: port, user: user, database: database)
        self.password = password
        self.options = options
    }

    private static func port(_ text: String) throws(LedgerError) -> Int {
        guard let port = Int(text), (1...65_535).contains(port) else {
            throw LedgerError("postgres: the port \"\(PostgresLedger.safe(text))\" is not a number from 1 to 65535")
        }
        return port
    }
}
