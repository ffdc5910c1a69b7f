import Purser
// For memcmp in the name tables' key compare (once per line and name kind). Through ByteSearch's
// inlinable `equal`, the compiler keeps a retain and release of the entry's key per lookup:
// audit of 100,000 Purser records, 2,071–2,080 M instructions instead of 2,055 M (callgrind).
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Usage records decoded by their shape: the names they carry.
///
/// A month of logs repeats a few dozen teams, environments, models, regions,
/// users and tag sets across millions of lines. A line's names decide
/// everything about its evaluation except what its numbers (time, tokens,
/// cost) decide, so a reader preparing records keeps, per thread, the names
/// it has seen, keyed by their exact JSON bytes: a ``RecordShape`` for the
/// team, environment, model and region (and unavailable regions, allow
/// reroute), a ``ShapedUser`` for the user and a ``ShapedTags`` for the tags.
/// Each holds its part of the plan key (``PlanNames``: ids, and the outcome
/// of the plan tests reading its text). A line whose names are all known is
/// read without building a string: its numbers are parsed, its plan key is
/// the three parts plus what the numbers decide, and its counters come from
/// the shape's counters under that plan, keyed by the user or a tag where a
/// budget's scope says so. A line with a new name, a line the shaped scan
/// does not take (an unknown or repeated field, anything malformed) and a
/// record its plan does not decide take the full path, so nothing is
/// decided differently (see ``PlanTests``).

/// What a record has of its own besides its names.
package struct ShapedNumbers: Sendable {
    package var id: ScannedID?
    package var usage = Usage()
    /// The actual cost, when the line gives one.
    package var cost: USD?
}

/// A record's id as its line writes it. A short plain id (16 bytes or fewer, ASCII, no escapes)
/// is kept as its bytes: most records are never reported, and making a string of every
/// record's id cost more than the rest of its numbers. Any other id is decoded at once.
package enum ScannedID: Sendable, Equatable {
    /// Up to 16 bytes, little-endian, zero after the id (a JSON string holds no raw zero byte).
    case short(UInt64, UInt64)
    case text(String)

    /// The id.
    package var text: String {
        switch self {
        case .text(let text): return text
        case .short(let low, let high):
            return withUnsafeBytes(of: (low.littleEndian, high.littleEndian)) { raw in
                let count = raw.firstIndex(of: 0) ?? raw.count
                return String(decoding: UnsafeRawBufferPointer(rebasing: raw[..<count]), as: UTF8.self)
            }
        }
    }

    /// Reads an `id` field's value (nil for null), checked as ``RequestParser/id(_:)`` checks it.
    package static func scan(_ scanner: inout JSONScanner) throws(JSONError) -> ScannedID? {
        guard let range = try RequestParser.idRange(&scanner) else { return nil }
        let count = range.count
        guard count <= 16, let base = scanner.bytes.baseAddress else { return .text(try scanner.decodeString(range)) }
        var words: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &words) { raw in
            raw.baseAddress.unsafelyUnwrapped.copyMemory(from: base + range.lowerBound, byteCount: count)
        }
        let low = UInt64(littleEndian: words.0)
        let high = UInt64(littleEndian: words.1)
        // Not ASCII, or an escape: decoded (and checked) as any id.
        if (low | high) & 0x8080_8080_8080_8080 != 0 || hasBackslash(low) || hasBackslash(high) {
            return .text(try scanner.decodeString(range))
        }
        return .short(low, high)
    }

    @inline(__always)
    private static func hasBackslash(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let x = word ^ (ones &* 0x5C)
        return (x &- ones) & ~x & (ones &* 0x80) != 0
    }
}

