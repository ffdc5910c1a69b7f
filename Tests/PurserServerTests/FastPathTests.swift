import Foundation
import Purser
@testable import PurserServer
import PurserTestSupport
import Testing

/// Decisions answered on the connection's event loop (`DecisionFastPath`): the same answers,
/// refusals, metrics and decision log as the routes, in the requests' order, with the
/// connection's timeouts and `Connection: close` kept (docs/api.md, "How the server answers").
@Suite("purser serve: decisions on the event loop")
struct FastPathTests {
    static let authorize = #"{"team":"payments","environment":"production","model":"sonnet"}"#

    static func post(_ path: String, _ body: String, _ headers: String = "") -> String {
        "POST \(path) HTTP/1.1\r\nHost: x\r\n\(headers)Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
    }

    /// Every request both ways, one server each: the same statuses, bodies (but the decision
    /// ids) and decision counts in the metrics, refusals included.
    @Test("the event loop answers what the routes answer, refusals and metrics alike")
    func bothPathsAnswerAlike() async throws {
        var outcomes: [[String]] = []
        for fastPath in [true, false] {
            let (enforcer, _) = try EngineFixture.enforcer()
            var options = ServerOptions()
            options.fastPath = fastPath
            options.maxBodyBytes = 4096
            options.callers = try Callers(tokensFile: try Scratch().write("tokens", "gateway decide,settle secret-token-0001-abcdef\n"))
            var seen: [String] = []
            try await withServer(enforcer, options: options) { server in
                let token = "secret-token-0001-abcdef"
                let calls: [(String, String, String?)] = ServerAPITests.requests.map { ("/v1/authorize", $0, token) } + [
                    ("/v1/evaluate", ServerAPITests.requests[1], token),
                    ("/v1/authorize", Self.authorize, nil),
                    ("/v1/authorize", Self.authorize, "wrong"),
                    ("/v1/authorize", #"{"team":"payments","model":}"#, token),
                    ("/v1/authorize", #"{"team":"payments","environment":"production","model":"sonnet","cost":0.5}"#, token),
                    ("/v1/authorize", #"{"team":"payments","environment":"production","model":"sonnet","timestamp":"2020-01-01T00:00:00Z"}"#, token),
                    ("/v1/authorize", String(repeating: " ", count: 5000), token),
                    ("/v1/authorize?pretty=1", Self.authorize, token),
                ]
                for (path, body, token) in calls {
                    let response = try await server.post(path, body, token: token)
                    seen.append("\(path) \(response.status) \(withoutID(response.text))")
                }
                let metrics = try await server.get("/metrics").text
                // The registry renders series in no fixed order.
                seen += metrics.split(separator: "\n").filter { $0.hasPrefix("purser_decisions_total") || $0.hasPrefix("purser_request_duration_seconds_count") }.map(String.init).sorted()
            }
            outcomes.append(seen)
        }
        #expect(outcomes[0] == outcomes[1], "\(zip(outcomes[0], outcomes[1]).filter { $0 != $1 })")
        #expect(outcomes[0].contains { $0.hasPrefix("/v1/authorize 401") } && outcomes[0].contains { $0.hasPrefix("/v1/authorize 403") }
                && outcomes[0].contains { $0.hasPrefix("/v1/authorize 400") } && outcomes[0].contains { $0.hasPrefix("/v1/authorize 413") },
                "\(outcomes[0])")
        #expect(outcomes[0].contains(#"purser_decisions_total{endpoint="authorize",decision="allow"} 5"#), "\(outcomes[0])")
    }

    /// Pipelined requests, some answered on the event loop and some by the routes, are answered
    /// in the order they were sent.
    @Test("pipelined requests are answered in order, whichever path answers them")
    func pipelinedInOrder() async throws {
        let (enforcer, _) = try EngineFixture.enforcer()
        try await withServer(enforcer) { server in
            let requests = "GET /v1/policy HTTP/1.1\r\nHost: x\r\n\r\n" + Self.post("/v1/authorize", Self.authorize)
                + "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + Self.post("/v1/evaluate", Self.authorize)
                + Self.post("/v1/settle", #"{"decision_id":"d-00000000000000010000000001","cost":0}"#) + Self.post("/v1/authorize", Self.authorize)
            let answers = try await HTTPTestClient.Connection.run(port: server.port) { connection in
                try connection.send(requests)
                return try (0..<6).map { _ in try connection.next() }
            }
            #expect(answers.map(\.status) == [200, 200, 200, 200, answers[4].status, 200])
            #expect(answers[0].text.contains("\"revision\""), "\(answers[0].text)")
            #expect(try answers[1].json["decision"] as? String == "allow")
            #expect(answers[2].text == #"{"status":"ok"}"#)
            #expect(try answers[3].json["decision"] as? String == "allow")
            #expect(!answers[4].text.contains("\"decision\":"), "\(answers[4].text)")
            #expect(try answers[5].json["decision"] as? String == "allow")
        }
    }

    /// A client that pipelines thousands of decisions and reads nothing for a second gets every
    /// answer, in order, once it reads (while the connection's output is full, requests go to
    /// the route, whose writer waits and so stops the server reading more of them).
    @Test("a client that does not read its answers is held back, and gets them all in order")
    func pipelinedFloodKeepsOrder() async throws {
        let (enforcer, _) = try EngineFixture.enforcer()
        let count = 5_000
        try await withServer(enforcer) { server in
            let ids = try await HTTPTestClient.Connection.run(port: server.port) { connection in
                let requests = (0..<count).map { Self.post("/v1/evaluate", #"{"id":"p-\#($0)","team":"payments","environment":"production","model":"sonnet"}"#) }.joined()
                // Sending on a thread of its own: the server stops reading while nothing is read.
                nonisolated(unsafe) let sender = connection
                let sent = DispatchSemaphore(value: 0)
                Thread {
                    try? sender.send(requests)
                    sent.signal()
                }.start()
                usleep(1_000_000)
                let ids = try (0..<count).map { _ in try connection.next().json["request_id"] as? String ?? "" }
                sent.wait()
                return ids
            }
            #expect(ids == (0..<count).map { "p-\($0)" })
        }
    }

    /// A connection busy with decisions answered on the event loop is not idle: it outlives
    /// the idle timeout, and is closed once it really is idle.
    ///
    /// The client sends a decision every 100 ms for 3 s against an idle timeout of 2 s. Under a
    /// loaded machine the client's own thread can sleep past the timeout between two calls, or the
    /// server's between reading a call and answering it; then the server is right to close, so such
    /// a round is run again (at most three times), and only a round whose gaps (from an answer to
    /// the next call, or to the failure) all stayed under half the timeout can fail the test.
    @Test("a connection busy with decisions outlives the idle timeout, and an idle one is closed")
    func idleTimeoutSeesTheEventLoopsAnswers() async throws {
        let (enforcer, _) = try EngineFixture.enforcer()
        var options = ServerOptions()
        options.idleTimeout = .seconds(2)
        try await withServer(enforcer, options: options) { server in
            for round in 1...3 {
                let result = try await HTTPTestClient.Connection.run(port: server.port) { connection -> IdleRound in
                    var result = IdleRound()
                    var last = Date()
                    do {
                        for _ in 0..<30 {
                            result.widestGap = max(result.widestGap, Date().timeIntervalSince(last))
                            try connection.send(Self.post("/v1/authorize", Self.authorize))
                            if try connection.next().status == 200 { result.answered += 1 }
                            last = Date()
                            usleep(100_000)
                        }
                    } catch {
                        // The wait for the answer that failed counts too: a server stalled past the
                        // timeout (a loaded machine) closes rightly, one closing early does not.
                        result.widestGap = max(result.widestGap, Date().timeIntervalSince(last))
                        result.failure = "\(error)"
                        return result
                    }
                    result.closed = connection.closes(within: 6)
                    return result
                }
                if result.failure != nil, result.widestGap >= 1, round < 3 { continue }  // the client slept past the timeout: again
                #expect(result.failure == nil && result.answered == 30,
                        "round \(round): \(result.answered) answered, widest gap \(result.widestGap) s, \(result.failure ?? "")")
                #expect(result.failure != nil || result.closed, "an idle connection was not closed after the idle timeout")
                return
            }
        }
    }

    /// One round of the idle-timeout test, as the client saw it.
    struct IdleRound: Sendable {
        var answered = 0
        var widestGap = 0.0
        var failure: String?
        var closed = false
    }

    /// `Connection: close` is honoured on an answer from the event loop; answers carry `Date`
    /// and their `Content-Length`.
    @Test("Connection: close closes after the answer; Date and Content-Length are sent")
    func connectionCloseAndHeaders() async throws {
        let (enforcer, _) = try EngineFixture.enforcer()
        try await withServer(enforcer) { server in
            let (answer, closed) = try await HTTPTestClient.Connection.run(port: server.port) { connection in
                try connection.send(Self.post("/v1/authorize", Self.authorize, "Connection: close\r\n"))
                let answer = try connection.next()
                return (answer, connection.closes(within: 10))
            }
            #expect(answer.status == 200)
            #expect(closed)
            #expect(answer.headers["content-length"] == String(answer.body.count))
            let date = try #require(answer.headers["date"])
            #expect(date.range(of: #"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$"#,
                               options: .regularExpression) != nil, "\(date)")
        }
    }

    @Test("the Date header's format", arguments: [
        (Int64(0), "Thu, 01 Jan 1970 00:00:00 GMT"),
        (1_796_674_894, "Mon, 07 Dec 2026 20:21:34 GMT"),
        (1_709_251_199, "Thu, 29 Feb 2024 23:59:59 GMT"),
        (951_868_800, "Wed, 01 Mar 2000 00:00:00 GMT"),
    ])
    func dateFormat(seconds: Int64, text: String) {
        #expect(HTTPDate.format(seconds) == text)
    }
}
