import PurserCore
import PurserPolicy
import PurserYAML

/// Why a request could not be read, and where.
public struct RequestError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong, naming the field.
    public let message: String
    /// The byte offset in the input where it was found.
    public let offset: Int

    /// Creates an error.
    package init(_ message: String, at offset: Int) {
        self.message = message
        self.offset = offset
    }

    public var description: String { message }
}

/// Reads requests and usage records (docs/wire-formats.md, "Requests") from JSON, strictly: unknown
/// fields, wrong types, negative or huge counts, bad timestamps and oversized
/// strings are errors that name the field, never a crash.
public enum RequestDecoder {
    /// The longest name (team, model, user, tag…) accepted, in bytes.
    @inlinable package static var maxNameBytes: Int { 1024 }
    /// The most tags a request may carry.
    @inlinable package static var maxTags: Int { 64 }
    /// The largest token count accepted for each kind of token (100 billion).
    ///
    /// With prices at most ``TokenPrice/max``, the cost of any accepted usage is at most
    /// 4 × 10^11 tokens × 0.01 USD = 4 billion USD, inside ``USD/max`` (docs/policy-language.md,
    /// "Numbers and their ranges").
    @inlinable package static var maxTokens: Int64 { 100_000_000_000 }

    /// The fields of a request, for "did you mean" on unknown ones.
    package static let fields = ["id", "timestamp", "team", "environment", "model", "region", "user", "tags", "usage", "cost",
                         "unavailable_regions", "allow_reroute"]