/// A record decoded by its names: its entries and its own numbers, enough to rebuild its
/// request should it be assessed in full.
///
/// The entries are referred to without a reference count (counting them for every record, on the
/// reading, replaying and freeing threads, cost more than reading the record). That is safe while
/// the entries live, which they do as long as the audit: their ``ShapeTable`` keeps every entry it
/// made (`kept`), and the tables belong to the plan caches of the audit's ``PlanPool``. Other
/// threads than the reader that made an entry read only its `let`s (``RecordShape/template``,
/// ``ShapedUser/user``, ``ShapedTags/tags``). Debug builds check that the entries live with weak
/// references, on every read.
package struct ShapedRequest: Sendable {
    // Made on a reader thread, then only read by the replay thread (like `PreparedEvaluation`).
    private let shapeEntry: Unmanaged<RecordShape>
    private let userEntry: Unmanaged<ShapedUser>
    private let tagsEntry: Unmanaged<ShapedTags>
    package let numbers: ShapedNumbers
    #if DEBUG
    private weak var shapeAlive: RecordShape?
    private weak var userAlive: ShapedUser?
    private weak var tagsAlive: ShapedTags?
    #endif

    package init(shape: Unmanaged<RecordShape>, user: Unmanaged<ShapedUser>, tags: Unmanaged<ShapedTags>, numbers: ShapedNumbers) {
        (shapeEntry, userEntry, tagsEntry) = (shape, user, tags)
        self.numbers = numbers
        #if DEBUG
        (shapeAlive, userAlive, tagsAlive) = (shape.takeUnretainedValue(), user.takeUnretainedValue(), tags.takeUnretainedValue())
        #endif
    }

    package var shape: RecordShape {
        #if DEBUG
        assert(shapeAlive != nil, "a record outlived its shape's table")
        #endif
        return shapeEntry.takeUnretainedValue()
    }

    package var user: ShapedUser {
        #if DEBUG
        assert(userAlive != nil, "a record outlived its user's table")
        #endif
        return userEntry.takeUnretainedValue()
    }

    package var tags: ShapedTags {
        #if DEBUG
        assert(tagsAlive != nil, "a record outlived its tag set's table")
        #endif
        return tagsEntry.takeUnretainedValue()
    }

    /// Calls `body` with the three entries, lent (not retained: the reader's path, once per record).
    @inline(__always)
    package func withEntries<Result>(_ body: (RecordShape, ShapedUser, ShapedTags) -> Result) -> Result {
        #if DEBUG
        assert(shapeAlive != nil && userAlive != nil && tagsAlive != nil, "a record outlived its tables")
        #endif
        return shapeEntry.withBorrowed { shape in userEntry.withBorrowed { user in tagsEntry.withBorrowed { tags in body(shape, user, tags) } } }
    }

    /// The record's request at `timestamp`.
    package func request(at timestamp: Timestamp) -> Request {
        shape.request(numbers, user: user.user, tags: tags.tags, timestamp: timestamp)
    }
}

extension Unmanaged {
    /// Calls `body` with the object, neither retained nor released: the one use of the standard
    /// library's underscored `_withUnsafeGuaranteedRef`, for the unretained entries and keys of a
    /// replay, which their tables keep alive (see ``ShapedRequest`` and ``ReplayCounter``). The caller
    /// guarantees the object lives through the call.
    ///
    /// Kept for its measured cost: with `takeUnretainedValue()` (a retain and a release each) at
    /// its three uses (``ShapeTable/entry(_:hash:)``, the reader's ``ShapedRequest/withEntries(_:)``,
    /// ``ReplayCounter/hasKey(_:)``), `purser audit` of 100,000 Purser JSON Lines records ran
    /// 2,136–2,138 M instructions instead of 2,046–2,052 M (callgrind, +4.2 %; LiteLLM CSV +0.1 %).
    @inline(__always)
    package func withBorrowed<Result>(_ body: (Instance) throws -> Result) rethrows -> Result {
        try _withUnsafeGuaranteedRef(body)
    }
}

/// Something a reader knows by the JSON bytes it was read from.
package protocol ShapeEntry: AnyObject {
    /// The bytes (see ``ShapeKey``).
    var key: [UInt8] { get }
    var hash: UInt64 { get }
}

