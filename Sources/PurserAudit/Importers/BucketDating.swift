import Purser

/// When a bucket of aggregated usage counts: the instant an OpenAI usage or
/// costs bucket, or a FOCUS row, from `start` to `end` is replayed at
/// (docs/importers.md, "Buckets: the day they count on").
///
/// - A bucket shorter than a day (an hour, a minute) counts at its midpoint:
///   in the local day that holds most of it.
/// - A bucket of a day or more counts on the date it starts, at noon of that
///   date in the policy's time zone. The date is the local one when the bucket
///   starts at midnight in the policy's zone (an export made in that zone), else
///   the UTC one (OpenAI, Azure and AWS date their rows in UTC). So a whole
///   day's usage stays on the day its provider dates it, and a month's first
///   day in the month, whatever the zone; placing it at its UTC start would move
///   it to the previous local day west of UTC.
/// - A bucket without an end, or whose end is not after its start, counts at its start.
package struct BucketDating: Sendable {
    /// The policy's time zone.
    package let zone: ZoneRules

    package init(zone: ZoneRules) {
        self.zone = zone
    }

    /// Dating in UTC (a policy without `settings.timezone`).
    package static let utc = BucketDating(zone: .utc)

    private static let nanosPerSecond: Int64 = 1_000_000_000
    private static let day: Int64 = 86_400

    /// The instant a bucket from `start` to `end` counts at.
    package func instant(start: Timestamp, end: Timestamp?) -> Timestamp {
        guard let width = Self.width(start: start, end: end) else { return start }
        if width < Self.day * Self.nanosPerSecond {
            return Timestamp(nanoseconds: start.nanoseconds + width / 2)
        }
        let seconds = start.seconds
        let local = zone.local(seconds)
        let startsAtLocalMidnight = start.nanoseconds % Self.nanosPerSecond == 0 && Self.floorMod(local, Self.day) == 0
        let date = Self.floorDiv(startsAtLocalMidnight ? local : seconds, Self.day)
        return Timestamp(seconds: zone.utc(fromLocal: date * Self.day + Self.day / 2))
    }

    /// How long a bucket is, in nanoseconds; nil without an end after its start.
    package static func width(start: Timestamp, end: Timestamp?) -> Int64? {
        guard let end, end > start else { return nil }
        let (width, overflow) = end.nanoseconds.subtractingReportingOverflow(start.nanoseconds)
        return overflow ? nil : width
    }

    private static func floorDiv(_ value: Int64, _ divisor: Int64) -> Int64 {
        value >= 0 ? value / divisor : -((-value - 1) / divisor) - 1
    }

    private static func floorMod(_ value: Int64, _ divisor: Int64) -> Int64 {
        value - floorDiv(value, divisor) * divisor
    }
}
