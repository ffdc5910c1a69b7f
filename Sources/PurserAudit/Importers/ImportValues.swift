import Purser
/// Why one log entry could not become a usage record: it is reported as
/// malformed with its line, and the import goes on.
package struct RecordProblem: Error {
    /// What is wrong, naming the field.
    package let message: String

    /// Creates a problem.
    package init(_ message: String) {
        self.message = message
    }
}

/// Values as other tools write them: times, money, counts and names, read
/// from raw bytes without floating point.
package enum ImportValues {
    /// The largest cost accepted for one record, in nano-dollars (one billion USD, as for requests).
    package static let maxCostNanos: Int64 = 1_000_000_000 * 1_000_000_000

    // MARK: Times

    /// Parses a time as logs and exports write it: RFC 3339 or ISO 8601 with
    /// `T` or a space, an optional fraction (nanoseconds kept), and a zone
    /// that is `Z`, `UTC`, `±HH`, `±HHMM` or `±HH:MM`, or none (a naive time
    /// is UTC); a date alone is midnight UTC; digits alone are Unix seconds
    /// (with an optional fraction). Nil when it is none of these.
    package static func timestamp(_ text: UnsafeBufferPointer<UInt8>) -> Timestamp? {
        let bytes = trimmed(text)
        guard !bytes.isEmpty else { return nil }
        if bytes.allSatisfy({ (48...57).contains($0) || $0 == 46 }) { return unixSeconds(bytes) }
        var index = bytes.startIndex
        func number(_ width: Int) -> Int? {
            guard index + width <= bytes.endIndex else { return nil }
            var value = 0
            for offset in 0..<width {
                let digit = Int(bytes[index + offset]) - 48
                guard (0...9).contains(digit) else { return nil }
                value = value * 10 + digit
            }
            index += width
            return value
        }
        func take(_ allowed: UInt8...) -> Bool {
            guard index < bytes.endIndex, allowed.contains(bytes[index]) else { return false }
            index += 1
            return true
        }
        guard let year = number(4), take(45), let month = number(2), take(45), let day = number(2),
              (1970...2261).contains(year), (1...12).contains(month), day >= 1,
              day <= CivilDate.daysInMonth(year: year, month: month)
        else { return nil }
        var seconds = Int64(CivilDate.daysFromCivil(year: year, month: month, day: day)) * 86_400
        var nanos: Int64 = 0
        if index == bytes.endIndex { return Timestamp(nanoseconds: seconds * 1_000_000_000) }
        guard take(84, 116, 32), let hour = number(2), hour < 24, take(58), let minute = number(2), minute < 60 else {
            return nil
        }
        var second = 0
        if take(58) {
            guard let value = number(2), value < 60 else { return nil }
            second = value
            if take(46, 44) {
                var digits = 0
                while index < bytes.endIndex, (48...57).contains(bytes[index]) {
                    if digits < 9 { nanos = nanos * 10 + Int64(bytes[index] - 48) }
                    digits += 1
                    index += 1
                }
                guard digits > 0 else { return nil }
                for _ in min(digits, 9)..<9 { nanos *= 10 }
            }
        }
        seconds += Int64(hour * 3600 + minute * 60 + second)
        // The zone.
        if index < bytes.endIndex, bytes[index] == 32 { index += 1 }
        if index < bytes.endIndex {
            if take(90, 122) {
                // Z
            } else if bytes.endIndex - index == 3, bytes[index] | 0x20 == 117, bytes[index + 1] | 0x20 == 116,
                      bytes[index + 2] | 0x20 == 99 {
                index = bytes.endIndex  // UTC
            } else {
                let sign: Int64 = bytes[index] == 45 ? -1 : 1
                guard take(43, 45), let offsetHours = number(2), offsetHours < 24 else { return nil }
                var offsetMinutes = 0
                if index < bytes.endIndex {
                    _ = take(58)
                    guard let value = number(2), value < 60 else { return nil }
                    offsetMinutes = value
                }
                seconds -= sign * Int64(offsetHours * 3600 + offsetMinutes * 60)
            }
        }
        guard index == bytes.endIndex else { return nil }
        return Timestamp(nanoseconds: seconds * 1_000_000_000 + nanos)
    }

    /// Parses Unix seconds (`1732269600`, `1732269600.5`) up to the year 2261.
    package static func unixSeconds(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) -> Timestamp? {
        var seconds: Int64 = 0
        var nanos: Int64 = 0
        var index = bytes.startIndex
        var digits = 0
        while index < bytes.endIndex, (48...57).contains(bytes[index]) {
            seconds = seconds * 10 + Int64(bytes[index] - 48)
            digits += 1
            guard seconds < 9_200_000_000 else { return nil }
            index += 1
        }
        guard digits > 0 else { return nil }
        if index < bytes.endIndex {
            guard bytes[index] == 46 else { return nil }
            index += 1
            var fraction = 0
            while index < bytes.endIndex, (48...57).contains(bytes[index]) {
                if fraction < 9 { nanos = nanos * 10 + Int64(bytes[index] - 48) }
                fraction += 1
                index += 1
            }
            guard fraction > 0, index == bytes.endIndex else { return nil }
            for _ in min(fraction, 9)..<9 { nanos *= 10 }
        }
        return Timestamp(nanoseconds: seconds * 1_000_000_000 + nanos)
    }

    // MARK: Money and counts

    /// Parses a decimal amount of USD (`0.0123`, `-3`, `1.2345678901e-05`)
    /// exactly, rounded half away from zero to the nano-dollar; nil when it
    /// is not a number or above one billion USD either way.
    package static func usd(_ text: UnsafeBufferPointer<UInt8>) -> USD? {
        let bytes = trimmed(text)
        guard !bytes.isEmpty else { return nil }
        // Fast path: plain decimals with up to 18 integer digits.
        var index = bytes.startIndex
        let negative = bytes[index] == 45
        if negative { index += 1 }
        var whole: Int64 = 0
        var wholeDigits = 0
        while index < bytes.endIndex, (48...57).contains(bytes[index]), wholeDigits < 18 {
            whole = whole * 10 + Int64(bytes[index] - 48)
            wholeDigits += 1
            index += 1
        }
        var fraction: Int64 = 0
        var fractionDigits = 0
        var roundUp = false
        var plain = wholeDigits > 0
        if plain, index < bytes.endIndex {
            if bytes[index] == 46 {
                index += 1
                while index < bytes.endIndex, (48...57).contains(bytes[index]) {
                    if fractionDigits < 9 {
                        fraction = fraction * 10 + Int64(bytes[index] - 48)
                    } else if fractionDigits == 9 {
                        roundUp = bytes[index] >= 53
                    }
                    fractionDigits += 1
                    index += 1
                }
                plain = fractionDigits > 0 && index == bytes.endIndex
            } else {
                plain = false
            }
        }
        if plain {
            for _ in min(fractionDigits, 9)..<9 { fraction *= 10 }
            guard whole <= 1_000_000_000 else { return nil }
            var nanos = whole * 1_000_000_000 + fraction + (roundUp ? 1 : 0)
            guard nanos <= maxCostNanos else { return nil }
            if negative { nanos = -nanos }
            return USD(nanos: nanos)
        }
        // Exponents and other forms: exact decimal arithmetic.
        let string = String(decoding: bytes, as: UTF8.self)
        guard let number = DecimalText(string), let scaled = number.scaled(by: 9, rounding: true),
              let nanos = Int64(exactly: scaled), nanos.magnitude <= maxCostNanos.magnitude
        else { return nil }
        return USD(nanos: nanos)
    }

    /// Parses a non-negative whole count (`1200`, also `1200.0` and `1.2e3`) up to one trillion; nil otherwise.
    package static func count(_ text: UnsafeBufferPointer<UInt8>) -> Int64? {
        let bytes = trimmed(text)
        guard !bytes.isEmpty else { return nil }
        var value: Int64 = 0
        var plain = bytes.count <= 18
        if plain {
            for byte in bytes {
                guard (48...57).contains(byte) else {
                    plain = false
                    break
                }
                value = value * 10 + Int64(byte - 48)
            }
        }
        if !plain {
            guard let number = DecimalText(String(decoding: bytes, as: UTF8.self)), !number.negative,
                  let scaled = number.scaled(by: 0, rounding: false), let exact = Int64(exactly: scaled)
            else { return nil }
            value = exact
        }
        return value <= RequestDecoder.maxTokens ? value : nil
    }

    /// A token count field: blank is nil, anything but a whole non-negative number is a problem.
    package static func tokens(_ text: UnsafeBufferPointer<UInt8>, _ field: @autoclosure () -> String) throws(RecordProblem) -> Int64? {
        if isBlank(text) { return nil }
        guard let value = count(text) else {
            throw RecordProblem("\(field()) must be a whole number of tokens up to \(RequestDecoder.maxTokens), found \(shown(text))")
        }
        return value
    }

    // MARK: Names

    /// A name (team, model, user, tag…): nil when blank or `null`; a problem when over the name limit or not UTF-8.
    package static func name(_ text: UnsafeBufferPointer<UInt8>, _ field: @autoclosure () -> String) throws(RecordProblem) -> String? {
        guard let bytes = try nameBytes(text, field()) else { return nil }
        return try utf8(bytes, field())
    }

    /// `name(_:_:)` through a cache of names by their bytes (a log repeats its names on every line).
    @inline(__always)
    package static func name(_ text: UnsafeBufferPointer<UInt8>, _ field: @autoclosure () -> String,
                     cache: inout NameCache) throws(RecordProblem) -> String? {
        guard let bytes = try nameBytes(text, field()) else { return nil }
        return try cache.string(bytes) { bytes throws(RecordProblem) in try utf8(bytes, field()) }
    }

    /// A name's bytes, trimmed: nil when blank or `null`; a problem when over the name limit.
    @inline(__always)
    private static func nameBytes(_ text: UnsafeBufferPointer<UInt8>,
                                  _ field: @autoclosure () -> String) throws(RecordProblem) -> UnsafeBufferPointer<UInt8>? {
        let bytes = trimmed(text)
        if bytes.isEmpty || isNullWord(bytes) { return nil }
        guard bytes.count <= RequestDecoder.maxNameBytes else {
            throw RecordProblem("\(field()) is \(bytes.count) bytes long; the limit is \(RequestDecoder.maxNameBytes)")
        }
        return UnsafeBufferPointer(rebasing: bytes)
    }

    /// Text from UTF-8 bytes (quickly for ASCII); a problem when it is not UTF-8.
    @inline(__always)
    package static func utf8(_ bytes: UnsafeBufferPointer<UInt8>, _ field: @autoclosure () -> String) throws(RecordProblem) -> String {
        var ascii = true
        for byte in bytes where byte >= 0x80 {
            ascii = false
            break
        }
        if ascii { return String(decoding: bytes, as: UTF8.self) }
        guard let value = String(validating: bytes, as: UTF8.self) else {
            throw RecordProblem("\(field()) is not valid UTF-8")
        }
        return value
    }

    /// Checks a name decoded elsewhere against the name limit; blank is nil.
    package static func name(_ value: String?, _ field: @autoclosure () -> String) throws(RecordProblem) -> String? {
        guard let value, !value.isEmpty else { return nil }
        guard value.utf8.count <= RequestDecoder.maxNameBytes else {
            throw RecordProblem("\(field()) is \(value.utf8.count) bytes long; the limit is \(RequestDecoder.maxNameBytes)")
        }
        return value
    }

    /// Whether the text is empty or only spaces.
    package static func isBlank(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
        trimmed(text).isEmpty
    }

    /// `null`, `None` or `NULL`: how exports write a missing value.
    package static func isNullWord(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) -> Bool {
        guard bytes.count == 4 else { return false }
        let start = bytes.startIndex
        let word = (UInt32(bytes[start]) | UInt32(bytes[start + 1]) << 8 | UInt32(bytes[start + 2]) << 16
            | UInt32(bytes[start + 3]) << 24) | 0x2020_2020
        return word == 0x6C6C_756E || word == 0x656E_6F6E  // "null", "none" (lowercased, little-endian)
    }

    /// The text without leading and trailing spaces and tabs.
    package static func trimmed(_ text: UnsafeBufferPointer<UInt8>) -> Slice<UnsafeBufferPointer<UInt8>> {
        var start = 0
        var end = text.count
        while start < end, text[start] == 32 || text[start] == 9 { start += 1 }
        while end > start, text[end - 1] == 32 || text[end - 1] == 9 { end -= 1 }
        return text[start..<end]
    }

    /// The start of a value for a message, quoted.
    package static func shown(_ text: UnsafeBufferPointer<UInt8>) -> String {
        let prefix = String(decoding: text.prefix(40), as: UTF8.self)
        return "\"" + prefix + (text.count > 40 ? "…" : "") + "\""
    }
}