/// One combination of team, environment, model and region (and unavailable regions,
/// allow reroute) as it appears in a log.
///
/// Made on a reader thread and used by that thread; the replay thread reads only `template`.
/// (`@unchecked`: the memo is a raw buffer, and it and `known` change; only the thread using the
/// plan cache whose table holds the shape touches them, which `owner` checks in debug builds.)
package final class RecordShape: ShapeEntry, @unchecked Sendable {
    package let key: [UInt8]
    package let hash: UInt64
    /// A request with the shape's names and no id, time, usage, cost, user or tags.
    package let template: Request
    /// The part of its records' plan keys its names decide (the bits of tests reading the region);
    /// nil when they are assessed in full.
    package let names: PlanNames?
    /// The last few plan keys its records had, with their counters (nil: the plan does not decide
    /// them): the counters' own buffer, which `known` keeps (reading it through its ``ShapeCounters``
    /// cost a cache miss per record). Read and written by the reader thread only; a raw buffer of
    /// plain values, so that reading it costs no exclusivity check and no reference count.
    private let memo: UnsafeMutableBufferPointer<(key: PlanKey, counters: UnsafeMutableBufferPointer<ShapeCounters.Counter>?)?>
    /// The memo slot written next (round robin).
    private var next = 0
    /// Every plan key's counters found so far (a shape's records have more plan keys over a log
    /// than the memo holds, and finding counters again costs more than this lookup).
    private var known: [PlanKey: ShapeCounters?] = [:]
    /// The thread using the memo (its table's).
    private let owner: ThreadOwner

    package init(key: UnsafeBufferPointer<UInt8>, hash: UInt64, template: Request, names: PlanNames?, owner: ThreadOwner = ThreadOwner()) {
        self.key = Array(key)
        self.hash = hash
        self.template = template
        self.names = names
        self.owner = owner
        memo = .allocate(capacity: 8)
        memo.initialize(repeating: nil)
    }

    deinit {
        memo.deinitialize()
        memo.deallocate()
    }

    /// A record's request: the shape's names with its own user, tags, numbers and time.
    package func request(_ numbers: ShapedNumbers, user: String?, tags: Tags, timestamp: Timestamp) -> Request {
        var request = template
        request.id = numbers.id?.text
        request.timestamp = timestamp
        request.usage = numbers.usage
        request.cost = numbers.cost
        request.user = user
        request.tags = tags
        return request
    }

    /// The counters of this shape's records with plan key `key` (nil when its plan does not decide
    /// them), remembered; the buffer is the shape's (valid while the shape lives). `make` finds
    /// them (and gives false when there is no plan yet, which is not remembered).
    ///
    /// The memo's buffers point into the ``ShapeCounters`` that `known` keeps: the memo is emptied
    /// whenever `known` is, so no buffer outlives its counters (debug builds check each one found).
    @inline(__always)
    package func counters(_ key: PlanKey, _ make: () -> (found: Bool, counters: ShapeCounters?)) -> UnsafeMutableBufferPointer<ShapeCounters.Counter>? {
        let use = owner.enter()
        defer { owner.exit(use) }
        for index in 0..<memo.count {
            guard let entry = memo[index] else { break }
            if entry.key == key {
                assert(entry.counters == nil || known.values.contains { $0?.counters?.baseAddress == entry.counters?.baseAddress },
                       "a shape's memo outlived its counters")
                return entry.counters
            }
        }
        let counters: ShapeCounters?
        if let remembered = known[key] {
            counters = remembered
        } else {
            let (found, made) = make()
            guard found else { return nil }
            // Bounded: a shape with this many plan keys starts again (and forgets what the memo refers to).
            if known.count >= 4096 {
                known.removeAll()
                memo.update(repeating: nil)
                next = 0
            }
            known[key] = made
            counters = made
        }
        let buffer = counters?.counters
        memo[next] = (key, buffer)
        next = (next + 1) & 7
        return buffer
    }
}

/// A scope key (a user, a tag's value, or a key the names fix) kept for the whole audit, so that
/// replay counters refer to it without a reference count: counting references to the same key
/// from every record, on the reading and freeing threads, costs more than the rest of a counter.
package final class SharedKey: Sendable {
    package let text: String
    /// `text.hashValue`.
    package let hash: Int

    package init(_ text: String, hash: Int) {
        self.text = text
        self.hash = hash
    }
}

/// A user as it appears in a log (or its absence: `null`).
package final class ShapedUser: ShapeEntry, Sendable {
    package let key: [UInt8]
    package let hash: UInt64
    package let user: String?
    /// The user as a counter key (budgets scoped by user), and its hash (kept here: reading it
    /// from the key object cost a cache miss per record).
    package let scopeKey: SharedKey?
    package let scopeHash: Int
    /// The plan tests reading the user that hold; bit 2 when there is a user.
    package let tests: UInt64
    package let flags: UInt64

    package init(key: UnsafeBufferPointer<UInt8>, hash: UInt64, user: String?, tests: UInt64) {
        self.key = Array(key)
        self.hash = hash
        self.user = user
        self.scopeKey = user.map { SharedKey($0, hash: $0.hashValue) }
        self.scopeHash = scopeKey?.hash ?? 0
        self.tests = tests
        self.flags = user == nil ? 0 : 4
    }
}

