// For memchr and memcmp, which the searches and comparisons below wrap (inlinable: callers in
// other modules compile them in place), so that hot scanners need no platform import of their own.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Byte searches eight bytes at a time, for the short spans between quotes
/// in CSV fields, where a library call per span costs more than the search;
/// and the C library's vectorised `memchr` and `memcmp` for long spans.
@usableFromInline package enum ByteSearch {
    /// The index of the first `target` byte in `start..<end`, or nil: the C library's `memchr`,
    /// vectorised, for long spans such as log lines (``first(_:in:from:to:)`` suits short ones).
    @inlinable @inline(__always)
    package static func find(_ target: UInt8, in base: UnsafePointer<UInt8>, from start: Int, to end: Int) -> Int? {
        guard start < end, let found = memchr(base + start, Int32(target), end - start) else { return nil }
        return UnsafeRawPointer(found) - UnsafeRawPointer(base)
    }

    /// Whether `count` bytes at `first` and `second` are the same (`memcmp`).
    @inlinable @inline(__always)
    package static func equal(_ first: UnsafeRawPointer, _ second: UnsafeRawPointer, count: Int) -> Bool {
        memcmp(first, second, count) == 0
    }

    @usableFromInline package static let ones: UInt64 = 0x0101_0101_0101_0101
    @usableFromInline package static let low7: UInt64 = 0x7F7F_7F7F_7F7F_7F7F

    /// The high bit of each byte of `word` that equals `target`'s pattern, exactly.
    @usableFromInline @inline(__always)
    package static func matches(_ word: UInt64, _ pattern: UInt64) -> UInt64 {
        let x = word ^ pattern
        return ~(((x & low7) &+ low7) | x | low7)
    }

    /// The index of the first `target` byte in `start..<end`, or `end`.
    @inline(__always)
    @inlinable package static func first(_ target: UInt8, in base: UnsafePointer<UInt8>, from start: Int, to end: Int) -> Int {
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
    @inlinable package static func firstDelimiter(in base: UnsafePointer<UInt8>, from start: Int, to end: Int) -> Int {
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
    @inlinable package static func count(_ target: UInt8, in base: UnsafePointer<UInt8>, from start: Int, to end: Int) -> Int {
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

/// A fast hash of a short byte span (names, keys), for tables that compare the bytes on a match.
@usableFromInline package enum ByteHash {
    /// Mixes eight bytes at a time, then avalanches, so any bits of the result may index a table. Never 0.
    @inline(__always)
    @inlinable package static func hash(_ base: UnsafePointer<UInt8>, count: Int) -> UInt64 {
        var hash = UInt64(count) &* 0x9E37_79B9_7F4A_7C15
        var position = 0
        while position &+ 8 <= count {
            hash = (hash ^ UnsafeRawPointer(base + position).loadUnaligned(as: UInt64.self)) &* 0xBF58_476D_1CE4_E5B9
            hash ^= hash >> 29
            position &+= 8
        }
        while position < count {
            hash = (hash ^ UInt64(base[position])) &* 0x94D0_49BB_1331_11EB
            position &+= 1
        }
        hash = (hash ^ (hash >> 33)) &* 0xFF51_AFD7_ED55_8CCD
        hash = (hash ^ (hash >> 33)) &* 0xC4CE_B9FE_1A85_EC53
        return (hash ^ (hash >> 33)) | 1
    }
}
