/// An instant, in nanoseconds since 1970-01-01T00:00:00Z.
///
/// Parsed from RFC 3339 text without Foundation so that request decoding
/// stays allocation-free on the hot path.
public struct Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Nanoseconds since the Unix epoch.
    public let nanoseconds: Int64

    /// Creates an instant from nanoseconds since the Unix epoch.
    public init(nanoseconds: Int64) {
        self.nanoseconds = nanoseconds
    }

    /// Creates an instant from whole seconds since the Unix epoch, held within the
    /// representable years (1677 to 2262) rather than overflowing.
    public init(seconds: Int64) {
        self.nanoseconds = Int64(clamping: Int128(seconds) * 1_000_000_000)
    }

    /// Whole seconds since the epoch, rounded down.
    public var seconds: Int64 {
        nanoseconds >= 0 ? nanoseconds / 1_000_000_000 : (nanoseconds - 999_999_999) / 1_000_000_000
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    /// Parses RFC 3339 (`2026-11-22T10:00:00Z`, `…T10:00:00.123+01:00`).
    ///
    /// Accepts `t`/`z` in lower case and a space instead of `T`; rejects
    /// anything out of range (month 13, hour 24, Feb 30) and years outside
    /// 1970–2261.
    public init?(rfc3339 text: some StringProtocol) {
        guard let value = Array(text.utf8).withUnsafeBufferPointer(Timestamp.parse) else { return nil }
        self = value
    }

    /// Parses RFC 3339 from raw bytes.
    package static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> Timestamp? {
        var hours = HourPrefix()
        return parse(bytes, hours: &hours)
    }

    /// Parses RFC 3339 from raw bytes, taking the date and hour from `hours` when the text starts
    /// as the last text it parsed did (and keeping the new ones there otherwise): the records of
    /// a log mostly share them with the record before.
    package static func parse(_ bytes: UnsafeBufferPointer<UInt8>, hours: inout HourPrefix) -> Timestamp? {
        // `YYYY-MM-DDTHH:MM:SS` is nineteen bytes at fixed places, and a zone follows: read them
        // in place (every record of a log has a timestamp).
        guard bytes.count >= 20, let base = bytes.baseAddress else { return nil }
        let raw = UnsafeRawPointer(base)
        // `YYYY-MM-DDTHH`: thirteen bytes, as two words (the second masked to its first five).
        let prefix = (UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self)),
                      UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) & 0xFF_FFFF_FFFF)
        let hourStart: Int64
        if prefix == hours.prefix {
            hourStart = hours.start
        } else {
            guard let start = HourPrefix.start(base) else { return nil }
            hours = HourPrefix(prefix: prefix, start: start)
            hourStart = start
        }
        var invalid = false
        guard base[13] == 58, base[16] == 58 else { return nil }
        let (minute, second) = (decimal(base, 14, 2, invalid: &invalid), decimal(base, 17, 2, invalid: &invalid))
        guard !invalid else { return nil }
        var index = 19
        func number(_ width: Int) -> Int? {
            guard index + width <= bytes.count else { return nil }
            var value = 0
            for offset in 0..<width {
                let digit = Int(bytes[index + offset]) - 48
                guard (0...9).contains(digit) else { return nil }
                value = value * 10 + digit
            }
            index += width
            return value
        }
        // One byte that must be `allowed` (or `other`).
        func expect(_ allowed: UInt8, or other: UInt8? = nil) -> Bool {
            guard index < bytes.count else { return false }
            let byte = bytes[index]
            guard byte == allowed || byte == other else { return false }
            index += 1
            return true
        }
        var fraction: Int64 = 0
        if index < bytes.count, bytes[index] == 46 {  // "."
            index += 1
            var fractionDigits = 0
            while index < bytes.count, (48...57).contains(bytes[index]) {
                if fractionDigits < 9 { fraction = fraction * 10 + Int64(bytes[index] - 48) }
                fractionDigits += 1
                index += 1
            }
            guard fractionDigits > 0 else { return nil }
            var scale = fractionDigits
            while scale < 9 {
                fraction *= 10
                scale += 1
            }
        }
        var offsetSeconds = 0
        guard index < bytes.count else { return nil }
        if bytes[index] == 90 || bytes[index] == 122 {  // Z z
            index += 1
        } else {
            let sign = bytes[index] == 45 ? -1 : 1
            guard expect(43, or: 45), let oh = number(2), expect(58), let om = number(2), oh < 24, om < 60 else {
                return nil
            }
            offsetSeconds = sign * (oh * 3600 + om * 60)
        }
        guard index == bytes.count, minute < 60, second < 61 else { return nil }
        let seconds = hourStart + Int64(minute * 60 + min(second, 59)) - Int64(offsetSeconds)
        let (nanos, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return nil }
        return Timestamp(nanoseconds: nanos + fraction)
    }

    /// RFC 3339 in UTC with as many fractional digits as needed.
    public var description: String {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Timestamp.maxTextBytes) { buffer in
            guard let base = buffer.baseAddress else { return "" }
            return String(decoding: UnsafeBufferPointer(start: base, count: format(into: base)), as: UTF8.self)
        }
    }

    /// The longest text `format(into:)` writes.
    package static let maxTextBytes = 40

    /// Writes `description` as bytes (at most ``maxTextBytes``) and returns how many.
    @inline(__always)
    package func format(into out: UnsafeMutablePointer<UInt8>) -> Int {
        let seconds = self.seconds
        let nanos = nanoseconds - seconds * 1_000_000_000
        let days = Int(seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400)
        let secondOfDay = Int(seconds - Int64(days) * 86_400)
        let date = CivilDate(days: days)
        var count = 0
        func digits(_ value: Int, _ width: Int) {
            var value = value
            if value < 0 {
                out[count] = UInt8(ascii: "-")
                count &+= 1
                value = -value
            }
            var width = width
            var probe = value
            var needed = 1
            while probe >= 10 {
                probe /= 10
                needed &+= 1
            }
            width = max(width, needed)
            var position = count &+ width &- 1
            for _ in 0..<width {
                out[position] = UInt8(truncatingIfNeeded: value % 10) &+ 48
                value /= 10
                position &-= 1
            }
            count &+= width
        }
        func byte(_ value: UInt8) {
            out[count] = value
            count &+= 1
        }
        digits(date.year, 4)
        byte(UInt8(ascii: "-"))
        digits(date.month, 2)
        byte(UInt8(ascii: "-"))
        digits(date.day, 2)
        byte(UInt8(ascii: "T"))
        digits(secondOfDay / 3600, 2)
        byte(UInt8(ascii: ":"))
        digits(secondOfDay / 60 % 60, 2)
        byte(UInt8(ascii: ":"))
        digits(secondOfDay % 60, 2)
        if nanos > 0 {
            byte(UInt8(ascii: "."))
            var fraction = Int(nanos)
            var width = 9
            while fraction % 10 == 0 {
                fraction /= 10
                width -= 1
            }
            digits(fraction, width)
        }
        byte(UInt8(ascii: "Z"))
        return count
    }
}

