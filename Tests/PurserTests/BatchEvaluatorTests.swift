import Foundation
import Testing
import Purser
import PurserTestSupport

@Suite("Batch evaluation")
struct BatchEvaluatorTests {
    static func lines(_ count: Int) -> String {
        (0..<count).map { index in
            let model = ["sonnet", "opus", "haiku", "nope"][index % 4]
            let environment = index % 3 == 0 ? "qa" : "production"
            return #"{"id":"r-\#(index)","timestamp":"2026-11-23T10:00:00Z","team":"payments","environment":"\#(environment)","model":"\#(model)","usage":{"input_tokens":\#(index),"output_tokens":5}}"#
        }.joined(separator: "\n") + "\n"
    }

    static func run(_ text: String, parts: Int, mode: BatchEvaluator.Mode = .evaluate) throws -> (lines: [[String: Any]], counts: BatchEvaluator.Counts) {
        let (enforcer, _) = try EngineFixture.enforcer()
        let batch = BatchEvaluator(enforcer: enforcer, mode: mode)
        let bytes = Array(text.utf8)
        let (output, counts) = bytes.withUnsafeBufferPointer { batch.runParallel($0, firstLine: 1, parts: parts) }
        let lines = try String(decoding: output, as: UTF8.self).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        return (lines, counts)
    }

    @Test func keepsInputOrderAcrossCores() throws {
        let text = Self.lines(3000)
        let (parallel, counts) = try Self.run(text, parts: 4)
        let (sequential, _) = try Self.run(text, parts: 1)
        #expect(parallel.count == 3000)
        #expect(parallel.map { $0["request_id"] as? String } == (0..<3000).map { "r-\($0)" })
        #expect(parallel.map { $0["model"] as? String } == sequential.map { $0["model"] as? String })
        #expect(parallel.map { $0["decision"] as? String } == sequential.map { $0["decision"] as? String })
        #expect(counts.decisions == 3000 && counts.denied == 750 && counts.malformed == 0)
    }

    @Test func reportsMalformedLinesByNumberAndGoesOn() throws {
        let text = """
            {"team":"payments","environment":"production","model":"sonnet"}

            {"team":"payments","model":7}
            not json at all
            {"team":"payments","environment":"production","model":"sonnet","usage":{"input_tokens":-1}}
            {"team":"payments","environment":"production","model":"haiku"}
            """
        let (lines, counts) = try Self.run(text, parts: 1)
        #expect(counts.decisions == 2 && counts.malformed == 3)
        #expect(lines.count == 5, "blank lines produce nothing")
        #expect(lines[1]["line"] as? Int == 3 && lines[1]["column"] as? Int == 28)
        #expect((lines[2]["error"] as? String)?.contains("invalid JSON") == true)
        #expect(lines[3]["line"] as? Int == 5)
        #expect(lines[4]["model"] as? String == "haiku")
    }

    @Test func refusesOverlongLinesWithoutParsingThem() throws {
        let (enforcer, _) = try EngineFixture.enforcer()
        var batch = BatchEvaluator(enforcer: enforcer, mode: .evaluate)
        batch.maxLineBytes = 100
        let text = #"{"team":"payments","model":"sonnet","id":""# + String(repeating: "x", count: 200) + "\"}\n"
        var output: [UInt8] = []
        let counts = Array(text.utf8).withUnsafeBufferPointer { batch.run($0, firstLine: 9, into: &output) }
        #expect(counts.malformed == 1)
        #expect(String(decoding: output, as: UTF8.self).contains(#""line":9"#))
    }

    @Test func withALedgerEarlierRequestsCountAgainstLaterOnes() throws {
        let text = (0..<15).map { _ in #"{"team":"payments","environment":"production","model":"haiku","cost":1,"timestamp":"2026-11-23T10:00:00Z"}"# }
            .joined(separator: "\n")
        let (lines, counts) = try Self.run(text, parts: 2, mode: .authorizeAndSettle)
        // payments has a $10 daily cap: ten $1 requests fit, five do not.
        #expect(counts.allowed == 10 && counts.denied == 5)
        #expect(lines.last?["decision"] as? String == "deny")
    }
}
