
/// Why JSON input was rejected, with the byte offset it was rejected at.
@usableFromInline package struct JSONError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong.
    @usableFromInline package let message: String
    /// The byte offset in the input.
    @usableFromInline package let offset: Int

    /// Creates an error at an offset.
    @usableFromInline package init(_ message: String, at offset: Int) {
        self.message = message
        self.offset = offset
    }

    @usableFromInline package var description: String { "\(message) (at byte \(offset + 1))" }
}

/// A pull scanner over JSON bytes: the caller walks the structure it expects
/// and skips the rest, so nothing is materialised that is not used.
///
/// It accepts exactly RFC 8259 JSON (no comments, no trailing commas, no
/// NaN), nests at most ``maxDepth`` deep, and never traps on hostile input.
@usableFromInline package struct JSONScanner {
    /// Deepest nesting `skipValue` follows.
    @usableFromInline package static let maxDepth = 64

    @usableFromInline package let bytes: UnsafeBufferPointer<UInt8>
    @usableFromInline package var index: Int

    @usableFromInline package init(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int = 0) {
        self.bytes = bytes
        self.index = start
    }

    /// Calls `body` with a scanner over `bytes`, read in place: the scanner points into the
    /// array's storage, which is its only for the call, so it must not outlive it.
    @inlinable
    package static func scan<R, E: Error>(_ bytes: [UInt8], _ body: (inout JSONScanner) throws(E) -> R) throws(E) -> R {
        try bytes.withUnsafeBufferPointer { buffer throws(E) -> R in
            var scanner = JSONScanner(buffer)
            return try body(&scanner)
        }
    }

    /// Calls `body` with a scanner over `bytes`, read in place (see ``scan(_:_:)-([UInt8],_)``).
    @inlinable
    package static func scan<R, E: Error>(_ bytes: ArraySlice<UInt8>, _ body: (inout JSONScanner) throws(E) -> R) throws(E) -> R {
        try bytes.withUnsafeBufferPointer { buffer throws(E) -> R in
            var scanner = JSONScanner(buffer)
            return try body(&scanner)
        }
    }

    @usableFromInline package var isAtEnd: Bool { index >= bytes.count }

    @inline(__always)
    @inlinable package mutating func skipWhitespace() {
        while index < bytes.count {
            let byte = bytes[index]
            guard byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 else { return }
            index &+= 1
        }
    }

    /// The next non-space byte, without consuming it.
    @inline(__always)
    @inlinable package mutating func peek() -> UInt8? {
        skipWhitespace()
        return index < bytes.count ? bytes[index] : nil
    }

    @usableFromInline package func error(_ message: String) -> JSONError {
        JSONError(message, at: min(index, bytes.count))
    }

    /// A description of the next token for messages: `"abc"`, `123`, `{`, end of input.
    @usableFromInline package mutating func tokenDescription() -> String {
        guard let byte = peek() else { return "the end of the input" }
        switch byte {
        case UInt8(ascii: "{"): return "an object"
        case UInt8(ascii: "["): return "an array"
        case UInt8(ascii: "\""): return "a string"
        case UInt8(ascii: "t"): return hasLiteral("true") ? "a boolean" : "invalid JSON"
        case UInt8(ascii: "f"): return hasLiteral("false") ? "a boolean" : "invalid JSON"
        case UInt8(ascii: "n"): return hasLiteral("null") ? "null" : "invalid JSON"
        case UInt8(ascii: "-"), 48...57: return "a number"
        default: return "'\(Character(Unicode.Scalar(byte)))'"
        }
    }

    /// Whether the literal starts at the current position.
    @usableFromInline package func hasLiteral(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { return false }
        return true
    }

    @inline(__always)
    @inlinable package mutating func expect(_ byte: UInt8, _ what: String) throws(JSONError) {
        guard peek() == byte else { throw error("expected \(what), found \(tokenDescription())") }
        index &+= 1
    }

    // MARK: Objects and arrays

    /// Consumes `{`.
    @usableFromInline package mutating func beginObject() throws(JSONError) {
        try expect(UInt8(ascii: "{"), "an object")
    }

    /// The next key of an object as a raw byte range (no escapes decoded), or
    /// nil at `}`. `first` tells whether this is the first key of the object.
    @inlinable package mutating func nextKey(first: inout Bool) throws(JSONError) -> Range<Int>? {
        guard let byte = peek() else { throw error("unterminated object") }
        if byte == UInt8(ascii: "}") {
            index &+= 1
            return nil
        }
        if !first {
            guard byte == UInt8(ascii: ",") else { throw error("expected ',' or '}' in an object, found \(tokenDescription())") }
            index &+= 1
            guard peek() == UInt8(ascii: "\"") else { throw error("expected a key after ',', found \(tokenDescription())") }
        }
        first = false
        guard peek() == UInt8(ascii: "\"") else { throw error("expected a key, found \(tokenDescription())") }
        let range = try rawString()
        try expect(UInt8(ascii: ":"), "':' after a key")
        return range
    }

    /// Consumes `literal` if the input continues with exactly its bytes (no whitespace skipped).
    @inline(__always)
    @inlinable package mutating func take(_ literal: borrowing JSONLiteral) -> Bool {
        guard let base = bytes.baseAddress else { return false }
        let start = base + index
        if index &+ 24 <= bytes.count {
            // Three words, masked to the literal's length: no call, no loop.
            let raw = UnsafeRawPointer(start)
            let first = raw.loadUnaligned(as: UInt64.self).littleEndian ^ literal.words.0
            let second = raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self).littleEndian ^ literal.words.1
            let third = raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self).littleEndian ^ literal.words.2
            guard (first & literal.masks.0) | (second & literal.masks.1) | (third & literal.masks.2) == 0 else { return false }
        } else {
            // Near the end of the input: byte by byte.
            guard index &+ literal.count <= bytes.count else { return false }
            for offset in 0..<literal.count where start[offset] != literal.byte(offset) { return false }
        }
        index &+= literal.count
        return true
    }

    /// Consumes `[`.
    @usableFromInline package mutating func beginArray() throws(JSONError) {
        try expect(UInt8(ascii: "["), "an array")
    }

    /// Whether another element follows (consuming the `,`), or false at `]`.
    @usableFromInline package mutating func nextElement(first: inout Bool) throws(JSONError) -> Bool {
        guard let byte = peek() else { throw error("unterminated array") }
        if byte == UInt8(ascii: "]") {
            index &+= 1
            return false
        }
        if !first {
            guard byte == UInt8(ascii: ",") else { throw error("expected ',' or ']' in an array, found \(tokenDescription())") }
            index &+= 1
            guard let next = peek(), next != UInt8(ascii: "]") else { throw error("trailing ',' in an array") }
        }
        first = false
        return true
    }

    // MARK: Scalars

    /// Consumes a string and returns the byte range between its quotes
    /// (escapes left encoded). Rejects raw control characters.
    @inlinable package mutating func rawString() throws(JSONError) -> Range<Int> {
        guard peek() == UInt8(ascii: "\"") else { throw error("expected a string, found \(tokenDescription())") }
        index &+= 1
        let start = index
        while true {
            // Eight bytes at a time: skip plain words, else jump to the first special byte
            // (the lowest flagged byte of the mask is always a real quote, backslash or control byte).
            if index &+ 8 <= bytes.count {
                let word = UnsafeRawPointer(bytes.baseAddress.unsafelyUnwrapped + index).loadUnaligned(as: UInt64.self)
                let mask = JSONScanner.specialBytes(word.littleEndian)
                if mask == 0 {
                    index &+= 8
                    continue
                }
                index &+= mask.trailingZeroBitCount &>> 3
            }
            guard index < bytes.count else { break }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let range = start..<index
                index &+= 1
                return range
            }
            if byte == UInt8(ascii: "\\") {
                index &+= 2
                continue
            }
            if byte < 0x20 { throw error("a control character must be escaped inside a string") }
            index &+= 1
        }
        index = bytes.count
        throw error("unterminated string")
    }

    /// The high bit of each byte of a little-endian word that may be a quote, a backslash or below 0x20.
    ///
    /// The lowest set bit is exact; bits above it may be false positives (a borrow carries upward),
    /// so callers use only the lowest one.
    @inline(__always)
    @inlinable package static func specialBytes(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        func zeroByte(_ x: UInt64) -> UInt64 { (x &- ones) & ~x & highs }
        let quote = zeroByte(word ^ (ones &* 0x22))
        let backslash = zeroByte(word ^ (ones &* 0x5C))
        let control = (word &- (ones &* 0x20)) & ~word & highs
        return quote | backslash | control
    }

    /// Whether a raw string range holds escapes.
    @inline(__always)
    @inlinable package func hasEscapes(_ range: Range<Int>) -> Bool {
        guard let base = bytes.baseAddress, !range.isEmpty else { return false }
        return ByteSearch.first(UInt8(ascii: "\\"), in: base, from: range.lowerBound, to: range.upperBound) < range.upperBound
    }

    /// Compares a raw (unescaped) range to ASCII text.
    @inline(__always)
    @inlinable package func equals(_ range: Range<Int>, _ text: StaticString) -> Bool {
        guard range.count == text.utf8CodeUnitCount, let base = bytes.baseAddress else { return false }
        return ByteSearch.equal(base + range.lowerBound, text.utf8Start, count: range.count)
    }

    /// Decodes a string's contents, resolving escapes and validating UTF-8.
    @usableFromInline package func decodeString(_ range: Range<Int>) throws(JSONError) -> String {
        let slice = UnsafeBufferPointer(rebasing: bytes[range])
        if !hasEscapes(range) {
            // Our own check, then a plain decode: `String(validating:)` instantiates generic metadata on every call.
            guard UTF8Check.isValid(slice) else { throw JSONError("a string is not valid UTF-8", at: range.lowerBound) }
            return String(decoding: slice, as: UTF8.self)
        }
        var out: [UInt8] = []
        out.reserveCapacity(range.count)
        var position = range.lowerBound
        while position < range.upperBound {
            let byte = bytes[position]
            guard byte == UInt8(ascii: "\\") else {
                out.append(byte)
                position += 1
                continue
            }
            guard position + 1 < range.upperBound else { throw JSONError("a string ends inside an escape", at: position) }
            let escape = bytes[position + 1]
            position += 2
            switch escape {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4(at: position, end: range.upperBound)
                position += 4
                if (0xD800...0xDBFF).contains(scalar) {
                    guard position + 6 <= range.upperBound, bytes[position] == UInt8(ascii: "\\"),
                          bytes[position + 1] == UInt8(ascii: "u")
                    else { throw JSONError("an unpaired surrogate in a \\u escape", at: position) }
                    let low = try hex4(at: position + 2, end: range.upperBound)
                    guard (0xDC00...0xDFFF).contains(low) else {
                        throw JSONError("an unpaired surrogate in a \\u escape", at: position)
                    }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    position += 6
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw JSONError("an unpaired surrogate in a \\u escape", at: position)
                }
                guard let unicode = Unicode.Scalar(scalar) else {
                    throw JSONError("an invalid \\u escape", at: position)
                }
                out.append(contentsOf: Array(String(Character(unicode)).utf8))
            default:
                throw JSONError("an invalid escape \\\(Character(Unicode.Scalar(escape)))", at: position - 1)
            }
        }
        let valid = out.withUnsafeBufferPointer { UTF8Check.isValid($0) }
        guard valid else { throw JSONError("a string is not valid UTF-8", at: range.lowerBound) }
        return String(decoding: out, as: UTF8.self)
    }

    @usableFromInline package func hex4(at position: Int, end: Int) throws(JSONError) -> UInt32 {
        guard position + 4 <= end else { throw JSONError("a \\u escape needs four hex digits", at: position) }
        var value: UInt32 = 0
        for offset in 0..<4 {
            let byte = bytes[position + offset]
            let digit: UInt32
            switch byte {
            case 48...57: digit = UInt32(byte - 48)
            case 65...70: digit = UInt32(byte - 55)
            case 97...102: digit = UInt32(byte - 87)
            default: throw JSONError("a \\u escape needs four hex digits", at: position)
            }
            value = value << 4 | digit
        }
        return value
    }

    /// Consumes and decodes a string.
    @usableFromInline package mutating func string() throws(JSONError) -> String {
        try decodeString(try rawString())
    }

    /// Consumes a number and returns its text range, validated against the JSON grammar.
    @usableFromInline package mutating func numberRange() throws(JSONError) -> Range<Int> {
        skipWhitespace()
        let start = index
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index &+= 1 }
        guard index < bytes.count, (48...57).contains(bytes[index]) else {
            index = start
            throw error("expected a number, found \(tokenDescription())")
        }
        if bytes[index] == 48 {
            index &+= 1
            if index < bytes.count, (48...57).contains(bytes[index]) { throw error("a number has a leading zero") }
        } else {
            while index < bytes.count, (48...57).contains(bytes[index]) { index &+= 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index &+= 1
            let digits = index
            while index < bytes.count, (48...57).contains(bytes[index]) { index &+= 1 }
            guard index > digits else { throw error("a number has no digits after '.'") }
        }
        if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "e") {
            index &+= 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index &+= 1 }
            let digits = index
            while index < bytes.count, (48...57).contains(bytes[index]) { index &+= 1 }
            guard index > digits else { throw error("a number has no digits in its exponent") }
        }
        return start..<index
    }

    /// Consumes a number and returns its text.
    @usableFromInline package mutating func numberText() throws(JSONError) -> String {
        let range = try numberRange()
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    /// Consumes `byte` if it is next (no whitespace skipped).
    @inline(__always)
    @inlinable package mutating func take(byte: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == byte else { return false }
        index &+= 1
        return true
    }

    /// Consumes a count written as plain digits (`0`, `12`; no whitespace, sign, fraction or
    /// exponent) at most `limit`, followed by `,` or `}`; otherwise consumes nothing and returns
    /// nil (callers then take the general path, which reports what is wrong).
    @inline(__always)
    @inlinable package mutating func plainCount(upTo limit: Int64) -> Int64? {
        var position = index
        let count = bytes.count
        var value: Int64 = 0
        // At most 18 digits: no overflow.
        while position < count, position &- index < 18, bytes[position] &- 48 < 10 {
            value = value &* 10 &+ Int64(bytes[position] &- 48)
            position &+= 1
        }
        let digits = position &- index
        guard digits > 0, position < count, bytes[position] == UInt8(ascii: ",") || bytes[position] == UInt8(ascii: "}"),
              digits == 1 || bytes[index] != 48, value <= limit
        else { return nil }
        index = position
        return value
    }

    /// Consumes a plain non-negative decimal (`12`, `0.0123`) as an exact count of
    /// 10^-9 units, when it has at most nine fractional digits, no exponent and
    /// fits; otherwise consumes nothing and returns nil (callers then take the general path).
    @inline(__always)
    @inlinable package mutating func plainNanos() -> Int64? {
        skipWhitespace()
        var position = index
        let count = bytes.count
        guard position < count, bytes[position] &- 48 < 10 else { return nil }
        if bytes[position] == 48, position &+ 1 < count, bytes[position &+ 1] &- 48 < 10 { return nil }  // leading zero: invalid JSON
        var whole: Int64 = 0
        var digits = 0
        while position < count, bytes[position] &- 48 < 10 {
            whole = whole &* 10 &+ Int64(bytes[position] &- 48)
            digits &+= 1
            position &+= 1
        }
        guard digits <= 9 else { return nil }  // up to a billion: leaves room for the nine fractional digits
        var fraction: Int64 = 0
        var scale: Int64 = 1_000_000_000
        if position < count, bytes[position] == UInt8(ascii: ".") {
            position &+= 1
            var fractionDigits = 0
            while position < count, bytes[position] &- 48 < 10 {
                guard fractionDigits < 9 else { return nil }
                scale /= 10
                fraction = fraction &* 10 &+ Int64(bytes[position] &- 48)
                fractionDigits &+= 1
                position &+= 1
            }
            guard fractionDigits > 0 else { return nil }
        }
        if position < count, bytes[position] | 0x20 == UInt8(ascii: "e") { return nil }
        index = position
        return whole &* 1_000_000_000 &+ fraction &* scale
    }

    /// Consumes a non-negative integer that fits in Int64 (`12`, also `12.0` and `1e3`).
    @usableFromInline package mutating func integer() throws(JSONError) -> Int64 {
        skipWhitespace()
        // Fast path: up to 18 plain digits, not followed by a fraction or an exponent.
        var position = index
        var quick: Int64 = 0
        while position < bytes.count, position &- index < 18, bytes[position] &- 48 < 10 {
            quick = quick &* 10 &+ Int64(bytes[position] &- 48)
            position &+= 1
        }
        if position > index {
            let next = position < bytes.count ? bytes[position] : 0x20
            let leadingZero = bytes[index] == 48 && position &- index > 1
            if next != UInt8(ascii: "."), next | 0x20 != UInt8(ascii: "e"), next &- 48 >= 10, !leadingZero {
                index = position
                return quick
            }
        }
        let start = index
        let range = try numberRange()
        // Fast path: plain digits.
        var value: Int64 = 0
        var plain = true
        for position in range {
            let byte = bytes[position]
            guard (48...57).contains(byte) else {
                plain = false
                break
            }
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(Int64(byte &- 48))
            guard !o1, !o2 else { throw JSONError("an integer is too large", at: start) }
            value = sum
        }
        if plain { return value }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
        guard let number = DecimalText(text), !number.negative else {
            throw JSONError("expected a non-negative integer, found \(text)", at: range.lowerBound)
        }
        guard let exact = number.scaled(by: 0, rounding: false), let result = Int64(exactly: exact) else {
            throw JSONError("expected a whole number that fits in 64 bits, found \(text)", at: range.lowerBound)
        }
        return result
    }

    /// Consumes `true` or `false`.
    @usableFromInline package mutating func bool() throws(JSONError) -> Bool {
        if try literal("true") { return true }
        if try literal("false") { return false }
        throw error("expected true or false, found \(tokenDescription())")
    }

    /// Consumes `null` if it is next.
    @inlinable package mutating func null() throws(JSONError) -> Bool {
        try literal("null")
    }

    @usableFromInline package mutating func literal(_ word: StaticString) throws(JSONError) -> Bool {
        skipWhitespace()
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        let pointer = word.utf8Start
        for offset in 0..<count where bytes[index + offset] != pointer[offset] { return false }
        index &+= count
        return true
    }

    /// Consumes any value, validating it, without building anything.
    @usableFromInline package mutating func skipValue() throws(JSONError) {
        try skipValue(depth: 0)
    }

    @usableFromInline package mutating func skipValue(depth: Int) throws(JSONError) {
        guard depth < JSONScanner.maxDepth else { throw error("nesting is deeper than \(JSONScanner.maxDepth) levels") }
        guard let byte = peek() else { throw error("expected a value, found the end of the input") }
        switch byte {
        case UInt8(ascii: "{"):
            index &+= 1
            var first = true
            while try nextKey(first: &first) != nil { try skipValue(depth: depth + 1) }
        case UInt8(ascii: "["):
            index &+= 1
            var first = true
            while try nextElement(first: &first) { try skipValue(depth: depth + 1) }
        case UInt8(ascii: "\""):
            _ = try rawString()
        case UInt8(ascii: "t"), UInt8(ascii: "f"):
            _ = try bool()
        case UInt8(ascii: "n"):
            guard try null() else { throw error("expected a value, found \(tokenDescription())") }
        default:
            _ = try numberRange()
        }
    }

    /// Requires that only whitespace remains.
    @usableFromInline package mutating func expectEnd() throws(JSONError) {
        guard peek() == nil else { throw error("unexpected \(tokenDescription()) after the value") }
    }
}