/// A tag set as it appears in a log.
package final class ShapedTags: ShapeEntry, Sendable {
    package let key: [UInt8]
    package let hash: UInt64
    package let tags: Tags
    /// The plan tests reading a tag that hold; bits 8…15 for the scope tags it has.
    package let tests: UInt64
    package let flags: UInt64
    /// The value of each of ``PlanTests/scopeTags`` as a counter key, nil when absent.
    package let scopeValues: [SharedKey?]

    package init(key: UnsafeBufferPointer<UInt8>, hash: UInt64, tags: Tags, tests: UInt64, scopeTags: [String]) {
        self.key = Array(key)
        self.hash = hash
        self.tags = tags
        self.tests = tests
        scopeValues = scopeTags.map { tag in tags[tag].map { SharedKey($0, hash: $0.hashValue) } }
        var flags: UInt64 = 0
        for (offset, value) in scopeValues.enumerated() where value != nil { flags |= 1 << UInt64(8 + offset) }
        self.flags = flags
    }
}

/// The counters every record of one shape counts against under one plan: only the
/// amount, the window and (for budgets scoped by user or by a tag) the key differ.
package final class ShapeCounters: @unchecked Sendable {
    // `@unchecked` for the raw buffer: it is written in init only and freed in deinit, so any
    // thread may read it while the object lives (the plan cache's thread, in practice).
    package struct Counter {
        package enum Source: UInt8 {
            /// `key` and `limits` are the counter's.
            case fixed
            /// The key is the record's user.
            case user
            /// The key is the record's value of scope tag `tag`.
            case tag
        }

        package let source: Source
        package let tag: Int
        /// The key, kept by the plan cache (see ``PlanCache/sharedKey(_:hash:)``), and its hash.
        package let key: SharedKey
        package let keyHash: Int
        /// The caps (for a user or tag key: unless the budget overrides them by key).
        package let limits: BudgetLimits
        package let overrides: Bool
        package let budget: Int32
        package let budgetHash: Int
        package let period: BudgetPeriod
        package let enforced: Bool
        package let hasAlerts: Bool
    }

    /// Nil when a budget's scope joins a user or tag to other parts: such records are assessed in full.
    /// (A raw buffer: records read it without retaining an array.)
    package let counters: UnsafeMutableBufferPointer<Counter>?

    package init(counters: [Counter]?) {
        self.counters = counters.map { counters in
            let buffer = UnsafeMutableBufferPointer<Counter>.allocate(capacity: counters.count)
            _ = buffer.initialize(from: counters)
            return buffer
        }
    }

    deinit {
        guard let counters else { return }
        counters.deinitialize()
        counters.deallocate()
    }
}

/// The bytes a name is known by: for each field, a field code (below 0x20, so
/// never inside a JSON value) and the raw JSON value.
///
/// It writes into a table's `scratch` buffer without owning it: a key is made and used within the
/// decoding of one line, by the thread using the table, which keeps the buffer as long as it lives.
package struct ShapeKey {
    package enum Field: UInt8 {
        case team = 1, environment, model, region, user, tags, unavailableRegions, allowReroute
    }

    package let base: UnsafeMutablePointer<UInt8>
    package let capacity: Int
    package private(set) var count = 0

    package init(_ buffer: UnsafeMutableBufferPointer<UInt8>) {
        base = buffer.baseAddress.unsafelyUnwrapped
        capacity = buffer.count
    }

    /// Appends a field; false when the key would be longer than the buffer.
    @inline(__always)
    package mutating func append(_ field: Field, _ value: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let source = value.baseAddress, count + 1 + value.count <= capacity else { return false }
        base[count] = field.rawValue
        (base + count + 1).update(from: source, count: value.count)
        count += 1 + value.count
        return true
    }

    package var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: base, count: count) }

    /// A hash of the bytes (never 0, the empty marker).
    package var hash: UInt64 { ByteHash.hash(base, count: count) }
}

