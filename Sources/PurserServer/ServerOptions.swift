/// How `purser serve` listens and what it accepts (docs/api.md; `purser serve --help`).
public struct ServerOptions: Sendable {
    /// Where to listen.
    public var listen: ListenAddress = ListenAddress(host: "127.0.0.1", port: 8181)
    /// The policy files and directories, read again on reload.
    public var policyPaths: [String] = ["policies"]
    /// Who may call, by token.
    public var callers = Callers()
    /// The largest request body accepted; a larger one is answered 413.
    public var maxBodyBytes = 1 << 20
    /// How long a request's body may take to arrive, from its first byte to its last.
    public var readTimeout: Duration = .seconds(10)
    /// How long a connection may stay idle before it is closed.
    public var idleTimeout: Duration = .seconds(60)
    /// How far a request's `timestamp` may be from the server's clock on the calls that
    /// touch the ledger (for callers with the `timestamp` scope).
    public var timestampSkew: Duration = .seconds(300)
    /// How often `--watch` looks at the policy files (nil: only SIGHUP and `/v1/reload` reload).
    public var watchInterval: Duration?
    /// The certificate and key to serve HTTPS with; nil serves plain HTTP, on loopback only.
    public var tls: TLSFiles?
    /// Whether decisions on a ledger that answers without waiting are made on the connection's
    /// event loop (`DecisionFastPath`); off, every request goes through the routes (the tests
    /// compare the two).
    package var fastPath = true

    /// The defaults: loopback port 8181, ./policies, no tokens.
    public init() {}
}

/// A host and port to listen on, as `--listen` takes it: `127.0.0.1:8181`, `[::1]:8181`, `localhost:0`.
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    /// An IPv4 or IPv6 address, or `localhost`.
    public let host: String
    /// The port; 0 asks the system for a free one.
    public let port: Int

    /// Creates an address.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT` (`[IPV6]:PORT` for IPv6).
    public init(parsing text: String) throws(ServerError) {
        let host: Substring
        let port: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw ServerError("--listen \(text): expected [IPV6]:PORT, as in [::1]:8181")
            }
            host = text[text.index(after: text.startIndex)..<close]
            port = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw ServerError("--listen \(text): expected HOST:PORT, as in 127.0.0.1:8181")
            }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, let number = Int(port), (0...65_535).contains(number) else {
            throw ServerError("--listen \(text): expected HOST:PORT with a port from 0 to 65535")
        }
        self.init(host: String(host), port: number)
    }

    /// Whether only this machine can connect: 127.0.0.0/8, ::1 or localhost.
    public var isLoopback: Bool {
        if host == "localhost" || host == "::1" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// The PEM files `purser serve --tls-cert FILE --tls-key FILE` serves HTTPS with.
public struct TLSFiles: Sendable, Hashable {
    /// The server's certificate, followed by the intermediates that chain it to a root.
    public let certificateChain: String
    /// The certificate's private key (not encrypted).
    public let privateKey: String

    /// Names the two files; they are read when the server is made.
    public init(certificateChain: String, privateKey: String) {
        self.certificateChain = certificateChain
        self.privateKey = privateKey
    }
}

/// Why the server could not start or a call could not be served.
public struct ServerError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public let message: String

    /// Creates an error.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
