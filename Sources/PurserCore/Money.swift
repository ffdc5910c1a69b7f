/// An exact amount of US dollars with nano-dollar (1e-9 USD) resolution.
///
/// Money never passes through binary floating point: amounts are parsed from
/// decimal text and printed back as decimal text. One amount holds about
/// ±9.2 billion USD (``max``); its arithmetic never wraps and never traps:
/// ``adding(_:)`` and ``subtracting(_:)`` return nil past the range, and sums
/// of many amounts are kept as a ``USDTotal``, which cannot overflow
/// (docs/policy-language.md, "Numbers and their ranges").
public struct USD: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Nano-dollars in one dollar.
    package static let scale: Int64 = 1_000_000_000

    /// The largest amount: 9,223,372,036.854775807 USD.
    public static let max = USD(nanos: Int64.max)

    /// The amount in nano-dollars.
    public var nanos: Int64

    /// Creates an amount from nano-dollars.
    public init(nanos: Int64) {
        self.nanos = nanos
    }

    /// Creates an amount of whole dollars, for amounts written in code.
    ///
    /// Past ``max`` this stops the program, as an out-of-range array index does;
    /// amounts that come from input go through ``init(_:)``, which returns nil.
    public init(dollars: Int64) {
        self.nanos = dollars * USD.scale
    }

    /// Creates an amount of dollars and cents (`USD(dollars: 12, cents: 50)` is $12.50), for amounts written in code.
    public init(dollars: Int64, cents: Int64) {
        self.nanos = dollars * USD.scale + cents * 10_000_000
    }

    /// Parses decimal text (`12`, `0.0123`, `1.5e-3`) exactly.
    ///
    /// Returns nil when the text is not a number, has more than nine
    /// decimal places after scaling, or is out of range.
    public init?(_ text: some StringProtocol) {
        guard let number = DecimalText(text), let nanos = number.scaled(by: 9, rounding: false),
              let value = Int64(exactly: nanos)
        else { return nil }
        self.nanos = value
    }

    /// Zero dollars.
    public static let zero = USD(nanos: 0)

    public static func < (lhs: USD, rhs: USD) -> Bool { lhs.nanos < rhs.nanos }

    /// The sum, or nil when it is out of range.
    public func adding(_ other: USD) -> USD? {
        let (sum, overflow) = nanos.addingReportingOverflow(other.nanos)
        return overflow ? nil : USD(nanos: sum)
    }

    /// The difference, or nil when it is out of range.
    public func subtracting(_ other: USD) -> USD? {
        let (difference, overflow) = nanos.subtractingReportingOverflow(other.nanos)
        return overflow ? nil : USD(nanos: difference)
    }

    /// The shortest exact decimal text: `12`, `0.0123`, `-3.5`.
    public var description: String {
        DecimalText.format(Int128(nanos), scale: 9)
    }
}

/// An exact sum of USD amounts, in nano-dollars, for reports' totals.
///
/// Its 128 bits hold the sum of 2^63 amounts of ``USD/max`` each, so adding
/// one ``USD`` per record can never overflow: a report totals $18 billion of
/// records as $18 billion, where a 64-bit sum would have wrapped.
public struct USDTotal: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The sum in nano-dollars.
    public private(set) var nanos: Int128

    /// Creates a total from nano-dollars.
    public init(nanos: Int128) {
        self.nanos = nanos
    }

    /// Creates a total holding one amount.
    public init(_ amount: USD) {
        self.nanos = Int128(amount.nanos)
    }

    /// Nothing yet.
    public static let zero = USDTotal(nanos: 0)

    /// Adds one amount (cannot overflow: see the type's summary).
    public static func += (lhs: inout USDTotal, rhs: USD) {
        lhs.nanos += Int128(rhs.nanos)
    }

    /// Adds another total; saturates at the 128-bit range, which no sum of amounts reaches.
    public static func += (lhs: inout USDTotal, rhs: USDTotal) {
        let (sum, overflow) = lhs.nanos.addingReportingOverflow(rhs.nanos)
        lhs.nanos = overflow ? (rhs.nanos < 0 ? Int128.min : Int128.max) : sum
    }

    public static func < (lhs: USDTotal, rhs: USDTotal) -> Bool { lhs.nanos < rhs.nanos }

    /// Whether a total equals one amount.
    public static func == (lhs: USDTotal, rhs: USD) -> Bool { lhs.nanos == Int128(rhs.nanos) }

    /// Whether a total equals an amount that may be missing (never, when it is).
    public static func == (lhs: USDTotal, rhs: USD?) -> Bool { rhs.map { lhs == $0 } ?? false }

    /// The total as one amount, or nil when it is past ``USD/max``.
    public var amount: USD? { Int64(exactly: nanos).map(USD.init(nanos:)) }

    /// The total as one amount, held at ±``USD/max`` past the range (for chart coordinates, never for figures).
    package var clamped: USD { USD(nanos: Int64(clamping: nanos)) }

    /// The shortest exact decimal text: `12`, `0.0123`, `18000000000`.
    public var description: String {
        DecimalText.format(nanos, scale: 9)
    }
}