/// One thread's names of one kind: an open-addressing table by ``ShapeKey``.
///
/// The table keeps every entry it made (records refer to them without a reference count,
/// see ``ShapedRequest``) up to ``limit``; past that it makes no more, and lines with names
/// it does not know are decoded in full, so memory stays bounded however many names a log has.
package final class ShapeTable<Entry: ShapeEntry>: @unchecked Sendable {
    // `@unchecked`: one thread at a time uses a table (that of the plan cache owning it, which
    // `owner` checks in debug builds). Raw buffers, allocated once: a class's stored arrays
    // would pay an exclusivity check per lookup. Every entry in `entries` is unretained and
    // one of `kept`, which retains it until the table goes.
    private let hashes: UnsafeMutableBufferPointer<UInt64>
    private let entries: UnsafeMutableBufferPointer<Unmanaged<Entry>?>
    /// Scratch space for one line's key.
    package let scratch: UnsafeMutableBufferPointer<UInt8>
    /// Entries in the index.
    private var count = 0
    /// Every entry made (the index forgets some when it starts again; records may still refer to them).
    private var kept: [Entry] = []
    /// Slots in the index; past half full it starts again (names are dozens to thousands in practice).
    package static var slots: Int { 1 << bits }
    private static var bits: Int { 13 }
    /// Most entries the table makes.
    package let limit: Int
    /// The thread using the table (its plan cache's).
    package let owner: ThreadOwner

    /// A table making at most `limit` entries.
    package init(limit: Int = 1 << 14, owner: ThreadOwner = ThreadOwner()) {
        self.limit = limit
        self.owner = owner
        hashes = .allocate(capacity: Self.slots)
        hashes.initialize(repeating: 0)
        entries = .allocate(capacity: Self.slots)
        entries.initialize(repeating: nil)
        scratch = .allocate(capacity: 4096)
    }

    deinit {
        entries.deinitialize()
        entries.deallocate()
        hashes.deallocate()
        scratch.deallocate()
    }

    /// The entry with exactly these key bytes (unretained: the table keeps it).
    @inline(__always)
    package func entry(_ key: ShapeKey, hash: UInt64) -> Unmanaged<Entry>? {
        let use = owner.enter()
        defer { owner.exit(use) }
        let (bytes, length) = (key.base, key.count)
        let mask = Self.slots - 1
        var slot = Int(truncatingIfNeeded: hash >> UInt64(64 - Self.bits))
        while hashes[slot] != 0 {
            // Lent, not retained: `kept` keeps every entry.
            if hashes[slot] == hash, let entry = entries[slot], entry.withBorrowed({ found in
                found.key.count == length && found.key.withUnsafeBufferPointer { memcmp($0.baseAddress.unsafelyUnwrapped, bytes, length) == 0 }
            }) {
                return entry
            }
            slot = (slot &+ 1) & mask
        }
        return nil
    }

    /// Whether the table makes no more entries (see ``limit``).
    package var isFull: Bool { kept.count >= limit }

    /// Adds an entry not in the table (unless it is full) and gives it back, unretained.
    package func insert(_ entry: Entry) -> Unmanaged<Entry>? {
        let use = owner.enter()
        defer { owner.exit(use) }
        guard !isFull else { return nil }
        if count * 2 >= Self.slots {
            hashes.update(repeating: 0)
            entries.update(repeating: nil)
            count = 0
        }
        kept.append(entry)
        let mask = Self.slots - 1
        var slot = Int(truncatingIfNeeded: entry.hash >> UInt64(64 - Self.bits))
        while hashes[slot] != 0 { slot = (slot &+ 1) & mask }
        hashes[slot] = entry.hash
        entries[slot] = Unmanaged.passUnretained(entry)
        count += 1
        return entries[slot]
    }
}

/// One thread's shapes, users and tag sets (owned by the thread's ``PlanCache``).
package final class ShapeTables: Sendable {
    package let shapes: ShapeTable<RecordShape>
    package let users: ShapeTable<ShapedUser>
    package let tags: ShapeTable<ShapedTags>
    /// The order of fields in the lines read.
    package let keys: ShapedLine.KeyOrder
    /// The thread using the tables (their plan cache's).
    package let owner: ThreadOwner

    /// Tables making at most `limit` entries each.
    package init(limit: Int = 1 << 14, owner: ThreadOwner = ThreadOwner()) {
        shapes = ShapeTable(limit: limit, owner: owner)
        users = ShapeTable(limit: limit, owner: owner)
        tags = ShapeTable(limit: limit, owner: owner)
        keys = ShapedLine.KeyOrder(owner: owner)
        self.owner = owner
    }
}

/// What a reader needs to prepare records while decoding them: the evaluator and the thread's plans.
/// (A class: passed to every line, a struct of references would be retained for each.)
package final class ShapedPreparation: Sendable {
    // Made for one job, and used by its thread (the plan cache's checks say so in debug builds).
    package let evaluator: Evaluator
    package let plans: PlanCache
    package let tests: PlanTests
    /// Counters per record expected, in 1/256ths (to size the batch's counter array once).
    package let countersPerRecord: Int

    package init(evaluator: Evaluator, plans: PlanCache, tests: PlanTests, countersPerRecord: Int) {
        self.evaluator = evaluator
        self.plans = plans
        self.tests = tests
        self.countersPerRecord = countersPerRecord
    }
}

