import Foundation
import Testing
import Purser
import PurserTestSupport

/// Requests and usage records with a key written twice are rejected, located, rather than
/// judged by whichever value came last (issue #19, item 12).
@Suite("Duplicate JSON keys")
struct DuplicateKeyTests {
    @Test(arguments: [
        (#"{"team":"payments","model":"claude-haiku-4-5","model":"claude-opus-4-5"}"#, #"duplicate field "model" (first at column 20)"#),
        (#"{"model":"m","cost":0.5,"cost":0.000001}"#, #"duplicate field "cost""#),
        (#"{"model":"m","team":"a","team":"b"}"#, #"duplicate field "team""#),
        (#"{"model":"m","timestamp":"2026-11-22T10:00:00Z","timestamp":"2026-11-22T11:00:00Z"}"#, #"duplicate field "timestamp""#),
        (#"{"model":"m","usage":{"input_tokens":1,"input_tokens":2}}"#, #"duplicate field "usage.input_tokens""#),
        (#"{"model":"m","usage":{"input_tokens": 1, "input_tokens": 2}}"#, #"duplicate field "usage.input_tokens""#),
        (#"{"model":"m","usage":{"input_tokens":1},"usage":{"input_tokens":2}}"#, #"duplicate field "usage""#),
        (#"{"model":"m","tags":{"a":"x","a":"y"}}"#, #"duplicate field "tags.a""#),
        (#"{"model":"m","tags":{"a":"x","\u0061":"y"}}"#, #"duplicate field "tags.a""#),
        (#"{"model":"m","allow_reroute":true,"allow_reroute":false}"#, #"duplicate field "allow_reroute""#),
    ])
    func requestsRejectRepeatedKeys(json: String, message: String) {
        let error = #expect(throws: RequestError.self) { try RequestDecoder.decode(json) }
        #expect(error?.message.contains(message) == true, "\(String(describing: error))")
    }

    @Test func theErrorIsAtTheRepeatAndNamesTheFirst() throws {
        let json = "{\"model\":\"a\",\n\"model\":\"b\"}"
        do {
            _ = try RequestDecoder.decode(json)
            Issue.record("a repeated model was accepted")
        } catch {
            #expect(error.offset == 14, "the second \"model\" starts at byte 14")
            #expect(error.message.contains("first at column 2"))
        }
    }

    @Test func tagValuesMustBeStrings() {
        for json in [#"{"model":"m","tags":{"n":3}}"#, #"{"model":"m","tags":{"b":true}}"#] {
            #expect(throws: RequestError.self) { try RequestDecoder.decode(json) }
        }
        #expect((try? RequestDecoder.decode(#"{"model":"m","tags":{"n":"3"}}"#))?.tags["n"] == "3")
    }

    @Test func outOfRangeValuesSaySo() {
        let cases = [
            (#"{"model":"m","timestamp":"9999-12-31T23:59:59Z"}"#, "out of range (1970-01-01T00:00:00Z..2261-12-31T23:59:59Z)"),
            (#"{"model":"m","usage":{"input_tokens":1e23}}"#, "usage.input_tokens is out of range (0..100000000000)"),
            (#"{"model":"m","usage":{"input_tokens":100000000000000000000000}}"#, "usage.input_tokens is out of range"),
            (#"{"model":"m","cost":1e30}"#, "cost is out of range"),
            (#"{"model":"m","timestamp":12}"#, "timestamp must be a string"),
            (#"{"model":"m","allow_reroute":"yes"}"#, "allow_reroute must be true or false"),
            (#"{"model":"m","unavailable_regions":"x"}"#, "unavailable_regions must be an array"),
        ]
        for (json, message) in cases {
            do {
                _ = try RequestDecoder.decode(json)
                Issue.record("accepted \(json)")
            } catch {
                #expect(error.message.contains(message), "\(error.message)")
            }
        }
        // Still a format error when the text is not a time at all.
        #expect(throws: RequestError.self) { try RequestDecoder.decode(#"{"model":"m","timestamp":"9999-99-99"}"#) }
        #expect(!Timestamp.isOutOfRange("9999-99-99T00:00:00Z"))
        #expect(Timestamp.isOutOfRange("1969-12-31"))
    }
}
