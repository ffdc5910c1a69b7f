import PurserCore

/// When an exception ends, as an instant.
package enum ExceptionExpiry {
    /// A date runs through its end in the policy's zone; an instant is itself.
    package static func end(of expiry: ExceptionDefinition.Expiry, in zone: ZoneRules) -> Timestamp {
        switch expiry {
        case .instant(let instant):
            return instant
        case .date(let year, let month, let day):
            let nextDay = CivilDate.daysFromCivil(year: year, month: month, day: day) + 1
            return Timestamp(seconds: zone.utc(fromLocal: Int64(nextDay) * 86_400))
        }
    }
}
