#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import PurserTestSupport
import Testing

/// `purser serve` as operators run it: a process that refuses bad set-ups with exit 2,
/// reloads on SIGHUP, and on SIGTERM finishes the calls in flight and exits 0.
@Suite("purser serve, the process", .timeLimit(.minutes(5)))
struct ServeCommandTests {
    static let policy = """
        version: 1
        models:
          small: {provider: p, tier: small, price: {input: 1, output: 1}}
          big: {provider: p, tier: frontier, price: {input: 10, output: 10}}
        environments:
          qa: {tiers: [small]}
        teams:
          t: {}
        """
    static let bigInQA = #"{"team":"t","environment":"qa","model":"big"}"#

    /// A `purser serve` child process and the port it listens on (read from its log).
    final class Server {
        let process = Process()
        let log: String
        fileprivate(set) var port = 0

        private init(_ arguments: [String], in directory: String) throws {
            log = directory + "/serve.log"
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            process.executableURL = URL(fileURLWithPath: Purser.executable)
            process.arguments = ["serve", "--listen", "127.0.0.1:0"] + arguments
            process.currentDirectoryURL = URL(fileURLWithPath: directory)
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = FileHandle(forWritingAtPath: log)
            process.standardError = FileHandle(forWritingAtPath: log)
            var environment = ProcessInfo.processInfo.environment
            environment["SWIFT_BACKTRACE"] = "enable=no"
            process.environment = environment
        }

        /// Starts `purser serve` and waits (without holding a thread) until its log names its port.
        static func start(_ arguments: [String], in directory: String) async throws -> Server {
            let server = try Server(arguments, in: directory)
            try server.process.run()
            for _ in 0..<1200 {
                let text = server.logText
                if let line = text.split(separator: "\n").first(where: { $0.contains("purser serve: listening") }),
                   let range = line.range(of: #"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+:[0-9]+"#, options: .regularExpression),
                   let port = Int(line[range].split(separator: ":")[1])
                {
                    server.port = port
                    return server
                }
                guard server.process.isRunning else { break }
                try await Task.sleep(for: .milliseconds(25))
            }
            server.process.terminate()
            throw HTTPTestClient.Failure(description: "purser serve did not start: \(server.logText)")
        }

        func signal(_ number: Int32) { kill(process.processIdentifier, number) }

        /// Waits for the process to exit (off the concurrency pool), at most `seconds`.
        func exit(within seconds: Double) async -> Int32? {
            let process = self.process
            return await withCheckedContinuation { continuation in
                Thread {
                    let start = Date()
                    while process.isRunning, Date().timeIntervalSince(start) < seconds { usleep(10_000) }
                    if process.isRunning {
                        kill(process.processIdentifier, SIGKILL)
                        process.waitUntilExit()
                        continuation.resume(returning: nil)
                    } else {
                        process.waitUntilExit()
                        continuation.resume(returning: process.terminationStatus)
                    }
                }.start()
            }
        }

        var logText: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

        func post(_ path: String, _ body: String) async throws -> HTTPTestClient.Response {
            try await HTTPTestClient.send(port: port, "POST", path, body: body)
        }
    }

    @Test("set-ups that cannot be served exit 2 with the reason")
    func refusals() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("policies/p.yaml", Self.policy)
        try directory.write("tokens", "gateway decide short\n")
        try FileManager.default.createDirectory(atPath: directory.path + "/tls", withIntermediateDirectories: true)
        _ = try TestCertificates.make(in: directory.path + "/tls")
        let cases: [([String], String)] = [
            (["--listen", "0.0.0.0:8181"], "only with TLS: give --tls-cert and --tls-key"),
            (["--listen", "0.0.0.0:8181", "--tls-cert", "tls/server.pem", "--tls-key", "tls/server.key"], "only with --tokens-file"),
            (["--tls-cert", "tls/server.pem"], "--tls-cert and --tls-key go together"),
            (["--tls-cert", "tls/server.key", "--tls-key", "tls/server.key"], "--tls-cert tls/server.key: not a readable PEM file of certificates"),
            (["--tls-cert", "tls/server.pem", "--tls-key", "tls/server.pem"], "--tls-key tls/server.pem: not a readable, unencrypted PEM private key"),
            (["--listen", "localhost"], "expected HOST:PORT"),
            (["--tokens-file", "tokens"], "tokens:1: the token is 5 bytes"),
            (["--tokens-file", "missing"], "missing:"),
            (["--policy", "nowhere"], "nowhere"),
            (["--ledger", "postgres://purser@127.0.0.1:9/purser?timeout_ms=300"], "Connection refused"),
            (["--max-body-bytes", "0"], "--max-body-bytes"),
            (["--decision-log", "logs", "--decision-log-key", "k", "--decision-log-format", "ocsf"], "standard output only"),
            (["--decision-log-format", "xml"], "Please provide one of 'jsonl' and 'ocsf'"),
        ]
        for (arguments, message) in cases {
            let result = try Purser.run(["serve"] + arguments, in: directory.path)
            #expect(result.status == 2, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
            #expect(!result.signalled && !result.timedOut)
        }
    }

