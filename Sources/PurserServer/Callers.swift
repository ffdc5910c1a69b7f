import Crypto
import PurserCore

/// What a caller of `purser serve` may do (docs/api.md, "Callers and tokens").
public struct Scope: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// `POST /v1/authorize`, `/v1/evaluate`; `GET /v1/budgets`, `/v1/policy`.
    public static let decide = Scope(rawValue: 1 << 0)
    /// `POST /v1/settle`, `/v1/release`.
    public static let settle = Scope(rawValue: 1 << 1)
    /// `POST /v1/reload`.
    public static let admin = Scope(rawValue: 1 << 2)
    /// May send a request `timestamp` (within the allowed skew) on the calls that touch the ledger.
    public static let timestamp = Scope(rawValue: 1 << 3)
    /// May send a `cost` that overrides the price table.
    public static let cost = Scope(rawValue: 1 << 4)

    /// The names a tokens file uses, in the order `description` prints them.
    static let names: [(String, Scope)] = [("decide", .decide), ("settle", .settle), ("admin", .admin),
                                           ("timestamp", .timestamp), ("cost", .cost)]

    /// The scope's names, comma-separated.
    var names: String { Scope.names.filter { contains($0.1) }.map(\.0).joined(separator: ",") }
}

/// A caller known by its token.
public struct Caller: Sendable, Hashable {
    /// The caller's name, for logs and the decision log (never the token).
    public let name: String
    /// What it may do.
    public let scope: Scope
}

/// Why a tokens file was refused, with the file and line.
public struct CallerFileError: Error, Sendable, CustomStringConvertible {
    /// What is wrong, located as `FILE:LINE: message`.
    public let message: String
    public var description: String { message }
}

/// The callers `purser serve` knows, by the SHA-256 of their tokens (docs/api.md, "Callers and tokens").
///
/// A token is looked up by comparing its digest with every caller's in constant time, so
/// the time an answer takes says nothing about how close a guess was.
public struct Callers: Sendable {
    private struct Entry: Sendable {
        let caller: Caller
        let digest: [UInt8]
    }

    private let entries: [Entry]

    /// No callers: on loopback, decision calls need no token and admin calls are refused.
    public init() { entries = [] }

    /// Whether any caller is configured.
    public var isEmpty: Bool { entries.isEmpty }

    /// Whether some caller matches.
    func contains(where predicate: (Caller) -> Bool) -> Bool { entries.contains { predicate($0.caller) } }

    /// The shortest token accepted, in bytes: a short token can be guessed.
    public static let minimumTokenBytes = 16
    /// The largest tokens file read.
    public static let maximumFileBytes = 64 << 10

    /// Reads a tokens file: one caller per line, `NAME SCOPES TOKEN`, where SCOPES is a
    /// comma-separated list of decide, settle, admin, timestamp, cost and TOKEN is the
    /// token itself or `sha256:` and its digest in hex. `#` starts a comment.
    public init(tokensFile path: String) throws(CallerFileError) {
        let text = try Self.read(path)
        var entries: [Entry] = []
        var names: Set<String> = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            guard !fields.isEmpty else { continue }
            let place = "\(path):\(index + 1)"
            guard fields.count == 3 else {
                throw CallerFileError(message: "\(place): expected NAME SCOPES TOKEN (three fields), found \(fields.count)")
            }
            let name = String(fields[0])
            // Names reach logs, the decision log and error bodies: printable ASCII of a few kinds only.
            guard (1...64).contains(name.utf8.count), name.utf8.allSatisfy(Self.isNameByte) else {
                throw CallerFileError(message: "\(place): the caller name \"\(TerminalText.sanitized(name))\" must be 1 to 64 letters, digits, '.', '_', '-' or '@'")
            }
            guard names.insert(name).inserted else { throw CallerFileError(message: "\(place): the caller \"\(TerminalText.sanitized(name))\" is named twice") }
            var scope = Scope()
            for word in fields[1].split(separator: ",") {
                guard let found = Scope.names.first(where: { $0.0 == word }) else {
                    throw CallerFileError(message: "\(place): unknown scope \"\(TerminalText.sanitized(String(word)))\"; scopes are decide, settle, admin, timestamp, cost")
                }
                scope.insert(found.1)
            }
            entries.append(Entry(caller: Caller(name: name, scope: scope), digest: try Self.digest(of: fields[2], at: place)))
        }
        guard !entries.isEmpty else { throw CallerFileError(message: "\(path): no callers (lines of NAME SCOPES TOKEN)") }
        self.entries = entries
    }

    /// Whether a byte may be in a caller's name: ASCII letters, digits, `.`, `_`, `-`, `@`.
    private static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "@"):
            return true
        default:
            return false
        }
    }

    /// Adds the administrator whose token is the only line of a file (`--admin-token-file`).
    public func adding(adminTokenFile path: String) throws(CallerFileError) -> Callers {
        let text = try Self.read(path)
        let token = text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).first.map(String.init) ?? ""
        let digest = try Self.digest(of: Substring(token), at: path)
        return Callers(entries: entries + [Entry(caller: Caller(name: "admin", scope: .admin), digest: digest)])
    }

    private init(entries: [Entry]) { self.entries = entries }

    /// The caller a presented token belongs to, or nil; every entry is compared, always.
    public func caller(token: some StringProtocol) -> Caller? {
        let presented = Array(SHA256.hash(data: Array(token.utf8)))
        var found: Caller?
        for entry in entries where Self.constantTimeEqual(entry.digest, presented) && found == nil {
            found = entry.caller
        }
        return found
    }

    /// Compares two digests of equal length without stopping at the first difference.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    private static func digest(of token: Substring, at place: String) throws(CallerFileError) -> [UInt8] {
        if token.hasPrefix("sha256:") {
            let hex = Array(token.dropFirst(7).utf8)
            guard hex.count == 64, let bytes = Hex.decode(hex) else {
                throw CallerFileError(message: "\(place): a sha256: token must be followed by 64 hexadecimal digits")
            }
            return bytes
        }
        guard token.utf8.count >= minimumTokenBytes else {
            throw CallerFileError(message: "\(place): the token is \(token.utf8.count) bytes; at least \(minimumTokenBytes) are needed (openssl rand -hex 32 makes one)")
        }
        return Array(SHA256.hash(data: Array(token.utf8)))
    }

    private static func read(_ path: String) throws(CallerFileError) -> String {
        let bytes: [UInt8]
        do {
            bytes = try SystemCalls.readSmallFile(path, limit: maximumFileBytes)
        } catch {
            throw CallerFileError(message: "\(path): \(error)")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw CallerFileError(message: "\(path): not UTF-8 text")
        }
        return text
    }
}

/// Hexadecimal digits to bytes.
enum Hex {
    static func decode(_ digits: [UInt8]) -> [UInt8]? {
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = value(digits[index]), let low = value(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func value(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