/// A price per token in US dollars, exact to 1e-24 USD.
///
/// Policies write prices per million tokens (`input: 3.00`) and LiteLLM's
/// table per token (`3e-06`); both land here without rounding, including
/// LiteLLM's float artefacts such as `2.9999900000000002e-06`.
package struct TokenPrice: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Units of 1e-24 USD in one dollar.
    package static let scale = 24

    /// The price per token in units of 1e-24 USD.
    package let yoctoDollars: Int128

    /// Creates a price from units of 1e-24 USD per token.
    package init(yoctoDollars: Int128) {
        self.yoctoDollars = yoctoDollars
    }

    /// Parses a price written per million tokens (`3.00`); nil if negative or too precise.
    package init?(perMillion text: some StringProtocol) {
        guard let number = DecimalText(text), !number.negative,
              let value = number.scaled(by: TokenPrice.scale - 6, rounding: false)
        else { return nil }
        self.yoctoDollars = value
    }

    /// Parses a price written per token (`3e-06`); nil if negative or too precise.
    package init?(perToken text: some StringProtocol) {
        guard let number = DecimalText(text), !number.negative,
              let value = number.scaled(by: TokenPrice.scale, rounding: false)
        else { return nil }
        self.yoctoDollars = value
    }

    /// Free.
    package static let zero = TokenPrice(yoctoDollars: 0)

    /// The highest price a policy or price source may set: 10,000 USD per 1M tokens
    /// (0.01 USD a token; LiteLLM's table tops out just under it).
    ///
    /// With at most `RequestDecoder.maxTokens` tokens of each kind, no accepted request
    /// costs more than 4 billion USD, so a cost always fits a ``USD``.
    package static let max = TokenPrice(yoctoDollars: 10_000_000_000_000_000_000_000)

    package static func < (lhs: TokenPrice, rhs: TokenPrice) -> Bool { lhs.yoctoDollars < rhs.yoctoDollars }

    /// The price per million tokens as exact decimal text.
    package var perMillionDescription: String {
        DecimalText.format(yoctoDollars, scale: TokenPrice.scale - 6)
    }

    package var description: String { perMillionDescription + " USD/1M tokens" }
}

/// Exact cost arithmetic: token counts times per-token prices.
package enum CostArithmetic {
    /// Units of 1e-24 USD in one nano-dollar.
    @usableFromInline package static let yoctoPerNano: Int128 = 1_000_000_000_000_000

    /// Rounds an amount in 1e-24 USD to nano-dollars, half away from zero; nil past ``USD/max``.
    ///
    /// Divides before rounding, so no input, `Int128.min` and `.max` included, overflows.
    @usableFromInline package static func nanos(fromYocto yocto: Int128) -> Int64? {
        let (quotient, remainder) = yocto.quotientAndRemainder(dividingBy: yoctoPerNano)
        let half = yoctoPerNano / 2
        var rounded = quotient
        if remainder >= half { rounded += 1 } else if remainder <= -half { rounded -= 1 }
        return Int64(exactly: rounded)
    }

    /// The cost of token counts at per-token prices (1e-24 USD), rounded to the nano-dollar.
    ///
    /// Nil when the exact cost is past ``USD/max`` or a count is negative: every product
    /// and sum is checked, so even `Int64.max` tokens at the largest price cannot trap.
    @inlinable
    package static func cost(inputTokens: Int64, cachedInputTokens: Int64, cacheWriteTokens: Int64, outputTokens: Int64,
                             input: Int128, cachedInput: Int128, cacheWrite: Int128, output: Int128) -> USD? {
        guard inputTokens >= 0, cachedInputTokens >= 0, cacheWriteTokens >= 0, outputTokens >= 0 else {
            return nil
        }
        let (a, o1) = Int128(inputTokens).multipliedReportingOverflow(by: input)
        let (b, o2) = Int128(cachedInputTokens).multipliedReportingOverflow(by: cachedInput)
        let (c, o3) = Int128(cacheWriteTokens).multipliedReportingOverflow(by: cacheWrite)
        let (d, o4) = Int128(outputTokens).multipliedReportingOverflow(by: output)
        let (ab, o5) = a.addingReportingOverflow(b)
        let (cd, o6) = c.addingReportingOverflow(d)
        let (sum, o7) = ab.addingReportingOverflow(cd)
        guard !(o1 || o2 || o3 || o4 || o5 || o6 || o7) else { return nil }
        return nanos(fromYocto: sum).map(USD.init(nanos:))
    }
}