    @Test("off loopback with TLS and tokens: HTTPS answers the callers it knows, and nothing in the clear")
    func tls() async throws {
        try await onOwnExecutor("purser.serve-test") {
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            try directory.write("policies/p.yaml", Self.policy)
            let token = "gateway-token-0123456789abcdef"
            try directory.write("tokens", "gateway decide,settle \(token)\n")
            try FileManager.default.createDirectory(atPath: directory.path + "/tls", withIntermediateDirectories: true)
            let files = try TestCertificates.make(in: directory.path + "/tls")
            let server = try await Server.start(["--listen", "0.0.0.0:0", "--tls-cert", files.certificate, "--tls-key", files.key,
                                                 "--tokens-file", "tokens"], in: directory.path)
            defer { server.signal(SIGKILL) }
            #expect(server.logText.contains(#""scheme":"https""#))
            let url = "https://127.0.0.1:\(server.port)/v1/authorize"
            func curl(_ arguments: [String]) throws -> Purser.Result {
                try Purser.run(["-sS", "--max-time", "10", "-w", "\n%{http_code}"] + arguments, in: directory.path, executable: "/usr/bin/curl")
            }
            // Verified against the test's CA, with the caller's token: the decision.
            let answered = try curl(["--cacert", files.ca, "-H", "Authorization: Bearer \(token)", "-d", Self.bigInQA, url])
            #expect(answered.status == 0, "\(answered.stderr)")
            #expect(answered.stdout.hasSuffix("\n200") && answered.stdout.contains(#""decision":"deny""#), "\(answered.stdout)")
            // No token: 401, even though the connection comes from this machine.
            let anonymous = try curl(["--cacert", files.ca, "-d", Self.bigInQA, url])
            #expect(anonymous.stdout.hasSuffix("\n401"), "\(anonymous.stdout)")
            // A client that does not trust the CA gets no answer; plain HTTP gets none either.
            #expect(try curl(["-d", Self.bigInQA, url]).status == 60)
            let plain = try curl(["-d", Self.bigInQA, "http://127.0.0.1:\(server.port)/v1/authorize"])
            #expect(plain.status != 0 && !plain.stdout.contains("decision"), "\(plain.stdout)")
            server.signal(SIGTERM)
            #expect(await server.exit(within: 30) == 0)
        }
    }

    @Test("SIGHUP reloads the policy, keeping the last good one when the new one is broken")
    func sighup() async throws {
        try await onOwnExecutor("purser.serve-test") {
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            try directory.write("policies/p.yaml", Self.policy)
            let server = try await Server.start([], in: directory.path)
            #expect(try await server.post("/v1/authorize", Self.bigInQA).json["decision"] as? String == "deny")

            try directory.write("policies/p.yaml", Self.policy + "\n  broken: [\n")
            server.signal(SIGHUP)
            for _ in 0..<200 where !server.logText.contains("policy reload refused") { try await Task.sleep(for: .milliseconds(50)) }
            #expect(server.logText.contains("policy reload refused"))
            #expect(try await server.post("/v1/authorize", Self.bigInQA).json["decision"] as? String == "deny")

            try directory.write("policies/p.yaml", Self.policy.replacingOccurrences(of: "tiers: [small]", with: "tiers: [small, frontier]"))
            server.signal(SIGHUP)
            var allowed = false
            for _ in 0..<50 where !allowed {
                try await Task.sleep(for: .milliseconds(100))
                allowed = try await server.post("/v1/authorize", Self.bigInQA).json["decision"] as? String == "allow"
            }
            #expect(allowed)
            server.signal(SIGTERM)
            #expect(await server.exit(within: 20) == 0)
        }
    }

