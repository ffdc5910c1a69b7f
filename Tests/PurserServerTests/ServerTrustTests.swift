import Foundation
import Purser
import PurserServer
import PurserTestSupport
import Testing

/// What a caller may not decide (docs/api.md, "Callers and tokens", "What the server does not
/// trust"): tokens and scopes, a timestamp outside the skew, a cost without the scope.
@Suite("purser serve: callers, tokens and what the server does not trust")
struct ServerTrustTests {
    static let gateway = "gateway-token-0123456789abcdef"
    static let billing = "billing-token-0123456789abcdef"
    static let admin = "admin-token-0123456789abcdef00"
    static let reader = "reader-token-0123456789abcdef0"

    /// Four callers: a gateway that decides and settles, a billing job that may also send
    /// cost and timestamp, a reader that may only decide, and an admin (by digest).
    static func callers(in scratch: Scratch) throws -> Callers {
        let digest = Array(Self.admin.utf8).sha256Hex
        let file = try scratch.write("tokens", """
            # name   scopes                          token
            gateway  decide,settle                   \(gateway)
            billing  decide,settle,cost,timestamp    \(billing)   # trusted with time and cost
            reader   decide                          \(reader)

            ops      admin                           sha256:\(digest)
            """)
        return try Callers(tokensFile: file)
    }

    static let request = #"{"team":"payments","environment":"production","model":"sonnet"}"#

