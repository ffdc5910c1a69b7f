import Testing
import Purser
import PurserTestSupport

@Suite("Request decoding")
struct RequestDecoderTests {
    @Test func decodesEveryField() throws {
        let request = try RequestDecoder.decode("""
            {"id": "r-1", "timestamp": "2026-11-22T10:00:00Z", "team": "payments",
             "environment": "qa", "model": "claude-opus-4-5", "region": "us-east-1",
             "user": "alice", "tags": {"project": "checkout", "n": "3", "b": "true"},
             "usage": {"input_tokens": 1200, "cached_input_tokens": 5, "cache_write_tokens": 6, "output_tokens": 800},
             "cost": null, "unavailable_regions": ["eu-west-1"], "allow_reroute": false}
            """)
        #expect(request.id == "r-1")
        #expect(request.timestamp == Timestamp(seconds: 1_795_341_600))
        #expect(request.team == "payments" && request.environment == "qa" && request.model == "claude-opus-4-5")
        #expect(request.region == "us-east-1" && request.user == "alice")
        #expect(request.tags == ["project": "checkout", "n": "3", "b": "true"])
        #expect(request.usage == Usage(inputTokens: 1200, cachedInputTokens: 5, cacheWriteTokens: 6, outputTokens: 800))
        #expect(request.cost == nil && request.unavailableRegions == ["eu-west-1"] && !request.allowReroute)
    }

    @Test func roundsCostsToTheNanoDollar() throws {
        #expect(try RequestDecoder.decode(#"{"model": "m", "cost": 1.2345678904e-05}"#).cost == USD(nanos: 12_346))
        #expect(try RequestDecoder.decode(#"{"model": "m", "cost": 0.0123}"#).cost == USD("0.0123"))
    }

    static let megabyte = String(repeating: "x", count: 1 << 20)

