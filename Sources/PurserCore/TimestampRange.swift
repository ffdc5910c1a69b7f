/// Telling a time that is well formed but outside the years Purser represents (1970…2261)
/// from one that is not a time at all, so messages say "out of range" (docs/policy-language.md).
extension Timestamp {
    /// The times Purser represents, as messages show them.
    package static let supportedRange = "1970-01-01T00:00:00Z..2261-12-31T23:59:59Z"

    /// Whether `text` is an RFC 3339 time or a date whose only fault is its year.
    package static func isOutOfRange(_ text: some StringProtocol) -> Bool {
        let utf8 = Array(text.utf8.prefix(64))
        guard utf8.count >= 10, utf8[0..<4].allSatisfy({ $0 &- 48 < 10 }), utf8[4] == UInt8(ascii: "-") else { return false }
        // Year 2000 is a leap year, so 29 February stays valid.
        let moved = "2000" + String(decoding: utf8[4...], as: UTF8.self)
        return Timestamp(rfc3339: moved) != nil || CivilDate(moved) != nil
    }
}