    /// Runs a test against a server on the fixture policy that knows the four callers.
    static func withCallers(_ body: (RunningServer) async throws -> Void) async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        var options = ServerOptions()
        options.callers = try callers(in: scratch)
        let (enforcer, _) = try EngineFixture.enforcer()
        try await withServer(enforcer, options: options, body)
    }

    @Test("missing, unknown and out-of-scope tokens are 401 and 403; a token is never echoed")
    func tokens() async throws {
        try await Self.withCallers { server in
            let none = try await server.post("/v1/authorize", Self.request)
            #expect(none.status == 401)
            #expect(none.headers["www-authenticate"]?.hasPrefix("Bearer") == true)
            let wrong = try await server.post("/v1/authorize", Self.request, token: "not-a-token-at-all-really")
            #expect(wrong.status == 401)
            #expect(!wrong.text.contains("not-a-token"))
            // One character off: still unknown.
            let near = try await server.post("/v1/authorize", Self.request, token: String(Self.gateway.dropLast()) + "0")
            #expect(near.status == 401)
            #expect(try await server.post("/v1/authorize", Self.request, token: Self.gateway).status == 200)
            let readerSettles = try await server.post("/v1/release", #"{"decision_id":"d-00000000000000010000000001"}"#, token: Self.reader)
            #expect(readerSettles.status == 403)
            #expect(readerSettles.text.contains("\\\"reader\\\"") && readerSettles.text.contains("settle"))
            let gatewayReloads = try await server.post("/v1/reload", "", token: Self.gateway)
            #expect(gatewayReloads.status == 403)
            #expect(try await server.post("/v1/reload", "", token: Self.admin).status == 200)
            let lowercase = try await HTTPTestClient.send(port: server.port, "POST", "/v1/authorize", body: Self.request,
                                                          headers: ["Authorization": "bearer \(Self.gateway)"])
            #expect(lowercase.status == 200)
        }
    }

    @Test("with no tokens on loopback, decisions need none but reload is refused")
    func anonymousLoopback() async throws {
        let (enforcer, _) = try EngineFixture.enforcer()
        try await withServer(enforcer) { server in
            #expect(try await server.post("/v1/authorize", Self.request).status == 200)
            let reload = try await server.post("/v1/reload", "")
            #expect(reload.status == 401)
            #expect(reload.text.contains("--admin-token-file"))
        }
    }

    @Test("a timestamp needs the scope and must be within the skew on authorize; evaluate takes any")
    func timestamps() async throws {
        // The clock stands at 2026-11-23T10:00:00Z; 300 s is the default skew.
        try await Self.withCallers { server in
            func authorize(_ timestamp: String, _ token: String) async throws -> HTTPTestClient.Response {
                try await server.post("/v1/authorize", #"{"team":"payments","environment":"production","model":"sonnet","timestamp":"\#(timestamp)"}"#,
                                      token: token)
            }
            let unscoped = try await authorize("2026-11-23T10:00:00Z", Self.gateway)
            #expect(unscoped.status == 403)
            #expect(unscoped.text.contains("timestamp"))
            #expect(try await authorize("2026-11-23T10:04:59Z", Self.billing).status == 200)
            #expect(try await authorize("2026-11-23T09:55:00Z", Self.billing).status == 200)
            // Last month's unused budget is out of reach.
            let lastMonth = try await authorize("2026-10-31T23:59:00Z", Self.billing)
            #expect(lastMonth.status == 400)
            #expect(lastMonth.text.contains("300 s"))
            #expect(try await authorize("2026-11-23T10:05:01Z", Self.billing).status == 400)
            let dryRun = try await server.post("/v1/evaluate", #"{"team":"payments","environment":"production","model":"sonnet","timestamp":"2020-01-01T00:00:00Z"}"#,
                                               token: Self.reader)
            #expect(dryRun.status == 200)
        }
    }

    @Test("a cost needs the scope, on authorize and on settle")
    func costs() async throws {
        try await Self.withCallers { server in
            let cheap = #"{"team":"payments","environment":"production","model":"opus","cost":0.000001}"#
            let refused = try await server.post("/v1/authorize", cheap, token: Self.gateway)
            #expect(refused.status == 403)
            #expect(refused.text.contains("cost"))
            #expect(try await server.post("/v1/authorize", cheap, token: Self.billing).status == 200)

            let decision = try await server.post("/v1/authorize", Self.request, token: Self.gateway).json
            let id = try #require(decision["decision_id"] as? String)
            let zero = #"{"decision_id":"\#(id)","cost":0}"#
            #expect(try await server.post("/v1/settle", zero, token: Self.gateway).status == 403)
            let priced = try await server.post("/v1/settle", #"{"decision_id":"\#(id)","usage":{"input_tokens":1000000}}"#, token: Self.gateway)
            #expect(try priced.json["cost"] as? Double == 3)
        }
    }

    @Test("tokens files are checked: short tokens, unknown scopes, repeated names, no callers")
    func tokensFiles() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let cases: [(String, String)] = [
            ("gateway decide short", "tokens:1: the token is 5 bytes; at least 16"),
            ("gateway decide,spend 0123456789abcdef", "tokens:1: unknown scope \"spend\""),
            ("a decide 0123456789abcdef\na settle 0123456789abcdeg", "tokens:2: the caller \"a\" is named twice"),
            ("# nobody", "no callers"),
            ("a decide", "tokens:1: expected NAME SCOPES TOKEN"),
            ("a admin sha256:abc", "64 hexadecimal digits"),
            // A name with a terminal escape would reach logs and error bodies: refused, and not echoed raw.
            ("\u{1B}[31mevil decide 0123456789abcdef", "tokens:1: the caller name \"\u{FFFD}[31mevil\" must be 1 to 64 letters"),
            ("na\u{00EF}ve decide 0123456789abcdef", "must be 1 to 64 letters"),
            (String(repeating: "n", count: 65) + " decide 0123456789abcdef", "must be 1 to 64 letters"),
        ]
        for (text, message) in cases {
            let file = try scratch.write("tokens", text)
            #expect(throws: CallerFileError.self) { try Callers(tokensFile: file) }
            do {
                _ = try Callers(tokensFile: file)
            } catch {
                #expect(error.message.contains(message), "\(error.message)")
            }
        }
        #expect(throws: CallerFileError.self) { try Callers(tokensFile: "/dev/zero") }
        #expect(throws: CallerFileError.self) { try Callers(tokensFile: scratch.path + "/missing") }
    }
}

extension Array where Element == UInt8 {
    /// The SHA-256 of these bytes in hex, by `sha256sum` (an implementation other than the server's).
    var sha256Hex: String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try? process.run()
        input.fileHandleForWriting.write(Data(self))
        try? input.fileHandleForWriting.close()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return String(text.prefix(64))
    }
}
