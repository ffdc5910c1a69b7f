import Foundation
import Testing
import PurserCore

/// The writer's string escaping, checked against Foundation's JSON parser.
@Suite("JSON writer")
struct JSONWriterTests {
    /// Strings of every length around the eight-byte steps, with the characters that need
    /// escaping (quotes, backslashes, control characters) at every position, and non-ASCII text.
    static var samples: [String] {
        let specials: [Character] = ["\"", "\\", "\n", "\r", "\t", "\u{0}", "\u{1F}", "é", "日", "🙂", "\u{7F}"]
        var samples = ["", "plain", "exactly8", "sixteen chars ok", "a message long enough to take several words at a time"]
        for length in [1, 7, 8, 9, 15, 16, 17, 31] {
            for special in specials {
                for position in [0, length / 2, length - 1] {
                    var characters = Array(repeating: Character("x"), count: length)
                    characters[position] = special
                    samples.append(String(characters))
                }
            }
        }
        var generator = SeededRandom(seed: 42)
        for _ in 0..<300 {
            let length = Int.random(in: 0...40, using: &generator)
            samples.append(String((0..<length).map { _ in
                Int.random(in: 0..<4, using: &generator) == 0 ? specials.randomElement(using: &generator) ?? "x"
                    : Character(Unicode.Scalar(UInt8.random(in: 0x20...0x7E, using: &generator)))
            }))
        }
        return samples
    }

    @Test func escapedStringsReadBackAsWritten() throws {
        for sample in Self.samples {
            let json = JSONWriter()
            json.array { json in json.string(sample) }
            let text = json.text
            let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String]
            #expect(parsed == [sample], "\(text)")
            // Nothing that needs no escape is escaped.
            if !sample.contains(where: { $0 == "\"" || $0 == "\\" || $0.unicodeScalars.contains { $0.value < 0x20 } }) {
                #expect(text == "[\"\(sample)\"]")
            }
        }
    }
}