    /// Decodes one JSON request object.
    public static func decode(_ bytes: [UInt8]) throws(RequestError) -> Request {
        let result: Result<Request, RequestError> = bytes.withUnsafeBufferPointer { buffer in
            do throws(RequestError) {
                var scanner = JSONScanner(buffer)
                var parser = RequestParser(caching: false)
                let request = try parser.decode(&scanner)
                do throws(JSONError) {
                    try scanner.expectEnd()
                } catch {
                    throw RequestError(error.message, at: error.offset)
                }
                return .success(request)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Decodes one JSON request object from a string.
    public static func decode(_ text: String) throws(RequestError) -> Request {
        try decode(Array(text.utf8))
    }

    /// Decodes the object at the scanner's position.
    package static func decode(_ scanner: inout JSONScanner) throws(RequestError) -> Request {
        var parser = RequestParser()
        return try parser.decode(&scanner)
    }
}

/// A request decoder for a stream: it remembers the names it has seen, so a
/// team, model or user repeated across millions of lines is one `String`,
/// decoded and validated once.
package struct RequestParser {
    private var names: NameCache
    /// The date and hour of the last timestamp read (see ``HourPrefix``).
    package var hours = HourPrefix()

    /// Decodes the object at the scanner's position.
    package mutating func decode(_ scanner: inout JSONScanner) throws(RequestError) -> Request {
        do throws(JSONError) {
            return try decodeObject(&scanner)
        } catch {
            throw RequestError(error.message, at: error.offset)
        }
    }

    private mutating func decodeObject(_ scanner: inout JSONScanner) throws(JSONError) -> Request {
        // Fields are gathered in locals and the request built once at the end: assigning
        // into a Request field by field made the optimiser copy it.
        var id: String?
        var timestamp: Timestamp?
        var team: String?
        var environment: String?
        var model = ""
        var region: String?
        var user: String?
        var tags = Tags()
        var usage = Usage()
        var cost: USD?
        var unavailableRegions: [String] = []
        var allowReroute = true
        var sawModel = false
        // Each field once: a repeated key is an error, as in YAML (docs/policy-language.md), not "the last wins".
        var seen: UInt16 = 0
        let start = scanner.index
        try scanner.beginObject()
        var first = true
        while let key = try scanner.nextKey(first: &first) {
            if scanner.equals(key, "model") {
                try Self.once(&seen, 1 << 0, key, in: scanner, object: start)
                model = try name(&scanner, "model")
                sawModel = true
            } else if scanner.equals(key, "team") {
                try Self.once(&seen, 1 << 1, key, in: scanner, object: start)
                team = try optionalName(&scanner, "team")
            } else if scanner.equals(key, "environment") {
                try Self.once(&seen, 1 << 2, key, in: scanner, object: start)
                environment = try optionalName(&scanner, "environment")
            } else if scanner.equals(key, "region") {
                try Self.once(&seen, 1 << 3, key, in: scanner, object: start)
                region = try optionalName(&scanner, "region")
            } else if scanner.equals(key, "user") {
                try Self.once(&seen, 1 << 4, key, in: scanner, object: start)
                user = try optionalName(&scanner, "user")
            } else if scanner.equals(key, "id") {
                try Self.once(&seen, 1 << 5, key, in: scanner, object: start)
                id = try Self.id(&scanner)
            } else if scanner.equals(key, "timestamp") {
                try Self.once(&seen, 1 << 6, key, in: scanner, object: start)
                timestamp = try Self.timestamp(&scanner, hours: &hours)
            } else if scanner.equals(key, "usage") {
                try Self.once(&seen, 1 << 7, key, in: scanner, object: start)
                usage = try Self.usage(&scanner)
            } else if scanner.equals(key, "cost") {
                try Self.once(&seen, 1 << 8, key, in: scanner, object: start)
                cost = try Self.cost(&scanner)
            } else if scanner.equals(key, "tags") {
                try Self.once(&seen, 1 << 9, key, in: scanner, object: start)
                tags = try self.tags(&scanner)
            } else if scanner.equals(key, "unavailable_regions") {
                try Self.once(&seen, 1 << 10, key, in: scanner, object: start)
                unavailableRegions = try names(&scanner, "unavailable_regions")
            } else if scanner.equals(key, "allow_reroute") {
                try Self.once(&seen, 1 << 11, key, in: scanner, object: start)
                guard try !scanner.null() else { continue }
                guard let byte = scanner.peek(), byte == UInt8(ascii: "t") || byte == UInt8(ascii: "f") else {
                    throw JSONError("allow_reroute must be true or false, found \(scanner.tokenDescription())", at: scanner.index)
                }
                allowReroute = try scanner.bool()
            } else {
                let field = try scanner.decodeString(key)
                let shown = excerpt(field, limit: 64)
                throw JSONError("unknown field \"\(shown)\"\(TextMatching.didYouMean(field, among: RequestDecoder.fields))", at: key.lowerBound)
            }
        }
        guard sawModel else { throw JSONError("the request has no \"model\"", at: start) }
        return Request(id: id, timestamp: timestamp, team: team, environment: environment, model: model, region: region, user: user,
                       tags: tags, usage: usage, cost: cost, unavailableRegions: unavailableRegions, allowReroute: allowReroute)
    }

    /// Marks a field as read, throwing if it was read before in this object.
    @inline(__always)
    package static func once<Bits: FixedWidthInteger>(_ seen: inout Bits, _ bit: Bits, _ key: Range<Int>, in scanner: JSONScanner, object start: Int,
                                             prefix: StaticString = "") throws(JSONError) {
        guard seen & bit == 0 else { throw duplicate(key, in: scanner, object: start, prefix: prefix) }
        seen |= bit
    }

    /// The error for a key repeated in the object at `start`, located at the repeat and naming the first.
    ///
    /// Only on the error path: the object is scanned again to find the first occurrence.
    package static func duplicate(_ key: Range<Int>, in scanner: JSONScanner, object start: Int, prefix: StaticString = "") -> JSONError {
        let name = (try? scanner.decodeString(key)) ?? ""
        let shown = excerpt(name, limit: 64)
        var first = key.lowerBound
        var again = JSONScanner(scanner.bytes, from: start)
        do throws(JSONError) {
            try again.beginObject()
            var isFirst = true
            while let other = try again.nextKey(first: &isFirst), other.lowerBound < key.lowerBound {
                if (try? again.decodeString(other)) == name {
                    first = other.lowerBound
                    break
                }
                try again.skipValue()
            }
        } catch {}
        let mark = YAMLMark(byteOffset: first - 1, in: scanner.bytes)
        let place = mark.line == 1 ? "column \(mark.column)" : "line \(mark.line), column \(mark.column)"
        return JSONError("duplicate field \"\(prefix)\(shown)\" (first at \(place)); each field may appear once", at: key.lowerBound - 1)
    }

    // MARK: Fields that are not names (shared with the shaped decoding of usage logs)

    /// An `id` (ids are unique: decoded directly rather than filling the name cache with them).
    package static func id(_ scanner: inout JSONScanner) throws(JSONError) -> String? {
        guard let range = try idRange(&scanner) else { return nil }
        return try scanner.decodeString(range)
    }

    /// An `id`'s raw (undecoded) string, its length checked; nil for null.
    package static func idRange(_ scanner: inout JSONScanner) throws(JSONError) -> Range<Int>? {
        guard try !scanner.null() else { return nil }
        let at = scanner.index
        guard scanner.peek() == UInt8(ascii: "\"") else { throw JSONError("id must be a string, found \(scanner.tokenDescription())", at: at) }
        let range = try scanner.rawString()
        guard range.count <= RequestDecoder.maxNameBytes else {
            throw JSONError("id is \(range.count) bytes long; the limit is \(RequestDecoder.maxNameBytes)", at: at)
        }
        return range
    }

    /// A `timestamp`: RFC 3339.
    package static func timestamp(_ scanner: inout JSONScanner, hours: inout HourPrefix) throws(JSONError) -> Timestamp? {
        let at = scanner.index
        guard try !scanner.null() else { return nil }
        guard scanner.peek() == UInt8(ascii: "\"") else {
            throw JSONError("timestamp must be a string (an RFC 3339 time), found \(scanner.tokenDescription())", at: scanner.index)
        }
        let range = try scanner.rawString()
        guard let parsed = Timestamp.parse(UnsafeBufferPointer(rebasing: scanner.bytes[range]), hours: &hours) else {
            let text = String(decoding: UnsafeBufferPointer(rebasing: scanner.bytes[range.prefix(64)]), as: UTF8.self)
            let shown = range.count > 64 ? text + "…" : text
            if Timestamp.isOutOfRange(text) {
                throw JSONError("timestamp \"\(shown)\" is out of range (\(Timestamp.supportedRange))", at: at)
            }
            throw JSONError("timestamp \"\(shown)\" is not an RFC 3339 time like 2026-11-22T10:00:00Z", at: at)
        }
        return parsed
    }

    /// A `cost` in USD, exact to the nano-dollar.
    package static func cost(_ scanner: inout JSONScanner) throws(JSONError) -> USD? {
        let at = scanner.index
        if let nanos = scanner.plainNanos() { return USD(nanos: nanos) }
        guard try !scanner.null() else { return nil }
        guard let next = scanner.peek(), next == UInt8(ascii: "-") || next &- 48 < 10 else {
            throw JSONError("cost must be a number of USD, found \(scanner.tokenDescription())", at: scanner.index)
        }
        let text = try scanner.numberText()
        let shown = excerpt(text)
        guard let number = DecimalText(text), !number.negative else {
            throw JSONError("cost must not be negative, found \(shown)", at: at)
        }
        guard let nanos = number.scaled(by: 9, rounding: true), let value = Int64(exactly: nanos),
              value <= 1_000_000_000 * 1_000_000_000
        else { throw JSONError("cost is out of range (0..1000000000 USD), found \(shown)", at: at) }
        return USD(nanos: value)
    }

    // MARK: Names

    private mutating func name(_ scanner: inout JSONScanner, _ field: @autoclosure () -> String) throws(JSONError) -> String {
        let at = scanner.index
        guard scanner.peek() == UInt8(ascii: "\"") else {
            throw JSONError("\(field()) must be a string, found \(scanner.tokenDescription())", at: at)
        }
        let range = try scanner.rawString()
        guard range.count <= RequestDecoder.maxNameBytes else {
            throw JSONError("\(field()) is \(range.count) bytes long; the limit is \(RequestDecoder.maxNameBytes)", at: at)
        }
        let value = try names.string(range, in: scanner)
        guard !value.isEmpty else { throw JSONError("\(field()) must not be empty", at: at) }
        return value
    }

    private mutating func optionalName(_ scanner: inout JSONScanner, _ field: String) throws(JSONError) -> String? {
        if try scanner.null() { return nil }
        return try name(&scanner, field)
    }

    private mutating func names(_ scanner: inout JSONScanner, _ field: String) throws(JSONError) -> [String] {
        if try scanner.null() { return [] }
        guard scanner.peek() == UInt8(ascii: "[") else {
            throw JSONError("\(field) must be an array of strings, found \(scanner.tokenDescription())", at: scanner.index)
        }
        try scanner.beginArray()
        var result: [String] = []
        var first = true
        while try scanner.nextElement(first: &first) {
            guard result.count < RequestDecoder.maxTags else { throw JSONError("\(field) has more than \(RequestDecoder.maxTags) entries", at: scanner.index) }
            result.append(try name(&scanner, field))
        }
        return result
    }

    private mutating func tags(_ scanner: inout JSONScanner) throws(JSONError) -> Tags {
        if try scanner.null() { return [:] }
        guard scanner.peek() == UInt8(ascii: "{") else {
            throw JSONError("tags must be an object of strings, found \(scanner.tokenDescription())", at: scanner.index)
        }
        let start = scanner.index
        try scanner.beginObject()
        var result = Tags()
        var first = true
        while let key = try scanner.nextKey(first: &first) {
            guard result.count < RequestDecoder.maxTags else { throw JSONError("tags has more than \(RequestDecoder.maxTags) entries", at: key.lowerBound) }
            guard key.count <= RequestDecoder.maxNameBytes else { throw JSONError("a tag name is longer than \(RequestDecoder.maxNameBytes) bytes", at: key.lowerBound) }
            let name = try names.string(key, in: scanner)
            guard result[name] == nil else { throw RequestParser.duplicate(key, in: scanner, object: start, prefix: "tags.") }
            let at = scanner.index
            // Tag values are strings (docs/library.md): `"n": 3` is rejected rather than turned into "3".
            guard scanner.peek() == UInt8(ascii: "\"") else {
                let shown = excerpt(name, limit: 64)
                throw JSONError("tags.\(shown) must be a string, found \(scanner.tokenDescription())", at: at)
            }
            result[name] = try self.name(&scanner, "tags.\(name)")
        }
        return result
    }

    /// A `usage` object.
    package static func usage(_ scanner: inout JSONScanner) throws(JSONError) -> Usage {
        if let usage = compactUsage(&scanner) { return usage }
        return try usageByField(&scanner)
    }

    /// A `usage` object read field by field, each count checked (any spacing, null, errors).
    package static func usageByField(_ scanner: inout JSONScanner) throws(JSONError) -> Usage {
        var usage = Usage()
        if try scanner.null() { return usage }
        guard scanner.peek() == UInt8(ascii: "{") else {
            throw JSONError("usage must be an object, found \(scanner.tokenDescription())", at: scanner.index)
        }
        let start = scanner.index
        try scanner.beginObject()
        var first = true
        var seen: UInt8 = 0
        while true {
            // Compact keys (as Purser and most encoders write them) are matched as literals.
            let keyStart = scanner.index + (first ? 1 : 2)
            if let field = quickUsageKey(&scanner, first: first) {
                first = false
                let key = keyStart..<(keyStart + usageFieldNames[field].utf8CodeUnitCount)
                try RequestParser.once(&seen, 1 << field, key, in: scanner, object: start, prefix: "usage.")
                switch field {
                case 0: usage.inputTokens = try count(&scanner, "usage.input_tokens")
                case 1: usage.cachedInputTokens = try count(&scanner, "usage.cached_input_tokens")
                case 2: usage.cacheWriteTokens = try count(&scanner, "usage.cache_write_tokens")
                default: usage.outputTokens = try count(&scanner, "usage.output_tokens")
                }
                continue
            }
            guard let key = try scanner.nextKey(first: &first) else { break }
            if let field = usageFieldNames.firstIndex(where: { scanner.equals(key, $0) }) {
                try once(&seen, 1 << UInt8(field), key, in: scanner, object: start, prefix: "usage.")
            }
            if scanner.equals(key, "input_tokens") {
                usage.inputTokens = try count(&scanner, "usage.input_tokens")
            } else if scanner.equals(key, "output_tokens") {
                usage.outputTokens = try count(&scanner, "usage.output_tokens")
            } else if scanner.equals(key, "cached_input_tokens") {
                usage.cachedInputTokens = try count(&scanner, "usage.cached_input_tokens")
            } else if scanner.equals(key, "cache_write_tokens") {
                usage.cacheWriteTokens = try count(&scanner, "usage.cache_write_tokens")
            } else {
                let field = try scanner.decodeString(key)
                let known = ["input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens"]
                throw JSONError("unknown field \"usage.\(field.prefix(64))\"\(TextMatching.didYouMean(field, among: known))", at: key.lowerBound)
            }
        }
        return usage
    }

    /// A usage object written compactly with plain counts (`{"input_tokens":12,"output_tokens":3}`,
    /// as Purser and most encoders write it), read in one pass; nil (nothing consumed) for anything
    /// else (spaces, null, other keys, a count that is not plain digits or is too large), which
    /// ``usageByField(_:)`` then reads and checks.
    @inline(__always)
    package static func compactUsage(_ scanner: inout JSONScanner) -> Usage? {
        var copy = scanner
        guard copy.take(byte: UInt8(ascii: "{")) else { return nil }
        var usage = Usage()
        var first = true
        var seen: UInt8 = 0
        while true {
            guard let field = quickUsageKey(&copy, first: first), seen & (1 << field) == 0,
                  let count = copy.plainCount(upTo: RequestDecoder.maxTokens)
            else {
                // A repeated key too: the field-by-field reading reports it.
                return nil
            }
            seen |= 1 << field
            first = false
            switch field {
            case 0: usage.inputTokens = count
            case 1: usage.cachedInputTokens = count
            case 2: usage.cacheWriteTokens = count
            default: usage.outputTokens = count
            }
            if copy.take(byte: UInt8(ascii: "}")) {
                scanner = copy
                return usage
            }
        }
    }

    /// The usage fields, by the numbers ``quickUsageKey(_:first:)`` gives them.
    private static let usageFieldNames: [StaticString] = ["input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens"]

    /// `"input_tokens":` and the other usage keys, then each with a leading comma.
    private static let usageKeys = ["input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens"].map { JSONLiteral("\"\($0)\":") }
        + ["input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens"].map { JSONLiteral(",\"\($0)\":") }

    /// The usage field (0 input, 1 cached input, 2 cache write, 3 output) whose compact key comes
    /// next, consumed; nil (nothing consumed) for anything else.
    @inline(__always)
    private static func quickUsageKey(_ scanner: inout JSONScanner, first: Bool) -> Int? {
        let base = first ? 0 : 4
        let at = scanner.index + (first ? 1 : 2)
        guard at + 6 < scanner.bytes.count else { return nil }
        let field: Int
        switch scanner.bytes[at] {
        case UInt8(ascii: "i"): field = 0
        case UInt8(ascii: "o"): field = 3
        case UInt8(ascii: "c"): field = scanner.bytes[at + 5] == UInt8(ascii: "d") ? 1 : 2
        default: return nil
        }
        return scanner.take(usageKeys[base + field]) ? field : nil
    }

    private static func count(_ scanner: inout JSONScanner, _ field: String) throws(JSONError) -> Int64 {
        if scanner.peek().map({ $0 &- 48 < 10 }) != true {
            // Not a plain digit: null, a negative number or not a number at all.
            if try scanner.null() { return 0 }
            let at = scanner.index
            guard let byte = scanner.peek(), byte == UInt8(ascii: "-") || (48...57).contains(byte) else {
                throw JSONError("\(field) must be a whole number, found \(scanner.tokenDescription())", at: at)
            }
            if byte == UInt8(ascii: "-") {
                let text = try scanner.numberText()
                throw JSONError("\(field) must not be negative, found \(text)", at: at)
            }
        }
        let at = scanner.index
        let value: Int64
        do {
            value = try scanner.integer()
        } catch {
            // A whole number too large for 64 bits (1e23) is out of range; a fraction is not a count.
            var again = JSONScanner(scanner.bytes, from: at)
            if let range = try? again.numberRange(), let number = DecimalText(String(decoding: UnsafeBufferPointer(rebasing: scanner.bytes[range]), as: UTF8.self)),
               number.exponent >= 0 {
                throw outOfRange(field, range, in: scanner)
            }
            throw JSONError("\(field) must be a whole number of tokens up to \(RequestDecoder.maxTokens): \(error.message)", at: at)
        }
        guard value <= RequestDecoder.maxTokens else {
            throw JSONError("\(field) is out of range (0..\(RequestDecoder.maxTokens)), found \(value)", at: at)
        }
        return value
    }

    /// `FIELD is out of range (0..MAX), found TEXT`, the text cut short.
    private static func outOfRange(_ field: String, _ range: Range<Int>, in scanner: JSONScanner) -> JSONError {
        let text = String(decoding: UnsafeBufferPointer(rebasing: scanner.bytes[range.prefix(40)]), as: UTF8.self)
        return JSONError("\(field) is out of range (0..\(RequestDecoder.maxTokens)), found \(text)\(range.count > 40 ? "…" : "")", at: range.lowerBound)
    }

    /// A parser for a stream of requests, which caches the names it reads.
    package init() {
        names = NameCache()
    }

    /// A parser for one request (`RequestDecoder.decode`): no cache, whose
    /// 4,096 slots would cost more to make and free than one request's names cost to decode.
    package init(caching: Bool) {
        names = NameCache(slots: caching ? NameCache.streamSlots : 0)
    }
}

/// A small cache of decoded names by their bytes (direct-mapped, 4,096 entries for a stream;
/// none for a one-off decode).
@usableFromInline package struct NameCache: Sendable {
    @usableFromInline var hashes: [UInt64]
    @usableFromInline var values: [String]
    /// The slots of a stream's cache.
    package static let streamSlots = 4096

    /// The string for raw JSON string bytes: cached when seen before, else decoded (and cached if short and plain).
    package mutating func string(_ range: Range<Int>, in scanner: JSONScanner) throws(JSONError) -> String {
        guard range.count <= 64, !scanner.hasEscapes(range) else { return try scanner.decodeString(range) }
        return try string(UnsafeBufferPointer(rebasing: scanner.bytes[range])) { _ throws(JSONError) in try scanner.decodeString(range) }
    }

    /// The string whose UTF-8 is `bytes`: cached when seen before, else made by `make` (and cached
    /// if short; a `make` that throws caches nothing).
    @inline(__always)
    @inlinable
    package mutating func string<E: Error>(_ bytes: UnsafeBufferPointer<UInt8>,
                                   _ make: (UnsafeBufferPointer<UInt8>) throws(E) -> String) throws(E) -> String {
        guard bytes.count <= 64, !hashes.isEmpty, let base = bytes.baseAddress else { return try make(bytes) }
        let hash = ByteHash.hash(base, count: bytes.count)  // never 0, the empty marker
        let slot = Int(hash & UInt64(hashes.count - 1))  // a power of two
        if hashes[slot] == hash {
            let equal = values[slot].utf8.withContiguousStorageIfAvailable { utf8 in
                guard utf8.count == bytes.count, let cached = utf8.baseAddress else { return utf8.count == bytes.count }
                return ByteSearch.equal(cached, base, count: bytes.count)
            }
            if equal == true { return values[slot] }
        }
        let value = try make(bytes)
        hashes[slot] = hash
        values[slot] = value
        return value
    }

    /// A cache of a stream's size.
    package init() {
        self.init(slots: NameCache.streamSlots)
    }

    /// A cache of `slots` entries (``streamSlots``), or none (0).
    package init(slots: Int) {
        precondition(slots == 0 || slots == NameCache.streamSlots, "a name cache has \(NameCache.streamSlots) slots or none")
        hashes = [UInt64](repeating: 0, count: slots)
        values = [String](repeating: "", count: slots)
    }
}
