import Foundation
import Purser
import PurserServer
import PurserTestSupport
import Testing

/// `purser serve` over real HTTP on loopback (docs/api.md): the same answers as the library,
/// and nothing a caller may not decide.
@Suite("purser serve: the JSON API")
struct ServerAPITests {
    static let requests = [
        #"{"id":"r-1","team":"payments","environment":"production","model":"sonnet","usage":{"input_tokens":1000,"output_tokens":500}}"#,
        #"{"id":"r-2","team":"payments","environment":"qa","model":"opus","usage":{"input_tokens":1000,"output_tokens":500}}"#,
        #"{"id":"r-3","team":"payments","environment":"production","model":"opus","region":"us-east-1","unavailable_regions":["us-east-1"]}"#,
        #"{"id":"r-4","team":"nobody","environment":"production","model":"gpt-9"}"#,
        #"{"id":"r-5","team":"payments","environment":"production","model":"opus","usage":{"input_tokens":400000,"output_tokens":1}}"#,
    ]

    @Test("authorize over HTTP answers what the library answers, allow and deny alike with 200")
    func authorizeMatchesLibrary() async throws {
        let (served, _) = try EngineFixture.enforcer()
        let (library, _) = try EngineFixture.enforcer()
        try await withServer(served) { server in
            var verdicts: Set<String> = []
            for text in Self.requests {
                let response = try await server.post("/v1/authorize", text)
                #expect(response.status == 200, "\(response.text)")
                #expect(response.headers["content-type"] == "application/json")
                let expected = DecisionEncoder.json(await library.authorize(try RequestDecoder.decode(text)))
                #expect(withoutID(response.text) == withoutID(expected))
                verdicts.insert(try response.json["decision"] as? String ?? "")
            }
            #expect(verdicts == ["allow", "deny"])
        }
    }