    @Test("SIGTERM finishes the call in flight, then exits 0")
    func sigtermDrains() async throws {
        try await onOwnExecutor("purser.serve-test") {
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            try directory.write("policies/p.yaml", Self.policy)
            let server = try await Server.start([], in: directory.path)
            let body = #"{"team":"t","environment":"qa","model":"small"}"#
            let head = "POST /v1/authorize HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
            // The request's body arrives 3 s after its head; SIGTERM comes in between.
            let port = server.port
            async let answer = HTTPTestClient.raw(port: port, [Array(head.utf8), Array(body.utf8)], pause: 3)
            try await Task.sleep(for: .milliseconds(1500))
            server.signal(SIGTERM)
            let response = try await answer
            #expect(response.status == 200)
            #expect(try response.json["decision"] as? String == "allow")
            #expect(await server.exit(within: 20) == 0)
            // Nothing listens any more.
            await #expect(throws: HTTPTestClient.Failure.self) { try await HTTPTestClient.send(port: port, "GET", "/healthz") }
        }
    }
}

extension ServeCommandTests {
    @Test("SIGTERM under load: every decision answered is in the decision log, which closes signed and verifies")
    func sigtermUnderLoadLosesNoLogLine() async throws {
        try await onOwnExecutor("purser.serve-test") {
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            try directory.write("policies/p.yaml", Self.policy)
            let keygen = try Purser.run(["keygen", "--key-id", "serve", "--out", "serve.key"], in: directory.path)
            #expect(keygen.status == 0, "\(keygen.stderr)")
            let server = try await Server.start(["--decision-log", "log", "--decision-log-key", "serve.key"], in: directory.path)
            let port = server.port
            // 8 clients authorize in a loop; SIGTERM arrives while they do.
            let answered = try await withThrowingTaskGroup(of: [String].self) { group in
                for client in 0..<8 {
                    group.addTask {
                        var ids: [String] = []
                        for call in 0..<400 {
                            let body = #"{"id":"c\#(client)-\#(call)","team":"t","environment":"qa","model":"small"}"#
                            guard let response = try? await HTTPTestClient.send(port: port, "POST", "/v1/authorize", body: body, timeout: 10),
                                  response.status == 200, let id = try? response.json["decision_id"] as? String
                            else { break }
                            ids.append(id)
                        }
                        return ids
                    }
                }
                try await Task.sleep(for: .milliseconds(700))
                server.signal(SIGTERM)
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(await server.exit(within: 30) == 0, "\(server.logText.suffix(2000))")
            #expect(answered.count > 0 && answered.count < 3200, "SIGTERM came after the load (\(answered.count) answered)")
            let verify = try Purser.run(["verify-log", "--public-key", "serve.key.pub", "log"], in: directory.path)
            #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
            let logged = try FileManager.default.contentsOfDirectory(atPath: directory.path + "/log").sorted()
                .map { try String(contentsOfFile: directory.path + "/log/" + $0, encoding: .utf8) }.joined()
            let missing = answered.filter { !logged.contains($0) }
            #expect(missing.isEmpty, "\(missing.count) of \(answered.count) answered decisions are not in the log")
            // The audit replays the server's own log: one record per allowed decision, none twice.
            let audit = try Purser.run(["audit", "--format", "json", "--fail-on", "never", "log"], in: directory.path)
            #expect(audit.status == 0, "\(audit.stderr)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(audit.stdout.utf8)) as? [String: Any])
            let summary = try #require(report["summary"] as? [String: Any])
            #expect(summary["records"] as? Int == answered.count, "\(summary)")
        }
    }
}

extension HTTPTestClient.Response {
    /// The body as a JSON object.
    var json: [String: Any] {
        get throws {
            let value = try JSONSerialization.jsonObject(with: Data(body))
            return try #require(value as? [String: Any], "not a JSON object: \(text)")
        }
    }
}
