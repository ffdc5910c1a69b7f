import Testing
import PurserCore

@Suite("Exact money")
struct MoneyTests {
    @Test(arguments: [
        ("0", 0), ("12", 12_000_000_000), ("0.0123", 12_300_000), ("5.00", 5_000_000_000),
        ("1e-9", 1), ("1.5E3", 1_500_000_000_000), ("-3.5", -3_500_000_000), ("100000", 100_000_000_000_000),
    ] as [(String, Int64)])
    func parsesUSD(text: String, nanos: Int64) {
        #expect(USD(text)?.nanos == nanos)
    }

    @Test(arguments: ["0755", "1_000", "+5", ".5", "5.", "1e", "0x10", "inf", "NaN", "", "-", "1.0000000001", "1e400", "12abc"])
    func rejectsUSD(text: String) {
        #expect(USD(text) == nil)
    }

    /// The decimal formatter (one stack buffer, 64-bit divisions when they suffice) writes what the
    /// plain one it replaced wrote, for every scale and magnitude, both signs, and 128-bit extremes.
    @Test func formatsDecimalsAsThePlainFormatterDid() {
        func plain(_ value: Int128, scale: Int) -> String {
            let negative = value < 0
            var magnitude = value.magnitude
            var digits: [UInt8] = []
            repeat {
                digits.append(UInt8(magnitude % 10) + 48)
                magnitude /= 10
            } while magnitude > 0
            while digits.count <= scale { digits.append(48) }
            digits.reverse()
            let integer = digits.prefix(digits.count - scale)
            var fraction = Array(digits.suffix(scale))
            while fraction.last == 48 { fraction.removeLast() }
            var out = negative ? "-" : ""
            out += String(decoding: integer, as: UTF8.self)
            if !fraction.isEmpty { out += "." + String(decoding: fraction, as: UTF8.self) }
            return out
        }
        var random = SeededRandom(seed: 21)
        var values: [Int128] = [0, 1, -1, 9, 10, 100, Int128(Int64.max), Int128(Int64.min), Int128(UInt64.max), Int128(UInt64.max) + 1,
                                -Int128(UInt64.max), -Int128(UInt64.max) - 1, Int128.max, Int128.min, 1_000_000_000, 12_300_000]
        for _ in 0..<4_000 {
            let digits = Int.random(in: 1...38, using: &random)
            var value: Int128 = 0
            for _ in 0..<digits { value = value * 10 + Int128(Int.random(in: 0...9, using: &random)) }
            // Trailing zeros are the interesting part of a fraction.
            for _ in 0..<Int.random(in: 0...3, using: &random) where value.magnitude < UInt128(Int128.max) / 10 { value *= 10 }
            values.append(Bool.random(using: &random) ? value : -value)
        }
        for value in values {
            for scale in [0, 1, 4, 6, 9, 18, 24, 38] {
                #expect(DecimalText.format(value, scale: scale) == plain(value, scale: scale), "\(value) at scale \(scale)")
            }
        }
    }

    @Test(arguments: [(Int64(0), "0"), (12_300_000, "0.0123"), (5_000_000_000, "5"), (-1, "-0.000000001"), (1_234_500_000_000, "1234.5")])
    func formatsUSD(nanos: Int64, text: String) {
        #expect(USD(nanos: nanos).description == text)
    }

    @Test func convertsLiteLLMFloatArtefactsExactly() throws {
        let price = try #require(TokenPrice(perToken: "2.9999900000000002e-06"))
        #expect(price.perMillionDescription == "2.9999900000000002")
        let small = try #require(TokenPrice(perToken: "5e-09"))
        #expect(small.perMillionDescription == "0.005")
        #expect(TokenPrice(perToken: "1e-25") == nil, "finer than 1e-24 USD must be refused, not rounded")
        #expect(TokenPrice(perToken: "-1e-06") == nil)
    }

    @Test func perMillionAndPerTokenAgree() {
        #expect(TokenPrice(perMillion: "3.00") == TokenPrice(perToken: "3e-06"))
        #expect(TokenPrice(perMillion: "0.075") == TokenPrice(perToken: "7.5e-08"))
    }

    /// Property: any decimal with up to 18 fractional digits round-trips through TokenPrice.
    @Test func roundTripsRandomPrices() {
        var generator = SeededRandom(seed: 42)
        for _ in 0..<2_000 {
            let integer = Int.random(in: 0...99_999, using: &generator)
            let fractionDigits = Int.random(in: 0...18, using: &generator)
            var fraction = ""
            for _ in 0..<fractionDigits { fraction.append(String(Int.random(in: 0...9, using: &generator))) }
            while fraction.hasSuffix("0") { fraction.removeLast() }
            let text = fraction.isEmpty ? String(integer) : "\(integer).\(fraction)"
            let price = TokenPrice(perMillion: text)
            #expect(price?.perMillionDescription == text, "\(text)")
        }
    }

    @Test func costRoundsHalfAwayFromZero() {
        #expect(CostArithmetic.nanos(fromYocto: 1_500_000_000_000_000) == 2)
        #expect(CostArithmetic.nanos(fromYocto: 1_499_999_999_999_999) == 1)
        #expect(CostArithmetic.nanos(fromYocto: -1_500_000_000_000_000) == -2)
    }
}