/// UTF-8 validation with an ASCII fast path.
@usableFromInline package enum UTF8Check {
    @usableFromInline package static func isValid(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var index = 0
        let count = bytes.count
        while index < count {
            let lead = bytes[index]
            if lead < 0x80 {
                index &+= 1
                continue
            }
            let length: Int
            var scalar: UInt32
            switch lead {
            case 0xC2...0xDF: length = 2; scalar = UInt32(lead & 0x1F)
            case 0xE0...0xEF: length = 3; scalar = UInt32(lead & 0x0F)
            case 0xF0...0xF4: length = 4; scalar = UInt32(lead & 0x07)
            default: return false
            }
            guard index &+ length <= count else { return false }
            for offset in 1..<length {
                let next = bytes[index &+ offset]
                guard next & 0xC0 == 0x80 else { return false }
                scalar = scalar << 6 | UInt32(next & 0x3F)
            }
            if length == 3 && (scalar < 0x800 || (0xD800...0xDFFF).contains(scalar)) { return false }
            if length == 4 && (scalar < 0x10000 || scalar > 0x10FFFF) { return false }
            index &+= length
        }
        return true
    }
}

/// Bytes a scanner may find next (e.g. `,"model":` in compact JSON), kept as masked
/// words so that ``JSONScanner/take(_:)`` compares them without a call or a loop.
@usableFromInline package struct JSONLiteral: Sendable {
    @usableFromInline package let count: Int
    /// The bytes as little-endian words, zero past the end; `masks` keep only the literal's bytes.
    @usableFromInline package let words: (UInt64, UInt64, UInt64)
    @usableFromInline package let masks: (UInt64, UInt64, UInt64)

    /// A literal of at most 24 bytes.
    @usableFromInline package init(_ text: String) {
        let bytes = Array(text.utf8)
        count = bytes.count
        precondition(count <= 24, "a JSON literal is at most 24 bytes")
        var words: [UInt64] = [0, 0, 0]
        var masks: [UInt64] = [0, 0, 0]
        for (offset, byte) in bytes.enumerated() {
            words[offset / 8] |= UInt64(byte) << UInt64(8 * (offset % 8))
            masks[offset / 8] |= 0xFF << UInt64(8 * (offset % 8))
        }
        self.words = (words[0], words[1], words[2])
        self.masks = (masks[0], masks[1], masks[2])
    }

    /// The byte at `offset` (below `count`).
    @inlinable package func byte(_ offset: Int) -> UInt8 {
        let word = offset < 8 ? words.0 : offset < 16 ? words.1 : words.2
        return UInt8(truncatingIfNeeded: word >> UInt64(8 * (offset % 8)))
    }
}
