import Foundation

/// A time zone's UTC offsets as a table of transitions, so that converting
/// an instant to local calendar time is a binary search and integer maths,
/// not a Foundation calendar call.
@usableFromInline package final class ZoneRules: @unchecked Sendable {
    // `@unchecked` for the raw buffers (not Sendable): they are written in init only and freed
    // in deinit, so any thread may read them while the zone lives. Raw buffers, not arrays:
    // reading a class's array retains it, and every record's local time reads them.
    /// The IANA identifier.
    @usableFromInline package let identifier: String
    /// UTC seconds at which a new offset takes effect, ascending.
    @usableFromInline package let transitions: UnsafeBufferPointer<Int64>
    /// `offsets[i]` is in effect before `transitions[i]`; the last one after all.
    @usableFromInline package let offsets: UnsafeBufferPointer<Int32>

    /// The zone table for 1970–2200, or nil for an unknown identifier.
    @usableFromInline package init?(identifier: String) {
        guard let zone = TimeZone(identifier: identifier) else { return nil }
        self.identifier = identifier
        var transitions: [Int64] = []
        var offsets: [Int32] = []
        var date = Date(timeIntervalSince1970: 0)
        var current = Int32(zone.secondsFromGMT(for: date))
        let end = Date(timeIntervalSince1970: 7_258_118_400)  // 2200-01-01
        while let next = zone.nextDaylightSavingTimeTransition(after: date), next < end {
            let offset = Int32(zone.secondsFromGMT(for: next))
            if offset != current {
                transitions.append(Int64(next.timeIntervalSince1970.rounded()))
                offsets.append(current)
                current = offset
            }
            date = next
        }
        offsets.append(current)
        self.transitions = Self.buffer(transitions)
        self.offsets = Self.buffer(offsets)
    }

    deinit {
        transitions.deallocate()
        offsets.deallocate()
    }

    @usableFromInline package static func buffer<Element>(_ elements: [Element]) -> UnsafeBufferPointer<Element> {
        let buffer = UnsafeMutableBufferPointer<Element>.allocate(capacity: elements.count)
        _ = buffer.initialize(from: elements)
        return UnsafeBufferPointer(buffer)
    }

    /// UTC, with no transitions.
    @usableFromInline package static let utc = ZoneRules(fixed: "UTC")

    @usableFromInline package init(fixed identifier: String) {
        self.identifier = identifier
        self.transitions = Self.buffer([])
        self.offsets = Self.buffer([0])
    }

    /// The offset from UTC in seconds at an instant.
    @inline(__always)
    @inlinable package func offset(atUTC seconds: Int64) -> Int64 {
        if transitions.isEmpty { return Int64(offsets[0]) }
        var low = 0
        var high = transitions.count
        while low < high {
            let mid = (low + high) >> 1
            if transitions[mid] <= seconds { low = mid + 1 } else { high = mid }
        }
        return Int64(offsets[low])
    }

    /// The offset from UTC at an instant, and the instants between which it holds (from the
    /// transition before, inclusive, to the next one, exclusive; unbounded where there is none).
    @inline(__always)
    @inlinable package func offsetSpan(atUTC seconds: Int64) -> (offset: Int64, from: Int64, until: Int64) {
        if transitions.isEmpty { return (Int64(offsets[0]), .min, .max) }
        var low = 0
        var high = transitions.count
        while low < high {
            let mid = (low + high) >> 1
            if transitions[mid] <= seconds { low = mid + 1 } else { high = mid }
        }
        return (Int64(offsets[low]), low > 0 ? transitions[low - 1] : .min, low < transitions.count ? transitions[low] : .max)
    }

    /// Local wall-clock seconds since 1970-01-01T00:00 (local) at an instant.
    @inline(__always)
    @inlinable package func local(_ utcSeconds: Int64) -> Int64 {
        utcSeconds + offset(atUTC: utcSeconds)
    }

    /// The first instant whose local wall-clock time is at or after `localSeconds`
    /// (a time skipped by a DST gap maps to the end of the gap).
    @usableFromInline package func utc(fromLocal localSeconds: Int64) -> Int64 {
        // Try each offset in effect near the time; keep the earliest consistent one.
        var best: Int64?
        let candidates = Set([offset(atUTC: localSeconds - 86_400), offset(atUTC: localSeconds), offset(atUTC: localSeconds + 86_400)])
        for candidate in candidates {
            let utc = localSeconds - candidate
            if offset(atUTC: utc) == candidate, best.map({ utc < $0 }) ?? true { best = utc }
        }
        if let best { return best }
        // In a gap (clocks jumped forward past this time): the instant of the jump.
        var low = 0
        var high = transitions.count
        let earliest = localSeconds - 2 * 86_400
        while low < high {
            let mid = (low + high) >> 1
            if transitions[mid] < earliest { low = mid + 1 } else { high = mid }
        }
        while low < transitions.count, transitions[low] <= localSeconds + 2 * 86_400 {
            let before = Int64(offsets[low])
            let after = Int64(offsets[low + 1])
            let instant = transitions[low]
            if after > before, instant + before <= localSeconds, localSeconds < instant + after { return instant }
            low += 1
        }
        return localSeconds - offset(atUTC: localSeconds)
    }
}