/// Reading a Purser log line by its shape.
package enum ShapedLine {
    /// The fields of a Purser log line.
    package enum Key: UInt8, CaseIterable {
        case id, timestamp, usage, cost, team, environment, model, region, user, tags, unavailableRegions, allowReroute

        package var name: StaticString {
            switch self {
            case .id: "id"
            case .timestamp: "timestamp"
            case .usage: "usage"
            case .cost: "cost"
            case .team: "team"
            case .environment: "environment"
            case .model: "model"
            case .region: "region"
            case .user: "user"
            case .tags: "tags"
            case .unavailableRegions: "unavailable_regions"
            case .allowReroute: "allow_reroute"
            }
        }

        /// The field named by the raw key `range` of `scanner` (nil: not a field the shaped scan reads).
        package init?(_ range: Range<Int>, in scanner: JSONScanner) {
            guard let key = Key.allCases.first(where: { scanner.equals(range, $0.name) }) else { return nil }
            self = key
        }
    }

    /// The order of the fields in the last lines one thread read, and each field's key as
    /// compact JSON writes it: a line written like the last one has its keys matched as
    /// literals (one compare each) instead of scanned; any other line is scanned as before.
    package final class KeyOrder: @unchecked Sendable {
        // `@unchecked`: used by one thread at a time (its tables' plan cache's, which `owner`
        // checks in debug builds). Raw buffers: a class's arrays would pay an exclusivity check per read.
        /// `"key":` and `,"key":` by field.
        private let literals: UnsafeMutableBufferPointer<JSONLiteral>
        /// The field at each position, `0xFF` when unknown.
        private let order: UnsafeMutableBufferPointer<UInt8>
        private let owner: ThreadOwner

        package init(owner: ThreadOwner = ThreadOwner()) {
            self.owner = owner
            let keys = Key.allCases
            literals = .allocate(capacity: 2 * keys.count)
            for key in keys {
                (literals.baseAddress.unsafelyUnwrapped + 2 * Int(key.rawValue)).initialize(to: JSONLiteral("\"\(key.name.description)\":"))
                (literals.baseAddress.unsafelyUnwrapped + 2 * Int(key.rawValue) + 1).initialize(to: JSONLiteral(",\"\(key.name.description)\":"))
            }
            order = .allocate(capacity: 16)
            order.initialize(repeating: 0xFF)
        }

        deinit {
            literals.deallocate()
            order.deallocate()
        }

        /// The field at `position` in the last line, if known.
        @inline(__always)
        package func expected(at position: Int) -> Key? {
            let use = owner.enter()
            defer { owner.exit(use) }
            return position < order.count ? Key(rawValue: order[position]) : nil
        }

        /// The key of `key` as it follows `{` (`first`) or another field.
        @inline(__always)
        package func literal(_ key: Key, first: Bool) -> JSONLiteral {
            literals[2 * Int(key.rawValue) + (first ? 0 : 1)]
        }

        /// Remembers that `key` was at `position`.
        package func learn(_ key: Key, at position: Int) {
            let use = owner.enter()
            defer { owner.exit(use) }
            if position < order.count { order[position] = key.rawValue }
        }
    }

    /// What the shaped scan read of a line.
    package struct Scanned {
        package var numbers = ShapedNumbers()
        package var timestamp: Timestamp?
    }

    /// Scans one line: its numbers are parsed; the raw bytes of its team, environment, model,
    /// region (and unavailable regions, allow reroute) are appended to `shape`, of its user to
    /// `user` and of its tags to `tags`. Nil when the line is to be decoded in full (an unknown
    /// or repeated field, anything malformed, a key too long): the full decoder then finds the
    /// same values, or reports the error.
    package static func scan(_ scanner: inout JSONScanner, keys: KeyOrder, shape: inout ShapeKey, user: inout ShapeKey,
                     tags: inout ShapeKey, hours: inout HourPrefix) -> Scanned? {
        var scanned = Scanned()
        // Every field once: a repeated one (`"cost":0.5,"cost":0.000001`) sends the line to the
        // full decoder, which reports it with both places (one bit test per field).
        var seen: UInt16 = 0
        do throws(JSONError) {
            try scanner.beginObject()
            var position = 0
            while true {
                let key: Key
                if let expected = keys.expected(at: position), scanner.take(keys.literal(expected, first: position == 0)) {
                    // The key this position had in the last line, written compactly: matched at once.
                    key = expected
                } else {
                    var first = position == 0
                    guard let name = try scanner.nextKey(first: &first) else { break }
                    guard let found = Key(name, in: scanner) else { return nil }
                    keys.learn(found, at: position)
                    key = found
                }
                position += 1
                let keyBit: UInt16 = 1 << UInt16(key.rawValue)
                guard seen & keyBit == 0 else { return nil }
                seen |= keyBit
                let field: ShapeKey.Field
                switch key {
                case .id:
                    scanned.numbers.id = try ScannedID.scan(&scanner)
                    continue
                case .timestamp:
                    scanned.timestamp = try RequestParser.timestamp(&scanner, hours: &hours)
                    continue
                case .usage:
                    scanned.numbers.usage = try RequestParser.usage(&scanner)
                    continue
                case .cost:
                    scanned.numbers.cost = try RequestParser.cost(&scanner)
                    continue
                case .team: field = .team
                case .environment: field = .environment
                case .model: field = .model
                case .region: field = .region
                case .user: field = .user
                case .tags: field = .tags
                case .unavailableRegions: field = .unavailableRegions
                case .allowReroute: field = .allowReroute
                }
                let first = scanner.peek()
                let start = scanner.index
                // Names are strings (or null, or for tags an object): a string is read directly.
                if first == UInt8(ascii: "\"") { _ = try scanner.rawString() } else { try scanner.skipValue() }
                let value = UnsafeBufferPointer(rebasing: scanner.bytes[start..<scanner.index])
                switch field {
                case .user: guard user.append(field, value) else { return nil }
                case .tags: guard tags.append(field, value) else { return nil }
                default: guard shape.append(field, value) else { return nil }
                }
            }
            try scanner.expectEnd()
        } catch {
            return nil
        }
        return scanned
    }
}

