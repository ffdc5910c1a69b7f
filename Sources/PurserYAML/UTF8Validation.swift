/// Checks that input is UTF-8 text YAML may hold before libyaml sees it, so
/// that encoding problems get a precise line and column and a plain message.
enum InputValidation {
    /// Returns the first encoding or control-character problem, if any.
    static func firstProblem(in bytes: UnsafeBufferPointer<UInt8>) -> YAMLError? {
        let count = bytes.count
        if count >= 2, (bytes[0] == 0xFE && bytes[1] == 0xFF) || (bytes[0] == 0xFF && bytes[1] == 0xFE) {
            return YAMLError(
                .invalidEncoding, "the file is UTF-16 (byte order mark); policies must be UTF-8",
                at: YAMLMark(line: 1, column: 1))
        }
        var index = 0
        while index < count {
            // Fast path: eight ASCII bytes at a time.
            if index &+ 8 <= count {
                let word = UnsafeRawPointer(bytes.baseAddress! + index).loadUnaligned(as: UInt64.self)
                if word & 0x8080_8080_8080_8080 == 0 && !hasControlByte(word) {
                    index &+= 8
                    continue
                }
            }
            let byte = bytes[index]
            if byte < 0x80 {
                if byte < 0x20 && byte != 0x09 && byte != 0x0A && byte != 0x0D || byte == 0x7F {
                    let what = byte == 0 ? "a NUL byte" : "the control character U+\(hex4(UInt32(byte)))"
                    return YAMLError(
                        .controlCharacter, "\(what) is not allowed in YAML",
                        at: mark(at: index, in: bytes))
                }
                index &+= 1
                continue
            }
            let (length, scalar) = decode(bytes, at: index)
            guard length > 0 else {
                return YAMLError(
                    .invalidEncoding,
                    "invalid UTF-8 byte 0x\(String(byte, radix: 16, uppercase: true)); policies must be UTF-8",
                    at: mark(at: index, in: bytes))
            }
            if (0x80...0x9F).contains(scalar) && scalar != 0x85 || scalar == 0xFFFE || scalar == 0xFFFF {
                return YAMLError(
                    .controlCharacter, "the control character U+\(hex4(scalar)) is not allowed in YAML",
                    at: mark(at: index, in: bytes))
            }
            index &+= length
        }
        return nil
    }

    /// Whether any byte of an all-ASCII word is a control character other than tab, LF or CR.
    @inline(__always)
    private static func hasControlByte(_ word: UInt64) -> Bool {
        // Bytes below 0x20: (b - 0x20) borrows into bit 7. Cheap test, then exact check.
        let low = (word &- 0x2020_2020_2020_2020) & ~word & 0x8080_8080_8080_8080
        let del = ((word ^ 0x7F7F_7F7F_7F7F_7F7F) &- 0x0101_0101_0101_0101) & ~(word ^ 0x7F7F_7F7F_7F7F_7F7F)
            & 0x8080_8080_8080_8080
        if low == 0 && del == 0 { return false }
        var w = word
        for _ in 0..<8 {
            let b = UInt8(truncatingIfNeeded: w)
            if b < 0x20 && b != 0x09 && b != 0x0A && b != 0x0D || b == 0x7F { return true }
            w >>= 8
        }
        return false
    }

    /// Decodes one multi-byte UTF-8 sequence; length 0 when it is invalid.
    private static func decode(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> (Int, UInt32) {
        let lead = bytes[index]
        let length: Int
        var scalar: UInt32
        switch lead {
        case 0xC2...0xDF: length = 2; scalar = UInt32(lead & 0x1F)
        case 0xE0...0xEF: length = 3; scalar = UInt32(lead & 0x0F)
        case 0xF0...0xF4: length = 4; scalar = UInt32(lead & 0x07)
        default: return (0, 0)
        }
        guard index + length <= bytes.count else { return (0, 0) }
        for offset in 1..<length {
            let next = bytes[index + offset]
            guard next & 0xC0 == 0x80 else { return (0, 0) }
            scalar = scalar << 6 | UInt32(next & 0x3F)
        }
        // Overlong forms, surrogates and values past U+10FFFF.
        switch length {
        case 3 where scalar < 0x800 || (0xD800...0xDFFF).contains(scalar): return (0, 0)
        case 4 where scalar < 0x10000 || scalar > 0x10FFFF: return (0, 0)
        default: return (length, scalar)
        }
    }

    private static func hex4(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// The line and column (in Unicode scalars) of a byte offset.
    static func mark(at offset: Int, in bytes: UnsafeBufferPointer<UInt8>) -> YAMLMark {
        YAMLMark(byteOffset: offset, in: bytes)
    }
}
