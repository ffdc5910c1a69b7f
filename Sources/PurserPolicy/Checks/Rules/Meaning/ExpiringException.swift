import PurserCore

extension DiagnosticCode {
    /// An exception expires within 14 days.
    package static let expiringException = ExpiringException.code
}

/// `expiring-exception`: an exception that has not expired but will within
/// `PolicyLoadOptions.expiryWarningDays` (14).
package enum ExpiringException: PolicySetRule {
    package static let description = RuleDescription(
        id: "expiring-exception", severity: .warning, stage: .meaning,
        summary: "An exception expires within 14 days.",
        triggering: [.policy(CheckCatalog.base + "exceptions:\n  - {id: EXC-1, waives: [environment-model], expires: 2026-11-30, reason: pilot}\n")],
        nonTriggering: [.policy(CheckCatalog.base + "exceptions:\n  - {id: EXC-1, waives: [environment-model], expires: 2027-06-30, reason: pilot}\n")])

    package static func validate(_ context: inout ValidationContext) {
        let now = context.now
        for exception in context.policy.exceptions {
            let end = ExceptionExpiry.end(of: exception.expires.value, in: context.zone)
            guard end > now,
                  end.nanoseconds - now.nanoseconds <= Int64(context.options.expiryWarningDays) * 86_400 * 1_000_000_000
            else { continue }
            let days = (end.nanoseconds - now.nanoseconds) / (86_400 * 1_000_000_000)
            let when = days == 0 ? "within a day" : "in \(days) day\(days == 1 ? "" : "s")"
            context.report(finding("exception \"\(exception.id)\" expires \(when) (\(exception.expires.value)); renew it or plan for it to end"), at: exception.expires.location)
        }
    }
}