extension Evaluator {
    /// The part of a shape's plan keys its names decide (nil: its records are assessed in full):
    /// ids, region, and the plan tests reading the region.
    package func shapeNames(_ template: Request, tests: PlanTests) -> PlanNames? {
        planNames(resolve(template, now: Timestamp(nanoseconds: 0)), tests: tests, entries: tests.regionEntries)
    }

    /// The plan tests reading the user or the tags (`entries`) that hold for `request` (which has only those).
    package func textTests(_ request: Request, _ entries: [(bit: Int, test: Int)]) -> UInt64 {
        let resolved = resolve(request, now: Timestamp(nanoseconds: 0))
        let input = ConditionInput(resolved: resolved, model: -1, provider: -1, tier: -1, modelName: request.model, providerName: nil,
                                   region: nil, cost: nil)
        var bits: UInt64 = 0
        for entry in entries where policy.conditions.holds(tests: entry.test, input) { bits |= 1 << UInt64(entry.bit) }
        return bits
    }

    /// A record of known names as its key's plan decides it, its counters appended to `counters`;
    /// nil (nothing appended) when the plan does not decide it and it must be prepared in full.
    ///
    /// Gives exactly what ``plannedRecord(_:key:plans:counters:)`` gives for the record's request.
    package func shapedRecord(_ shape: RecordShape, _ shapeNames: PlanNames, user: ShapedUser, tags: ShapedTags, _ numbers: borrowing ShapedNumbers,
                      at timestamp: Timestamp, clock span: inout LocalClock.Span, plans: PlanCache, tests: PlanTests,
                      counters: inout [ReplayCounter]) -> PlannedRecord? {
        let clock = LocalClock(timestamp, zone: policy.zone, span: &span)
        let cost = numbers.cost ?? policy.modelRates[Int(shapeNames.model)]?.cost(numbers.usage)
        let names = PlanNames(team: shapeNames.team, environment: shapeNames.environment, model: shapeNames.model,
                              region: shapeNames.region, tests: shapeNames.tests | user.tests | tags.tests,
                              flags: shapeNames.flags | user.flags | tags.flags)
        let key = planKey(names, usage: numbers.usage, cost: cost, hour: clock.hour, weekday: clock.weekday, timestamp: timestamp,
                          tests: tests)
        let known = shape.counters(key) {
            guard let plan = plans[key] else { return (false, nil) }
            guard plan.budgets != nil, plan.violations.isEmpty else { return (true, nil) }
            return (true, shapeCounters(shape, plan, plans: plans, tests: tests))
        }
        // Lent, not retained: the shape keeps its counters.
        guard let templates = known else { return nil }
        let amount = Amount(usd: cost?.nanos ?? 0, tokens: numbers.usage.totalTokens, requests: 1)
        let start = counters.count
        let complete = { () -> Bool in
            guard let first = templates.baseAddress else { return true }
            for position in templates.indices {
                let counter = first + position
                // The key is referred to, not retained: the plan cache, user or tag set keeps it.
                let key: Unmanaged<SharedKey>
                let keyHash: Int
                switch counter.pointee.source {
                case .fixed:
                    // The hash is the counter's own (reading it from the key object cost a cache miss).
                    key = Unmanaged.passUnretained(counter.pointee.key)
                    keyHash = counter.pointee.keyHash
                case .user:
                    guard let name = user.scopeKey else { return false }
                    key = Unmanaged.passUnretained(name)
                    keyHash = user.scopeHash
                case .tag:
                    guard let value = tags.scopeValues[counter.pointee.tag] else { return false }
                    key = Unmanaged.passUnretained(value)
                    keyHash = value.hash
                }
                // An unpriced request under a USD cap is a violation: assess it in full. (The caps
                // are not the counter's to carry: the replay reads them from the counter's slot.)
                if cost == nil {
                    let limits = counter.pointee.overrides
                        ? plans.limits(counter.pointee.budget, key: key.takeUnretainedValue().text, hash: keyHash, policy: policy)
                        : counter.pointee.limits
                    guard limits.usd == nil else { return false }
                }
                let window = clock.window(counter.pointee.period)
                counters.append(ReplayCounter(
                    amount: amount,
                    line: CounterKey.mix(budgetHash: counter.pointee.budgetHash, keyHash: keyHash, window: window),
                    window: window, key: key, budget: counter.pointee.budget, enforced: counter.pointee.enforced,
                    hasAlerts: counter.pointee.hasAlerts))
            }
            return true
        }()
        guard complete else {
            counters.removeSubrange(start...)
            return nil
        }
        return PlannedRecord(team: names.team, environment: names.environment, model: names.model, day: clock.day, cost: cost,
                             start: Int32(start), count: Int32(counters.count - start))
    }