    @Test("evaluate is a dry run: it takes any timestamp and reserves nothing")
    func evaluateReservesNothing() async throws {
        let (enforcer, _) = try EngineFixture.enforcer()
        try await withServer(enforcer) { server in
            let old = #"{"team":"payments","environment":"production","model":"sonnet","timestamp":"2020-01-01T00:00:00Z","cost":1.9}"#
            for _ in 0..<6 {
                let response = try await server.post("/v1/evaluate", old)
                #expect(response.status == 200, "\(response.text)")
                #expect(try response.json["decision"] as? String == "allow")
            }
            // $1.90 six times would pass the $10 daily cap had anything been reserved.
            let authorized = try await server.post("/v1/authorize", #"{"team":"payments","environment":"production","model":"sonnet"}"#)
            let budgets = try #require(try authorized.json["budgets"] as? [[String: Any]])
            let day = try #require(budgets.first { $0["id"] as? String == "team.payments.day" && $0["window"] as? String == "2026-11-23" })
            #expect(day["spent"] as? Double == 0)
        }
    }

    @Test("settle and release by decision id: settled, already settled, unknown ids, bad bodies")
    func settleAndRelease() async throws {
        let (enforcer, _) = try EngineFixture.enforcer()
        try await withServer(enforcer) { server in
            let decision = try await server.post("/v1/authorize", #"{"team":"payments","environment":"production","model":"sonnet"}"#).json
            let id = try #require(decision["decision_id"] as? String)
            let settle = #"{"decision_id":"\#(id)","usage":{"input_tokens":1000000,"output_tokens":0}}"#
            let first = try await server.post("/v1/settle", settle)
            #expect(first.status == 200, "\(first.text)")
            #expect(try first.json["outcome"] as? String == "settled")
            #expect(try first.json["cost"] as? Double == 3)  // sonnet: $3 per million input tokens
            let again = try await server.post("/v1/settle", settle)
            #expect(try again.json["outcome"] as? String == "already_settled")
            // The spend counts: the next decision sees $3 spent today.
            let next = try await server.post("/v1/authorize", #"{"team":"payments","environment":"production","model":"haiku"}"#).json
            let budgets = try #require(next["budgets"] as? [[String: Any]])
            #expect(budgets.contains { $0["window"] as? String == "2026-11-23" && $0["spent"] as? Double == 3 })

            let released = try await server.post("/v1/release", #"{"decision_id":"\#(id)"}"#)
            #expect(released.status == 200)
            #expect(try released.json["released"] as? Bool == false)  // settled already: nothing held

            let unknown = try await server.post("/v1/settle", #"{"decision_id":"d-00000000000000010000000001","usage":{}}"#)
            #expect(unknown.status == 404, "\(unknown.text)")
            let notAnID = try await server.post("/v1/settle", #"{"decision_id":"42"}"#)
            #expect(notAnID.status == 400)
            #expect(notAnID.text.contains("is not a decision id"))
            let negative = try await server.post("/v1/settle", #"{"decision_id":"\#(id)","usage":{"input_tokens":-5}}"#)
            #expect(negative.status == 400)
            let typo = try await server.post("/v1/release", #"{"decision":"\#(id)"}"#)
            #expect(typo.status == 400)
            #expect(typo.text.contains("unknown field \\\"decision\\\""))
        }
    }

    @Test("GET /v1/budgets lists counters against caps, by team and budget, current windows unless asked")
    func budgets() async throws {
        let (enforcer, clock) = try EngineFixture.enforcer()
        try await withServer(enforcer) { server in
            let decision = try await server.post("/v1/authorize", #"{"team":"payments","environment":"production","model":"sonnet"}"#).json
            let id = try #require(decision["decision_id"] as? String)
            _ = try await server.post("/v1/settle", #"{"decision_id":"\#(id)","usage":{"input_tokens":1000000}}"#)
            let listed = try await server.get("/v1/budgets?team=payments").json
            let rows = try #require(listed["counters"] as? [[String: Any]])
            #expect(!rows.isEmpty && rows.allSatisfy { ($0["key"] as? String)?.split(separator: "/").contains("payments") == true })
            let day = try #require(rows.first { $0["id"] as? String == "team.payments.day" })
            #expect(day["spent"] as? Double == 3 && day["limit"] as? Double == 10 && day["remaining"] as? Double == 7)
            #expect(listed["over"] as? Int == 0)
            let one = try await server.get("/v1/budgets?budget=org-month").json["counters"] as? [[String: Any]]
            #expect(one?.count == 1 && one?.first?["spent"] as? Double == 3)

            clock.advance(seconds: 86_400)  // the next day: the day's counter is no longer current
            let today = try await server.get("/v1/budgets?team=payments").json["counters"] as? [[String: Any]]
            #expect(today?.contains { $0["id"] as? String == "team.payments.day" } == false)
            let all = try await server.get("/v1/budgets?team=payments&windows=all").json["counters"] as? [[String: Any]]
            #expect(all?.contains { $0["id"] as? String == "team.payments.day" } == true)
            let typo = try await server.get("/v1/budgets?teem=payments")
            #expect(typo.status == 400)
            #expect(typo.text.contains("teem"))
        }
    }

    @Test("bad bodies are 400 with a located message; a body past the limit is 413; the server stays up")
    func badBodies() async throws {
        let (enforcer, _) = try EngineFixture.enforcer()
        var options = ServerOptions()
        options.maxBodyBytes = 64 << 10
        try await withServer(enforcer, options: options) { server in
            let cases: [(String, String)] = [
                ("{\"team\": \"payments\",\n  \"model\": }", "line"),
                (#"{"team":"payments","model":42}"#, "model"),
                (#"{"team":"payments","model":"sonnet","usage":{"input_tokens":"many"}}"#, "input_tokens"),
                (#"{"team":"payments","model":"sonnet","modle":"x"}"#, "did you mean"),
                ("", "expected"),
                ("[" + String(repeating: "[", count: 50_000), "deep"),
                (#"{"model":"sonnet","usage":{"input_tokens":1e400}}"#, "input_tokens"),
            ]
            for (body, mention) in cases {
                let response = try await server.post("/v1/authorize", body)
                #expect(response.status == 400, "\(body.prefix(60)): \(response.text)")
                let json = try response.json
                #expect(json["line"] is Int && json["column"] is Int, "\(response.text)")
                #expect((json["error"] as? String ?? "").lowercased().contains(mention.lowercased()) || mention == "deep" || mention == "line",
                        "\(body.prefix(60)): \(response.text)")
            }
            let huge = String(repeating: " ", count: 10 << 20)
            let tooLarge = try await server.post("/v1/authorize", huge)
            #expect(tooLarge.status == 413)
            // Chunked, without a length: cut off at the limit all the same.
            let head = "POST /v1/authorize HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            let chunk = String(format: "%x\r\n", 1 << 20) + String(repeating: " ", count: 1 << 20) + "\r\n0\r\n\r\n"
            let chunked = try await HTTPTestClient.raw(port: server.port, [Array(head.utf8), Array(chunk.utf8)])
            #expect(chunked.status == 413)
            let fine = try await server.post("/v1/authorize", #"{"team":"payments","environment":"production","model":"sonnet"}"#)
            #expect(fine.status == 200)
        }
    }

    @Test("unknown paths are 404 and wrong methods 405, with the endpoints named")
    func routing() async throws {
        let (enforcer, _) = try EngineFixture.enforcer()
        try await withServer(enforcer) { server in
            let missing = try await server.get("/v2/authorize")
            #expect(missing.status == 404)
            #expect(missing.text.contains("/v1/authorize"))
            let wrong = try await server.get("/v1/authorize")
            #expect(wrong.status == 405)
            #expect(wrong.headers["allow"] == "POST")
            let health = try await server.get("/healthz")
            #expect(health.status == 200)
        }
    }

    @Test("a body that arrives too slowly is cut off at the read timeout")
    func slowBody() async throws {
        let (enforcer, _) = try EngineFixture.enforcer()
        var options = ServerOptions()
        options.readTimeout = .milliseconds(300)
        try await withServer(enforcer, options: options) { server in
            let head = "POST /v1/authorize HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"model\":"
            let started = Date()
            let outcome = try? await HTTPTestClient.raw(port: server.port, [Array(head.utf8), Array("\"sonnet\"".utf8)], pause: 3, timeout: 10)
            #expect(outcome == nil || outcome?.status != 200)
            #expect(Date().timeIntervalSince(started) < 8)
            let health = try await server.get("/healthz")
            #expect(health.status == 200)
        }
    }
}