    @Test(arguments: [
        (#"{"model": "m", "temperature": 0.2}"#, "unknown field \"temperature\""),
        (#"{"model": "m", "tem": 1, "teams": "x"}"#, "unknown field \"tem\""),
        (#"{"model": "m", "taem": "x"}"#, "did you mean \"team\""),
        (#"{"model": "m", "usage": {"input_tokens": -5}}"#, "must not be negative"),
        (#"{"model": "m", "usage": {"input_tokens": 1e300}}"#, "usage.input_tokens is out of range (0..100000000000)"),
        (#"{"model": "m", "usage": {"input_tokens": 99999999999999999999999}}"#, "out of range"),
        (#"{"model": "m", "usage": {"input_tokens": 200000000000}}"#, "out of range (0..100000000000)"),
        (#"{"model": "m", "usage": {"input_tokens": 1.5}}"#, "whole number"),
        (#"{"model": "m", "usage": {"input_tokens": "12"}}"#, "must be a whole number"),
        (#"{"model": "m", "usage": {"inputs": 1}}"#, "unknown field \"usage.inputs\""),
        (#"{"model": "m", "timestamp": "yesterday"}"#, "not an RFC 3339 time"),
        (#"{"model": "m", "timestamp": "2026-02-30T00:00:00Z"}"#, "not an RFC 3339 time"),
        (#"{"model": "m", "timestamp": 1700000000}"#, "timestamp must be a string"),
        (#"{"model": 5}"#, "model must be a string"),
        (#"{"model": ""}"#, "must not be empty"),
        (#"{"team": "t"}"#, "has no \"model\""),
        (#"{"model": "m", "cost": -1}"#, "cost must not be negative"),
        (#"{"model": "m", "tags": {"a": {"b": 1}}}"#, "tags.a must be a string"),
        (#"{"model": "m", "tags": ["a"]}"#, "tags must be an object"),
        (#"{"model": "m", "allow_reroute": "yes"}"#, "allow_reroute must be true or false"),
        (#"{"model": "m",}"#, "expected a key"),
        (#"{"model": "m"} {"model": "n"}"#, "after the value"),
        (#"["model"]"#, "expected an object"),
        ("", "expected an object"),
        (#"{"model": "m\u0000"}"#, "m"),
        (#"{"model": "\ud800"}"#, "surrogate"),
        ("{\"model\": \"\(RequestDecoderTests.megabyte)\"}", "the limit is 1024"),
    ])
    func rejectsHostileRequests(json: String, message: String) {
        do {
            let request = try RequestDecoder.decode(json)
            // "m\u0000" is valid JSON: the NUL is escaped, and it stays in the name.
            #expect(json.contains("u0000") && request.model.hasPrefix("m"), "expected an error containing \(message)")
        } catch {
            #expect(error.message.contains(message), "\(error.message)")
        }
    }

    @Test func rejectsDeepNesting() {
        let deep = #"{"model": "m", "tags": {"a": "# + String(repeating: "[", count: 100_000)
        #expect(throws: RequestError.self) { try RequestDecoder.decode(deep) }
    }

    /// Property: no byte string crashes the decoder (seeded mutation of valid requests).
    @Test func survivesMutatedInput() {
        var generator = SeededRandom(seed: 7)
        let valid = Array(#"{"id":"r","timestamp":"2026-11-22T10:00:00Z","team":"t","model":"m","tags":{"a":"b"},"usage":{"input_tokens":12,"output_tokens":3},"cost":0.5,"unavailable_regions":["x"]}"#.utf8)
        let alphabet = Array(#"{}[]":,-0123456789.eE\ntrufalsn"#.utf8) + [0, 0xFF, 0xC3, 0x80]
        var decoded = 0
        for _ in 0..<20_000 {
            var bytes = valid
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let position = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: bytes[position] = alphabet[Int.random(in: 0..<alphabet.count, using: &generator)]
                case 1: bytes.remove(at: position)
                default: bytes.insert(alphabet[Int.random(in: 0..<alphabet.count, using: &generator)], at: position)
                }
                if bytes.isEmpty { break }
            }
            if (try? RequestDecoder.decode(bytes)) != nil { decoded += 1 }
        }
        #expect(decoded > 0 && decoded < 20_000)
    }

    /// Reads `json` (followed by `,`) with `usage` and with the field-by-field reader alone.
    private static func bothUsageReaders(_ json: String) -> (fast: Result<Usage, JSONError>, full: Result<Usage, JSONError>,
                                                             compact: Usage?, same: Bool) {
        Array((json + ",").utf8).withUnsafeBufferPointer { buffer in
            var fast = JSONScanner(buffer)
            var full = JSONScanner(buffer)
            var compact = JSONScanner(buffer)
            let fastResult = Result { () throws(JSONError) in try RequestParser.usage(&fast) }
            let fullResult = Result { () throws(JSONError) in try RequestParser.usageByField(&full) }
            let compactUsage = RequestParser.compactUsage(&compact)
            return (fastResult, fullResult, compactUsage, fast.index == full.index)
        }
    }

    /// A usage object written compactly with plain counts is read in one pass; anything else
    /// falls back to the field-by-field reader. Either way the result (or error) and the bytes
    /// consumed are the field-by-field reader's.
    @Test(arguments: [
        (#"{"input_tokens":3274,"output_tokens":486}"#, true),
        (#"{"output_tokens":0,"input_tokens":1}"#, true),
        (#"{"input_tokens":1,"cached_input_tokens":2,"cache_write_tokens":3,"output_tokens":4}"#, true),
        (#"{"input_tokens":5,"input_tokens":6}"#, false),  // a repeated key: the field-by-field reader reports it
        (#"{"input_tokens":100000000000}"#, true),
        (#"{"input_tokens":100000000001}"#, false),
        (#"{"input_tokens":1000000000000}"#, false),
        (#"{"input_tokens":999999999999999999999}"#, false),
        (#"{"input_tokens":012}"#, false),
        (#"{"input_tokens":1.0}"#, false),
        (#"{"input_tokens":1e3}"#, false),
        (#"{"input_tokens":-1}"#, false),
        (#"{"input_tokens":null}"#, false),
        (#"{"input_tokens": 1}"#, false),
        (#"{ "input_tokens":1}"#, false),
        (#"{"input_tokens":1 }"#, false),
        (#"{"input_tokens":1,}"#, false),
        (#"{"input_tokens":1,"oops":2}"#, false),
        (#"{"input_tokens":1"#, false),
        (#"{}"#, false),
        ("null", false),
        (#" {"input_tokens":1}"#, false),
        (#"[1]"#, false),
    ])
    func aCompactUsageIsReadAsFieldByField(json: String, compact: Bool) {
        let (fast, full, compactUsage, same) = Self.bothUsageReaders(json)
        #expect((compactUsage != nil) == compact, "\(json)")
        switch (fast, full) {
        case (.success(let usage), .success(let expected)):
            #expect(usage == expected, "\(json)")
            #expect(compactUsage == nil || compactUsage == expected)
            #expect(same, "\(json): consumed a different number of bytes")
        case (.failure(let error), .failure(let expected)):
            #expect(error == expected, "\(json)")
        default:
            Issue.record("\(json): \(fast) but field by field \(full)")
        }
    }

    /// The same on generated usage objects: known and unknown keys, counts of every length
    /// (leading zeros, signs, fractions), spaces here and there.
    @Test func generatedUsageIsReadAsFieldByField() {
        var generator = SeededRandom(seed: 11)
        let keys = ["input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens", "input", "outputs_tokens"]
        var compact = 0
        for _ in 0..<3000 {
            var json = "{"
            let fields = Int(generator.next() % 5)
            for field in 0..<fields {
                if field > 0 { json += generator.next() % 20 == 0 ? ", " : "," }
                let key = generator.next() % 12 == 0 ? keys[Int(generator.next() % 6)] : keys[Int(generator.next() % 4)]
                json += "\"\(key)\":"
                if generator.next() % 20 == 0 { json += " " }
                switch generator.next() % 12 {
                case 0: json += "0" + String(generator.next() % 100)
                case 1: json += "-" + String(generator.next() % 100)
                case 2: json += String(generator.next() % 100) + ".5"
                case 3: json += String(generator.next())
                case 4: json += "null"
                default: json += String(generator.next() % UInt64(1 + generator.next() % UInt64(2 * RequestDecoder.maxTokens)))
                }
            }
            json += generator.next() % 30 == 0 ? " }" : "}"
            let (fast, full, compactUsage, same) = Self.bothUsageReaders(json)
            if compactUsage != nil { compact += 1 }
            switch (fast, full) {
            case (.success(let usage), .success(let expected)):
                #expect(usage == expected && same, "\(json)")
            case (.failure(let error), .failure(let expected)):
                #expect(error == expected, "\(json)")
            default:
                Issue.record("\(json): \(fast) but field by field \(full)")
            }
        }
        // Both paths were exercised.
        #expect(compact > 300 && compact < 2900, "\(compact) of 3000 read compactly")
    }
}
