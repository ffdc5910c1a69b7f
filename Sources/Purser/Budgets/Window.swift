import PurserCore
import PurserPolicy
/// Calendar windows of budget periods in a policy's time zone.
///
/// A window is identified by an integer index per period (months since
/// year 0, ISO weeks since 1970, local days since 1970…), so a counter key
/// never needs a string and nothing ever "resets": a new window is a new key.
@usableFromInline package enum CalendarWindow {
    /// The window index of an instant for a period.
    @inline(__always)
    package static func index(of seconds: Int64, period: BudgetPeriod, zone: ZoneRules) -> Int64 {
        let local = zone.local(seconds)
        return index(local: local, period: period)
    }

    /// The window index of a local wall-clock time (seconds since local 1970-01-01T00:00).
    @inline(__always)
    @usableFromInline package static func index(local: Int64, period: BudgetPeriod) -> Int64 {
        switch period {
        case .minute: return floorDiv(local, 60)
        case .hour: return floorDiv(local, 3600)
        case .day: return floorDiv(local, 86_400)
        case .week: return floorDiv(floorDiv(local, 86_400) + 3, 7)  // 1970-01-01 was a Thursday
        case .month, .quarter, .year:
            let date = CivilDate(days: Int(floorDiv(local, 86_400)))
            switch period {
            case .month: return Int64(date.year * 12 + date.month - 1)
            case .quarter: return Int64(date.year * 4 + (date.month - 1) / 3)
            default: return Int64(date.year)
            }
        }
    }

    @inline(__always)
    package static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    /// The label of a window (docs/wire-formats.md, "Budgets"): `2026`, `2026-Q4`, `2026-11`, `2026-W47`,
    /// `2026-11-22`, `2026-11-22T10`, `2026-11-22T10:05`.
    package static func label(_ index: Int64, period: BudgetPeriod) -> String {
        switch period {
        case .year: return pad(Int(index), width: 4)
        case .quarter: return pad(Int(floorDiv(index, 4)), width: 4) + "-Q" + String(Int(index - floorDiv(index, 4) * 4) + 1)
        case .month: return pad(Int(floorDiv(index, 12)), width: 4) + "-" + pad(Int(index - floorDiv(index, 12) * 12) + 1)
        case .week:
            // The ISO week-numbering year is the year of the week's Thursday.
            let monday = index * 7 - 3
            let thursday = CivilDate(days: Int(monday + 3))
            let firstThursday = firstISOThursday(of: thursday.year)
            let week = (Int(monday + 3) - firstThursday) / 7 + 1
            return pad(thursday.year, width: 4) + "-W" + pad(week)
        case .day: return CivilDate(days: Int(index)).description
        case .hour:
            let day = floorDiv(index, 24)
            return CivilDate(days: Int(day)).text(hour: Int(index - day * 24))
        case .minute:
            let day = floorDiv(index, 1440)
            let minute = Int(index - day * 1440)
            return CivilDate(days: Int(day)).description + "T" + pad(minute / 60) + ":" + pad(minute % 60)
        }
    }

    /// Days since 1970 of the first Thursday of a year.
    private static func firstISOThursday(of year: Int) -> Int {
        let january1 = CivilDate.daysFromCivil(year: year, month: 1, day: 1)
        // 1970-01-01 (day 0) was a Thursday: weekday 0 = Thursday.
        let offset = ((january1 % 7) + 7) % 7
        return offset == 0 ? january1 : january1 + (7 - offset)
    }

    /// The local start of a window, as local seconds since 1970.
    package static func localStart(_ index: Int64, period: BudgetPeriod) -> Int64 {
        switch period {
        case .minute: return index * 60
        case .hour: return index * 3600
        case .day: return index * 86_400
        case .week: return (index * 7 - 3) * 86_400
        case .month:
            return Int64(CivilDate.daysFromCivil(year: Int(floorDiv(index, 12)), month: Int(index - floorDiv(index, 12) * 12) + 1, day: 1)) * 86_400
        case .quarter:
            return Int64(CivilDate.daysFromCivil(year: Int(floorDiv(index, 4)), month: Int(index - floorDiv(index, 4) * 4) * 3 + 1, day: 1)) * 86_400
        case .year:
            return Int64(CivilDate.daysFromCivil(year: Int(index), month: 1, day: 1)) * 86_400
        }
    }

    /// Parses a label back into a window index (for `spend:` seeding and ledgers).
    package static func index(label: String, period: BudgetPeriod) -> Int64? {
        for candidate in candidates(near: label, period: period) where CalendarWindow.label(candidate, period: period) == label {
            return candidate
        }
        return nil
    }

    private static func candidates(near label: String, period: BudgetPeriod) -> [Int64] {
        let bytes = Array(label.utf8)
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= bytes.count else { return nil }
            var value = 0
            for index in range {
                let digit = Int(bytes[index]) - 48
                guard (0...9).contains(digit) else { return nil }
                value = value * 10 + digit
            }
            return value
        }
        guard let year = number(0..<4) else { return [] }
        switch period {
        case .year: return [Int64(year)]
        case .quarter: return number(6..<7).map { [Int64(year * 4 + $0 - 1)] } ?? []
        case .month: return number(5..<7).map { [Int64(year * 12 + $0 - 1)] } ?? []
        case .week:
            guard let week = number(6..<8) else { return [] }
            let base = Int64(floorDiv(Int64(firstISOThursday(of: year)) - 3 + 3, 7))
            return [base + Int64(week) - 1, base + Int64(week) - 2, base + Int64(week)]
        case .day, .hour, .minute:
            guard let month = number(5..<7), let day = number(8..<10), (1...12).contains(month), (1...31).contains(day) else { return [] }
            let days = Int64(CivilDate.daysFromCivil(year: year, month: month, day: day))
            if period == .day { return [days] }
            guard let hour = number(11..<13) else { return [] }
            if period == .hour { return [days * 24 + Int64(hour)] }
            guard let minute = number(14..<16) else { return [] }
            return [days * 1440 + Int64(hour) * 60 + Int64(minute)]
        }
    }
}
