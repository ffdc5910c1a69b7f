import PurserCore

extension DiagnosticCode {
    /// An exception's `expires` has passed; it waives nothing any more and should be removed or renewed.
    package static let expiredException = ExpiredException.code
}

/// `expired-exception`: an exception whose end (``ExceptionExpiry``) is at or before now.
package enum ExpiredException: PolicySetRule {
    package static let description = RuleDescription(
        id: "expired-exception", stage: .meaning,
        summary: "An exception's `expires` has passed; it waives nothing any more and should be removed or renewed.",
        triggering: [.policy(CheckCatalog.base + "exceptions:\n  - {id: EXC-1, waives: [environment-model], expires: 2026-01-31, reason: pilot}\n")],
        nonTriggering: [.policy(CheckCatalog.base + "exceptions:\n  - {id: EXC-1, waives: [environment-model], expires: 2027-06-30, reason: pilot}\n")])

    package static func validate(_ context: inout ValidationContext) {
        for exception in context.policy.exceptions
        where ExceptionExpiry.end(of: exception.expires.value, in: context.zone) <= context.now {
            context.report(finding("exception \"\(exception.id)\" expired on \(exception.expires.value); remove it or renew it with a new date"), at: exception.expires.location)
        }
    }
}