extension FieldMapping {
    /// Applies the `--map` rules to a request built with an importer's
    /// defaults: each field named by a rule takes the value at its path; a
    /// path with no value in this record leaves the default in place.
    package func apply(to request: inout Request, _ value: (FieldPath) throws(RecordProblem) -> String?) throws(RecordProblem) {
        for (field, path) in rules {
            guard let found = try ImportValues.name(try value(path), "--map \(field)=\(path)") else { continue }
            switch field {
            case .team: request.team = found
            case .environment: request.environment = found
            case .user: request.user = found
            case .model: request.model = found
            case .region: request.region = found
            case .id: request.id = found
            case .tag(let key): request.tags[key] = found
            }
        }
    }
}

/// Request tags written as a list of strings, LiteLLM style: `key:value`
/// entries become `tags[key] = value`, plain entries `tags[entry] = "true"`.
package enum TagList {
    /// Adds one entry's raw bytes to `tags` (see ``add(_:to:)``).
    package static func add(_ entry: UnsafeBufferPointer<UInt8>, to tags: inout Tags) throws(RecordProblem) {
        guard tags.count < RequestDecoder.maxTags else { return }
        let key: String?
        var value = "true"
        if let colon = entry.firstIndex(of: 0x3A), colon > 0 {
            key = try ImportValues.name(UnsafeBufferPointer(rebasing: entry[..<colon]), "a tag name")
            value = try ImportValues.name(UnsafeBufferPointer(rebasing: entry[(colon + 1)...]), "a tag value") ?? "true"
        } else {
            key = try ImportValues.name(entry, "a tag name")
        }
        guard let key, tags[key] == nil else { return }
        tags[key] = value
    }

    /// Adds the entries to `tags` (at most ``RequestDecoder/maxTags`` in all; later entries do not replace earlier ones).
    package static func add(_ entries: [String], to tags: inout Tags) throws(RecordProblem) {
        for entry in entries {
            guard tags.count < RequestDecoder.maxTags else { return }
            let key: String
            let value: String
            if let colon = entry.firstIndex(of: ":"), colon != entry.startIndex {
                key = String(entry[..<colon]).trimmingSpaces
                value = String(entry[entry.index(after: colon)...]).trimmingSpaces
            } else {
                key = entry.trimmingSpaces
                value = "true"
            }
            guard let name = try ImportValues.name(key, "a tag name") else { continue }
            guard tags[name] == nil else { continue }
            tags[name] = try ImportValues.name(value, "tags.\(name)") ?? "true"
        }
    }
}
