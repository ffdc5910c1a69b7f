/// Writes compact JSON into a byte buffer, handling commas and escaping.
///
/// ```swift
/// var json = JSONWriter()
/// json.object { json in
///     json.field("decision", "allow")
///     json.field("cost", raw: "0.0123")
/// }
/// ```
@usableFromInline package final class JSONWriter {
    /// The writer's state, behind a pointer the writer owns (allocated in `init`, freed in
    /// `deinit`, never shared). Its methods are inlined into the modules that write JSON
    /// (the engine's decisions, the audit's reports); a stored `var` of a class accessed from
    /// another module pays a dynamic exclusivity check on every access, state behind a
    /// pointer does not. A writer is used by one thread at a time, as before.
    @usableFromInline
    struct State {
        /// The output buffer: written directly, grown by doubling.
        @usableFromInline var base: UnsafeMutablePointer<UInt8>
        @usableFromInline var used = 0
        @usableFromInline var capacity: Int
        /// One bit per open container: whether it already has a member (so the next one needs a comma).
        @usableFromInline var members: UInt64 = 0
        @usableFromInline var depth = 0
        /// Whether the next value directly follows a key (so it takes no comma).
        @usableFromInline var afterKey = false
    }

    @usableFromInline let state: UnsafeMutablePointer<State>

    @inlinable var base: UnsafeMutablePointer<UInt8> {
        get { state.pointee.base }
        set { state.pointee.base = newValue }
    }
    @inlinable var used: Int {
        get { state.pointee.used }
        set { state.pointee.used = newValue }
    }
    @inlinable var capacity: Int {
        get { state.pointee.capacity }
        set { state.pointee.capacity = newValue }
    }
    @inlinable var members: UInt64 {
        get { state.pointee.members }
        set { state.pointee.members = newValue }
    }
    @inlinable var depth: Int {
        get { state.pointee.depth }
        set { state.pointee.depth = newValue }
    }
    @inlinable var afterKey: Bool {
        get { state.pointee.afterKey }
        set { state.pointee.afterKey = newValue }
    }

    /// An empty writer.
    @usableFromInline package init(capacity: Int = 4096) {
        let capacity = max(64, capacity)
        state = UnsafeMutablePointer<State>.allocate(capacity: 1)
        state.initialize(to: State(base: UnsafeMutablePointer<UInt8>.allocate(capacity: capacity), capacity: capacity))
    }

    deinit {
        state.pointee.base.deallocate()
        state.deinitialize(count: 1)
        state.deallocate()
    }

    /// The bytes written so far (a copy).
    @usableFromInline package var bytes: [UInt8] { Array(UnsafeBufferPointer(start: base, count: used)) }

    /// The number of bytes written.
    @usableFromInline package var count: Int { used }

    /// Calls `body` with the bytes written so far, without copying them.
    @usableFromInline package func withBytes<Result>(_ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        try body(UnsafeBufferPointer(start: base, count: used))
    }

    /// The output as a string.
    @usableFromInline package var text: String { String(decoding: UnsafeBufferPointer(start: base, count: used), as: UTF8.self) }

    /// Empties the buffer, keeping its capacity.
    @usableFromInline package func reset() {
        used = 0
        members = 0
        depth = 0
        afterKey = false
    }

    /// Makes room for `extra` more bytes.
    @inline(__always)
    @inlinable package func reserve(_ extra: Int) {
        if used &+ extra > capacity { grow(used &+ extra) }
    }

    @usableFromInline package func grow(_ needed: Int) {
        var size = capacity
        while size < needed { size *= 2 }
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: size)
        bigger.update(from: base, count: used)
        base.deallocate()
        base = bigger
        capacity = size
    }

    /// Appends one byte (room must have been reserved).
    @inlinable @inline(__always)
    package func put(_ byte: UInt8) {
        base[used] = byte
        used &+= 1
    }

    /// Appends one byte.
    @inline(__always)
    @inlinable package func append(_ byte: UInt8) {
        reserve(1)
        put(byte)
    }

    /// Appends bytes.
    @inlinable package func append(_ raw: UnsafeBufferPointer<UInt8>) {
        guard let source = raw.baseAddress, raw.count > 0 else { return }
        reserve(raw.count)
        (base + used).update(from: source, count: raw.count)
        used &+= raw.count
    }

    @inlinable @inline(__always)
    package func separate() {
        let bit: UInt64 = 1 << UInt64(depth & 63)
        if members & bit != 0 { append(UInt8(ascii: ",")) }
        members |= bit
    }

    @inlinable @inline(__always)
    package func beginValue() {
        if afterKey {
            afterKey = false
        } else {
            separate()
        }
    }

    /// Writes `{ … }` around the members `body` writes.
    @inlinable package func object(_ body: (inout JSONWriter) -> Void) {
        beginValue()
        append(UInt8(ascii: "{"))
        open()
        var writer = self
        body(&writer)
        close()
        append(UInt8(ascii: "}"))
    }

    /// Writes `[ … ]` around the elements `body` writes.
    @inlinable package func array(_ body: (inout JSONWriter) -> Void) {
        beginValue()
        append(UInt8(ascii: "["))
        open()
        var writer = self
        body(&writer)
        close()
        append(UInt8(ascii: "]"))
    }

    @inlinable @inline(__always)
    package func open() {
        depth &+= 1
        members &= ~(1 << UInt64(depth & 63))
    }

    @inlinable @inline(__always)
    package func close() {
        depth &-= 1
    }

    /// Writes a key; the next value written is its value.
    @inline(__always)
    @inlinable package func key(_ name: StaticString) {
        separate()
        let count = name.utf8CodeUnitCount
        reserve(count &+ 3)
        put(UInt8(ascii: "\""))
        (base + used).update(from: name.utf8Start, count: count)
        used &+= count
        put(UInt8(ascii: "\""))
        put(UInt8(ascii: ":"))
        afterKey = true
    }

    /// Appends a literal's bytes.
    @inline(__always)
    @inlinable package func appendStatic(_ text: StaticString) {
        append(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Writes a key that is not a literal (escaped).
    @inlinable package func key(dynamic name: String) {
        separate()
        appendEscaped(name)
        append(UInt8(ascii: ":"))
        afterKey = true
    }

    /// Writes a string value.
    @inlinable package func string(_ value: String) {
        beginValue()
        appendEscaped(value)
    }

    /// Writes a value as raw JSON text (a number already formatted, `null`, …).
    @inlinable package func raw(_ text: String) {
        beginValue()
        var text = text
        text.withUTF8 { append($0) }
    }

    /// Writes an integer.
    @inlinable package func integer(_ value: Int64) {
        beginValue()
        appendInteger(value)
    }

    /// Writes a boolean.
    @inlinable package func bool(_ value: Bool) {
        beginValue()
        if value { appendStatic("true") } else { appendStatic("false") }
    }

    /// Writes `null`.
    @inlinable package func null() {
        beginValue()
        appendStatic("null")
    }

    /// Writes an exact USD amount as a JSON number (`12`, `0.0123`), without building a string.
    @inlinable package func usd(_ value: USD) {
        beginValue()
        appendNanos(value.nanos)
    }

    /// Writes an exact total as a JSON number; totals past one amount's range keep every digit.
    @inlinable package func usd(_ value: USDTotal) {
        if let amount = value.amount {
            usd(amount)
        } else {
            raw(value.description)
        }
    }

    /// Appends nano-units as the shortest exact decimal.
    @inline(__always)
    @inlinable package func appendNanos(_ nanos: Int64) {
        reserve(32)
        if nanos < 0 { put(UInt8(ascii: "-")) }
        let magnitude = nanos.magnitude
        var fraction = magnitude % 1_000_000_000
        putDigits(magnitude / 1_000_000_000)
        guard fraction != 0 else { return }
        put(UInt8(ascii: "."))
        var digits = 9
        while fraction % 10 == 0 {
            fraction /= 10
            digits -= 1
        }
        var divisor: UInt64 = 1
        for _ in 1..<digits { divisor &*= 10 }
        while divisor > 0 {
            put(UInt8(truncatingIfNeeded: fraction / divisor % 10) &+ 48)
            divisor /= 10
        }
    }

    /// Appends the decimal digits of a value (room must have been reserved: 20 bytes).
    @inlinable @inline(__always)
    package func putDigits(_ value: UInt64) {
        if value < 10 {
            put(UInt8(truncatingIfNeeded: value) &+ 48)
            return
        }
        var remaining = value
        var count = 0
        var probe = value
        while probe > 0 {
            count &+= 1
            probe /= 10
        }
        var position = used &+ count &- 1
        while remaining > 0 {
            base[position] = UInt8(truncatingIfNeeded: remaining % 10) &+ 48
            remaining /= 10
            position &-= 1
        }
        used &+= count
    }

    /// Starts a value that the caller writes as raw bytes (handles the comma before it).
    @inline(__always)
    @inlinable package func beginRawValue() {
        beginValue()
    }

    /// Appends `"text"` or `null`.
    @inline(__always)
    @inlinable package func appendOptionalString(_ text: String?) {
        if let text { appendEscaped(text) } else { appendStatic("null") }
    }

    /// Appends ASCII text as is (enum raw values, numbers already formatted).
    @inline(__always)
    @inlinable package func appendASCII(_ text: String) {
        var text = text
        text.withUTF8 { append($0) }
    }

    // Convenience fields.

    /// `"name": "value"`
    @inlinable package func field(_ name: StaticString, _ value: String) {
        key(name)
        string(value)
    }

    /// `"name": "value"` or `"name": null`
    @inlinable package func field(_ name: StaticString, _ value: String?) {
        key(name)
        if let value { string(value) } else { null() }
    }

    /// `"name": 12`
    @inlinable package func field(_ name: StaticString, _ value: Int64) {
        key(name)
        integer(value)
    }

    /// `"name": 12`
    @inlinable package func field(_ name: StaticString, _ value: Int) {
        key(name)
        integer(Int64(value))
    }

    /// `"name": true`
    @inlinable package func field(_ name: StaticString, _ value: Bool) {
        key(name)
        bool(value)
    }

    /// `"name": 0.0123` (exact)
    @inlinable package func field(_ name: StaticString, _ value: USD) {
        key(name)
        usd(value)
    }

    /// `"name": 18000000000.5` (exact, for totals)
    @inlinable package func field(_ name: StaticString, _ value: USDTotal) {
        key(name)
        usd(value)
    }

    /// `"name": {…}`
    @inlinable package func field(_ name: StaticString, object body: (inout JSONWriter) -> Void) {
        key(name)
        object(body)
    }

    /// `"name": […]`
    @inlinable package func field(_ name: StaticString, array body: (inout JSONWriter) -> Void) {
        key(name)
        array(body)
    }

    /// Appends bytes verbatim, outside the JSON structure.
    @usableFromInline package func appendRaw(_ raw: [UInt8]) {
        raw.withUnsafeBufferPointer { append($0) }
    }

    /// Appends a newline (for JSON Lines).
    @inlinable package func newline() {
        append(0x0A)
        members = 0
        depth = 0
        afterKey = false
    }

    /// `"name": "2026-11-01T04:00:00.64Z"`, formatted in place.
    @usableFromInline package func field(_ name: StaticString, timestamp: Timestamp) {
        key(name)
        beginValue()
        reserve(Timestamp.maxTextBytes &+ 2)
        put(UInt8(ascii: "\""))
        used &+= timestamp.format(into: base + used)
        put(UInt8(ascii: "\""))
    }

    /// `"name": "file:line"` (or `"file:line:column"`), without building the text first.
    @inlinable package func field(_ name: StaticString, file: String, line: Int, column: Int? = nil) {
        key(name)
        beginValue()
        appendEscaped(file)
        used &-= 1  // reopen the string after the file name
        reserve(44)
        put(UInt8(ascii: ":"))
        putDigits(UInt64(max(0, line)))
        if let column {
            put(UInt8(ascii: ":"))
            putDigits(UInt64(max(0, column)))
        }
        put(UInt8(ascii: "\""))
    }

    @inline(__always)
    @inlinable package func appendInteger(_ value: Int64) {
        reserve(21)
        if value < 0 { put(UInt8(ascii: "-")) }
        putDigits(value.magnitude)
    }

    @inline(__always)
    @inlinable package func appendEscaped(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            reserve(utf8.count &+ 2)
            put(UInt8(ascii: "\""))
            var start = 0
            var index = 0
            while index < utf8.count {
                // Eight bytes at a time while none needs escaping (see `JSONScanner.specialBytes`).
                if index &+ 8 <= utf8.count, let base = utf8.baseAddress {
                    let word = UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
                    let mask = JSONScanner.specialBytes(word.littleEndian)
                    if mask == 0 {
                        index &+= 8
                        continue
                    }
                    index &+= mask.trailingZeroBitCount &>> 3
                }
                let byte = utf8[index]
                guard byte < 0x20 || byte == 0x22 || byte == 0x5C else {
                    index &+= 1
                    continue
                }
                if index > start { append(UnsafeBufferPointer(rebasing: utf8[start..<index])) }
                reserve(7)
                put(0x5C)
                switch byte {
                case 0x22: put(0x22)
                case 0x5C: put(0x5C)
                case 0x0A: put(UInt8(ascii: "n"))
                case 0x0D: put(UInt8(ascii: "r"))
                case 0x09: put(UInt8(ascii: "t"))
                default:
                    put(UInt8(ascii: "u"))
                    put(48)
                    put(48)
                    put(JSONWriter.hexDigit(byte >> 4))
                    put(JSONWriter.hexDigit(byte & 15))
                }
                start = index + 1
                index &+= 1
            }
            if start < utf8.count { append(UnsafeBufferPointer(rebasing: utf8[start...])) }
            append(UInt8(ascii: "\""))
        }
    }

    @inline(__always)
    @inlinable package static func hexDigit(_ value: UInt8) -> UInt8 { value < 10 ? 48 + value : 87 + value }
}