/// The date and hour of the RFC 3339 text a parser read last (`2026-11-22T10`), and the
/// instant they stand for, so that the next timestamp of a log, mostly within the same hour,
/// does not read and check its date again. Holds nothing at first (no text starts with zeros).
package struct HourPrefix {
    /// The text's first thirteen bytes, as two little-endian words.
    package fileprivate(set) var prefix: (UInt64, UInt64) = (0, 0)
    /// Seconds since the epoch at the start of that hour, before any UTC offset.
    package fileprivate(set) var start: Int64 = 0

    package init() {}

    fileprivate init(prefix: (UInt64, UInt64), start: Int64) {
        (self.prefix, self.start) = (prefix, start)
    }

    /// The seconds of `YYYY-MM-DDTHH` (also `t` or a space for `T`) at `base`, checked: years
    /// 1970–2261, months 1–12, the month's days, hours 0–23; nil for anything else.
    fileprivate static func start(_ base: UnsafePointer<UInt8>) -> Int64? {
        var invalid = false
        func digits(_ at: Int, _ count: Int) -> Int { decimal(base, at, count, invalid: &invalid) }
        guard base[4] == 45, base[7] == 45, base[10] == 84 || base[10] == 116 || base[10] == 32 else { return nil }
        let (year, month, day, hour) = (digits(0, 4), digits(5, 2), digits(8, 2), digits(11, 2))
        guard !invalid, (1970...2261).contains(year), (1...12).contains(month), day >= 1,
              day <= CivilDate.daysInMonth(year: year, month: month), hour < 24
        else { return nil }
        return Int64(CivilDate.daysFromCivil(year: year, month: month, day: day)) * 86_400 + Int64(hour * 3600)
    }
}

