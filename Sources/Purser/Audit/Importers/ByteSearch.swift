/// Byte searches eight bytes at a time, for the short spans between quotes
/// in CSV fields, where a library call per span costs more than the search.
enum ByteSearch {
    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let low7: UInt64 = 0x7F7F_7F7F_7F7F_7F7F

    /// The high bit of each byte of `word` that equals `target`'s pattern, exactly.
    @inline(__always)
    private static func matches(_ word: UInt64, _ pattern: UInt64) -> UInt64 {
        let x = word ^ pattern
        return ~(((x & low7) &+ low7) | x | low7)
    }

    /// The index of the first `target` byte in `start..<end`, or `end`.
    @inline(__always)
    static func first(_ target: UInt8, in base: UnsafePointer<UInt8>, from start: Int, to end: Int) -> Int {
        let pattern = UInt64(target) &* ones
        var index = start
        while index + 8 <= end {
            let word = UInt64(littleEndian: UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self))
            let found = matches(word, pattern)
            if found != 0 { return index + found.trailingZeroBitCount / 8 }
            index += 8
        }
        while index < end {
            if base[index] == target { return index }
            index += 1
        }
        return end
    }

    /// The index of the first comma, line feed or quote in `start..<end`, or `end`.
    @inline(__always)
    static func firstDelimiter(in base: UnsafePointer<UInt8>, from start: Int, to end: Int) -> Int {
        let comma = 0x2C * ones
        let newline = 0x0A * ones
        let quote = 0x22 * ones
        var index = start
        while index + 8 <= end {
            let word = UInt64(littleEndian: UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self))
            let found = matches(word, comma) | matches(word, newline) | matches(word, quote)
            if found != 0 { return index + found.trailingZeroBitCount / 8 }
            index += 8
        }
        while index < end {
            let byte = base[index]
            if byte == 0x2C || byte == 0x0A || byte == 0x22 { return index }
            index += 1
        }
        return end
    }

    /// How many `target` bytes `start..<end` holds.
    @inline(__always)
    static func count(_ target: UInt8, in base: UnsafePointer<UInt8>, from start: Int, to end: Int) -> Int {
        let pattern = UInt64(target) &* ones
        var index = start
        var total = 0
        while index + 8 <= end {
            let word = UInt64(littleEndian: UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self))
            total += matches(word, pattern).nonzeroBitCount
            index += 8
        }
        while index < end {
            if base[index] == target { total += 1 }
            index += 1
        }
        return total
    }
}