/// A decimal number kept as text digits and a power of ten; parsed without floating point.
package struct DecimalText: Sendable {
    package let negative: Bool
    /// The significant digits, without leading zeros (at most 40).
    package let digits: [UInt8]
    /// value = digits × 10^exponent
    package let exponent: Int

    /// Parses `-12.5`, `0.001`, `3e-06`, `1E5`. Rejects leading zeros (`0755`),
    /// `+`, underscores, hex, `.5`, `5.`, inf and nan.
    package init?(_ text: some StringProtocol) {
        var negative = false
        var digits: [UInt8] = []
        var exponent = 0
        var sawDigit = false
        var utf8 = Array(text.utf8)[...]
        if utf8.first == UInt8(ascii: "-") {
            negative = true
            utf8 = utf8.dropFirst()
        }
        // Integer part: "0" or a non-zero digit followed by digits.
        guard let first = utf8.first, (48...57).contains(first) else { return nil }
        if first == 48, utf8.count > 1, let next = utf8.dropFirst().first, (48...57).contains(next) {
            return nil
        }
        while let byte = utf8.first, (48...57).contains(byte) {
            if !(digits.isEmpty && byte == 48) { digits.append(byte - 48) }
            sawDigit = true
            utf8 = utf8.dropFirst()
        }
        if utf8.first == UInt8(ascii: ".") {
            utf8 = utf8.dropFirst()
            var fraction = 0
            while let byte = utf8.first, (48...57).contains(byte) {
                if !(digits.isEmpty && byte == 48) { digits.append(byte - 48) }
                fraction += 1
                utf8 = utf8.dropFirst()
            }
            guard fraction > 0 else { return nil }
            exponent -= fraction
        }
        if let e = utf8.first, e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            utf8 = utf8.dropFirst()
            var sign = 1
            if utf8.first == UInt8(ascii: "-") {
                sign = -1
                utf8 = utf8.dropFirst()
            } else if utf8.first == UInt8(ascii: "+") {
                utf8 = utf8.dropFirst()
            }
            var value = 0
            var count = 0
            while let byte = utf8.first, (48...57).contains(byte) {
                value = value * 10 + Int(byte - 48)
                count += 1
                guard value < 10_000 else { return nil }
                utf8 = utf8.dropFirst()
            }
            guard count > 0 else { return nil }
            exponent += sign * value
        }
        guard sawDigit, utf8.isEmpty, digits.count <= 40 else { return nil }
        // Drop trailing zeros into the exponent so precision checks are exact.
        while let last = digits.last, last == 0 {
            digits.removeLast()
            exponent += 1
        }
        self.negative = negative && !digits.isEmpty
        self.digits = digits
        self.exponent = digits.isEmpty ? 0 : exponent
    }

    /// The number × 10^scale as an integer; nil if it has a fraction left
    /// (unless `rounding`, which rounds half away from zero) or overflows.
    package func scaled(by scale: Int, rounding: Bool) -> Int128? {
        let shift = exponent + scale
        var kept = digits
        var roundUp = false
        if shift < 0 {
            // Trailing zeros are gone, so a dropped digit always loses precision.
            guard rounding else { return nil }
            let drop = -shift
            if drop > digits.count { return 0 }
            roundUp = digits[digits.count - drop] >= 5
            kept = Array(digits.prefix(digits.count - drop))
        }
        var value: Int128 = 0
        for digit in kept {
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (plus, o2) = times.addingReportingOverflow(Int128(digit))
            guard !o1, !o2 else { return nil }
            value = plus
        }
        if shift > 0 {
            for _ in 0..<shift {
                let (times, overflow) = value.multipliedReportingOverflow(by: 10)
                guard !overflow else { return nil }
                value = times
            }
        }
        if roundUp { value += 1 }
        return negative ? -value : value
    }

    /// Formats an integer count of 10^-scale units as the shortest exact decimal.
    ///
    /// Written into one stack buffer and made a string once; a magnitude that fits 64 bits (every
    /// ``USD``, and any total below $18 billion) is cut into digits with 64-bit divisions.
    package static func format(_ value: Int128, scale: Int) -> String {
        precondition(scale >= 0 && scale <= 38, "a scale of 0 to 38 digits")
        let negative = value < 0
        var magnitude = value.magnitude
        // 39 digits at most for 128 bits, zeros up to the scale, a sign and a point.
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 82) { buffer -> String in
            // Digits from the end of the buffer, least significant first.
            var start = buffer.count
            if magnitude <= UInt128(UInt64.max) {
                var small = UInt64(magnitude)
                repeat {
                    start -= 1
                    buffer[start] = UInt8(small % 10) + 48
                    small /= 10
                } while small > 0
            } else {
                repeat {
                    start -= 1
                    buffer[start] = UInt8(magnitude % 10) + 48
                    magnitude /= 10
                } while magnitude > 0
            }
            while buffer.count - start <= scale {
                start -= 1
                buffer[start] = 48
            }
            // Integer part: everything but the last `scale` digits; the fraction without trailing zeros.
            let point = buffer.count - scale
            var end = buffer.count
            while end > point, buffer[end - 1] == 48 { end -= 1 }
            if negative {
                start -= 1
                buffer[start] = UInt8(ascii: "-")
            }
            if end == point {
                return String(decoding: UnsafeBufferPointer(rebasing: buffer[start..<point]), as: UTF8.self)
            }
            // Move the integer part (and sign) one byte left to make room for the point.
            for index in (start - 1)..<(point - 1) { buffer[index] = buffer[index + 1] }
            buffer[point - 1] = UInt8(ascii: ".")
            return String(decoding: UnsafeBufferPointer(rebasing: buffer[(start - 1)..<end]), as: UTF8.self)
        }
    }
}