/// The value of the `count` decimal digits at `base + at`; sets `invalid` when a byte is not a digit.
@inline(__always)
private func decimal(_ base: UnsafePointer<UInt8>, _ at: Int, _ count: Int, invalid: inout Bool) -> Int {
    var value = 0
    for offset in at..<(at + count) {
        let digit = base[offset] &- 48
        if digit > 9 { invalid = true }
        value = value &* 10 &+ Int(digit)
    }
    return value
}

@inline(__always)
package func pad(_ value: Int, width: Int = 2) -> String {
    let digits = String(value)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
}

/// A proleptic Gregorian calendar date, with Howard Hinnant's integer algorithms.
package struct CivilDate: Sendable, Hashable, Comparable, CustomStringConvertible {
    package let year: Int
    package let month: Int
    package let day: Int

    package init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// The date `days` after 1970-01-01.
    package init(days: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        self.init(year: yoe + era * 400 + (m <= 2 ? 1 : 0), month: m, day: d)
    }

    /// Days since 1970-01-01.
    package var days: Int { CivilDate.daysFromCivil(year: year, month: month, day: day) }

    package static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = month > 2 ? month - 3 : month + 9
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    package static func isLeap(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    package static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Parses `YYYY-MM-DD`.
    package init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
              parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              (1970...2261).contains(year), (1...12).contains(month),
              day >= 1, day <= CivilDate.daysInMonth(year: year, month: month)
        else { return nil }
        self.init(year: year, month: month, day: day)
    }

    package static func < (lhs: CivilDate, rhs: CivilDate) -> Bool { (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day) }

    package var description: String { text(hour: nil) }

    /// `YYYY-MM-DD`, or with an hour `YYYY-MM-DDTHH` (an hour window's label), made in one step.
    package func text(hour: Int?) -> String {
        guard (0...9999).contains(year), (0...99).contains(month), (0...99).contains(day), (0...99).contains(hour ?? 0) else {
            return pad(year, width: 4) + "-" + pad(month) + "-" + pad(day) + (hour.map { "T" + pad($0) } ?? "")
        }
        return String(unsafeUninitializedCapacity: 13) { buffer in
            func two(_ value: Int, at offset: Int) {
                buffer[offset] = UInt8(value / 10) + 48
                buffer[offset + 1] = UInt8(value % 10) + 48
            }
            two(year / 100, at: 0)
            two(year % 100, at: 2)
            buffer[4] = UInt8(ascii: "-")
            two(month, at: 5)
            buffer[7] = UInt8(ascii: "-")
            two(day, at: 8)
            guard let hour else { return 10 }
            buffer[10] = UInt8(ascii: "T")
            two(hour, at: 11)
            return 13
        }
    }
}

/// A length of time written as `10m`, `90s`, `1h30m`, `2d`.
package struct DurationText {
    /// The longest duration accepted: 30 days.
    package static let maxSeconds: Int64 = 30 * 86_400

    /// Parses a duration into seconds; nil if malformed, not positive or longer than ``maxSeconds``.
    package static func seconds(_ text: String) -> Int64? {
        var total: Int64 = 0
        var value: Int64 = 0
        var sawDigit = false
        var sawUnit = false
        for byte in text.utf8 {
            switch byte {
            case 48...57:
                value = value * 10 + Int64(byte - 48)
                guard value < 1_000_000_000 else { return nil }
                sawDigit = true
            case UInt8(ascii: "s"), UInt8(ascii: "m"), UInt8(ascii: "h"), UInt8(ascii: "d"):
                guard sawDigit else { return nil }
                let unit: Int64 = switch byte {
                case UInt8(ascii: "s"): 1
                case UInt8(ascii: "m"): 60
                case UInt8(ascii: "h"): 3600
                default: 86_400
                }
                total += value * unit  // at most 2.6e6 + 1e9 × 86,400: no overflow
                guard total <= maxSeconds else { return nil }
                value = 0
                sawDigit = false
                sawUnit = true
            default:
                return nil
            }
        }
        guard !sawDigit, sawUnit, total > 0 else { return nil }
        return total
    }
}