    /// The counters of a shape's records under a clean plan: a budget's key is fixed by the
    /// names, or the record's user, or one of its tags.
    private func shapeCounters(_ shape: RecordShape, _ plan: AssessmentPlan, plans: PlanCache, tests: PlanTests) -> ShapeCounters {
        guard let budgets = plan.budgets else { return ShapeCounters(counters: nil) }
        let resolved = resolve(shape.template, now: Timestamp(nanoseconds: 0))
        let candidate = plannedCandidate(resolved, plan)
        var made: [ShapeCounters.Counter] = []
        let complete = budgets.withUnsafeBufferPointer { budgets -> Bool in
            guard let first = budgets.baseAddress else { return true }
            for position in budgets.indices {
                let planned = first + position
                let index = planned.pointee.index
                let head = policy.budgetHeads[Int(index)]
                var source = ShapeCounters.Counter.Source.fixed
                var tag = -1
                var fixed: (String, Int, BudgetLimits) = ("", 0, head.limits)
                if planned.pointee.fixedKey == nil, head.scope == .user {
                    source = .user
                } else if planned.pointee.fixedKey == nil, head.tagScope {
                    guard let offset = tests.scopeTags.firstIndex(of: policy.budgetTags[Int(index)]) else { return false }
                    (source, tag) = (.tag, offset)
                } else {
                    // Fixed by the names; a scope joining a user or tag to other parts finds none here.
                    guard let found = plannedScope(planned, head, resolved, candidate, plans: plans) else { return false }
                    fixed = found
                }
                made.append(ShapeCounters.Counter(
                    source: source, tag: tag, key: plans.sharedKey(fixed.0, hash: fixed.1), keyHash: fixed.1, limits: fixed.2,
                    overrides: source != .fixed && head.hasOverrides, budget: index, budgetHash: head.idHash, period: head.period,
                    enforced: planned.pointee.enforced, hasAlerts: head.hasAlerts))
            }
            return true
        }
        return ShapeCounters(counters: complete ? made : nil)
    }
}
