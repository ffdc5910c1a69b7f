/// Writes compact JSON into a byte buffer, handling commas and escaping.
///
/// ```swift
/// var json = JSONWriter()
/// json.object { json in
///     json.field("decision", "allow")
///     json.field("cost", raw: "0.0123")
/// }
/// ```
public struct JSONWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8] = []
    /// Whether the current container already has a member (so the next one needs a comma).
    private var hasMember: [Bool] = [false]

    /// An empty writer.
    public init() {
        bytes.reserveCapacity(512)
    }

    /// The output as a string.
    public var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Empties the buffer, keeping its capacity.
    public mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        hasMember = [false]
        afterKey = false
    }

    /// Whether the next value directly follows a key (so it takes no comma).
    private var afterKey = false

    @inline(__always)
    private mutating func separate() {
        if hasMember[hasMember.count - 1] { bytes.append(UInt8(ascii: ",")) }
        hasMember[hasMember.count - 1] = true
    }

    @inline(__always)
    private mutating func beginValue() {
        if afterKey {
            afterKey = false
        } else {
            separate()
        }
    }

    /// Writes `{ … }` around the members `body` writes.
    public mutating func object(_ body: (inout JSONWriter) -> Void) {
        beginValue()
        bytes.append(UInt8(ascii: "{"))
        hasMember.append(false)
        body(&self)
        hasMember.removeLast()
        bytes.append(UInt8(ascii: "}"))
    }

    /// Writes `[ … ]` around the elements `body` writes.
    public mutating func array(_ body: (inout JSONWriter) -> Void) {
        beginValue()
        bytes.append(UInt8(ascii: "["))
        hasMember.append(false)
        body(&self)
        hasMember.removeLast()
        bytes.append(UInt8(ascii: "]"))
    }

    /// Writes a key; the next value written is its value.
    public mutating func key(_ name: StaticString) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
        afterKey = true
    }

    /// Writes a key that is not a literal (escaped).
    public mutating func key(dynamic name: String) {
        separate()
        appendEscaped(name)
        bytes.append(UInt8(ascii: ":"))
        afterKey = true
    }

    /// Writes a string value.
    public mutating func string(_ value: String) {
        beginValue()
        appendEscaped(value)
    }

    /// Writes a value as raw JSON text (a number already formatted, `null`, …).
    public mutating func raw(_ text: String) {
        beginValue()
        bytes.append(contentsOf: text.utf8)
    }

    /// Writes an integer.
    public mutating func integer(_ value: Int64) {
        beginValue()
        appendInteger(value)
    }

    /// Writes a boolean.
    public mutating func bool(_ value: Bool) {
        raw(value ? "true" : "false")
    }

    /// Writes `null`.
    public mutating func null() {
        raw("null")
    }

    /// Writes an exact USD amount as a JSON number (`12`, `0.0123`), without building a string.
    public mutating func usd(_ value: USD) {
        beginValue()
        appendNanos(value.nanos)
    }

    /// Appends nano-units as the shortest exact decimal.
    @inline(__always)
    mutating func appendNanos(_ nanos: Int64) {
        if nanos < 0 { bytes.append(UInt8(ascii: "-")) }
        let magnitude = nanos.magnitude
        let whole = magnitude / 1_000_000_000
        var fraction = magnitude % 1_000_000_000
        appendInteger(Int64(whole))
        guard fraction != 0 else { return }
        bytes.append(UInt8(ascii: "."))
        var digits = 9
        while fraction % 10 == 0 {
            fraction /= 10
            digits -= 1
        }
        var divisor: UInt64 = 1
        for _ in 1..<digits { divisor *= 10 }
        while divisor > 0 {
            bytes.append(UInt8(fraction / divisor % 10) &+ 48)
            divisor /= 10
        }
    }

    /// Writes ASCII bytes as a string value (no escaping needed).
    mutating func asciiString(_ write: (inout [UInt8]) -> Void) {
        beginValue()
        bytes.append(UInt8(ascii: "\""))
        write(&bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    // Convenience fields.

    /// `"name": "value"`
    public mutating func field(_ name: StaticString, _ value: String) {
        key(name)
        string(value)
    }

    /// `"name": "value"` or `"name": null`
    public mutating func field(_ name: StaticString, _ value: String?) {
        key(name)
        if let value { string(value) } else { null() }
    }

    /// `"name": 12`
    public mutating func field(_ name: StaticString, _ value: Int64) {
        key(name)
        integer(value)
    }

    /// `"name": 12`
    public mutating func field(_ name: StaticString, _ value: Int) {
        key(name)
        integer(Int64(value))
    }

    /// `"name": true`
    public mutating func field(_ name: StaticString, _ value: Bool) {
        key(name)
        bool(value)
    }

    /// `"name": 0.0123` (exact)
    public mutating func field(_ name: StaticString, _ value: USD) {
        key(name)
        usd(value)
    }

    /// `"name": {…}`
    public mutating func field(_ name: StaticString, object body: (inout JSONWriter) -> Void) {
        key(name)
        object(body)
    }

    /// `"name": […]`
    public mutating func field(_ name: StaticString, array body: (inout JSONWriter) -> Void) {
        key(name)
        array(body)
    }

    /// Appends bytes verbatim, outside the JSON structure.
    mutating func appendRaw(_ raw: [UInt8]) {
        bytes.append(contentsOf: raw)
    }

    /// Appends a newline (for JSON Lines).
    public mutating func newline() {
        bytes.append(0x0A)
        hasMember = [false]
        afterKey = false
    }

    @inline(__always)
    mutating func appendInteger(_ value: Int64) {
        if value >= 0 && value < 10 {
            bytes.append(UInt8(truncatingIfNeeded: value) &+ 48)
            return
        }
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { raw in
            while magnitude > 0 {
                raw[count] = UInt8(magnitude % 10) &+ 48
                magnitude /= 10
                count += 1
            }
        }
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        withUnsafeBytes(of: &digits) { raw in
            var index = count - 1
            while index >= 0 {
                bytes.append(raw[index])
                index -= 1
            }
        }
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    @inline(__always)
    mutating func appendEscaped(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { utf8 in
            var start = 0
            for index in 0..<utf8.count {
                let byte = utf8[index]
                guard byte < 0x20 || byte == 0x22 || byte == 0x5C else { continue }
                if index > start { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<index])) }
                switch byte {
                case 0x22: bytes.append(contentsOf: [0x5C, 0x22])
                case 0x5C: bytes.append(contentsOf: [0x5C, 0x5C])
                case 0x0A: bytes.append(contentsOf: [0x5C, UInt8(ascii: "n")])
                case 0x0D: bytes.append(contentsOf: [0x5C, UInt8(ascii: "r")])
                case 0x09: bytes.append(contentsOf: [0x5C, UInt8(ascii: "t")])
                default:
                    bytes.append(contentsOf: [0x5C, UInt8(ascii: "u"), 48, 48, JSONWriter.hex[Int(byte >> 4)], JSONWriter.hex[Int(byte & 15)]])
                }
                start = index + 1
            }
            if start < utf8.count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...])) }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
