import Foundation
import Purser
import PurserDecisionLog
import PurserServer
import PurserTestSupport
import Testing

/// What `purser serve` leaves for a security team (docs/decision-log.md): every call that
/// decided or changed spend, in a log that verifies.
@Suite("purser serve: the decision log")
struct ServerDecisionLogTests {
    @Test("authorize, evaluate, settle and release are each one line, with the caller; the closed log verifies")
    func everyCallIsLogged() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let key = try DecisionLogSigningKey.generate(keyID: "serve-test")
        let log = try DecisionLog(directory: scratch.path + "/log", key: key)
        let (enforcer, _) = try EngineFixture.enforcer()
        var ids: [String] = []
        try await withServer(enforcer, decisionLog: log) { server in
            let decision = try await server.post("/v1/authorize", #"{"id":"r-1","team":"payments","environment":"production","model":"sonnet"}"#).json
            let id = try #require(decision["decision_id"] as? String)
            ids.append(id)
            _ = try await server.post("/v1/evaluate", #"{"team":"payments","environment":"qa","model":"opus"}"#)
            _ = try await server.post("/v1/settle", #"{"decision_id":"\#(id)","usage":{"input_tokens":10}}"#)
            _ = try await server.post("/v1/release", #"{"decision_id":"\#(id)"}"#)
            // Refused calls decide nothing and are not logged.
            _ = try await server.post("/v1/authorize", "{")
        }
        let files = try DecisionLogVerifier.files(in: scratch.path + "/log")
        let verification = try DecisionLogVerifier.verify(files: files, publicKeys: [key.publicKey])
        #expect(verification.isVerified, "\(String(describing: verification.problem))")
        let lines = try files.flatMap { try String(contentsOfFile: $0, encoding: .utf8).split(separator: "\n") }
        let events = try lines.map { line -> String in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return object["event"] as? String ?? ""
        }
        #expect(events.filter { $0 != "checkpoint" } == ["authorize", "evaluate", "settle", "release"])
        #expect(events.last == "checkpoint")
        let authorize = try #require(lines.first { $0.contains(#""event":"authorize""#) })
        #expect(authorize.contains(#""caller":"anonymous""#))
        #expect(authorize.contains(#""request":{"id":"r-1""#))
        #expect(authorize.contains(ids[0]))
        #expect(try #require(lines.first { $0.contains(#""event":"settle""#) }).contains(#""outcome":"settled""#))
    }
}
