import PurserYAML
import PurserCore
/// How serious a violation is, for reports and alert routing.
public enum Severity: String, Sendable, Hashable, CaseIterable, Comparable {
    case info, low, medium, high, critical

    /// Least serious first.
    package var rank: Int {
        switch self {
        case .info: return 0
        case .low: return 1
        case .medium: return 2
        case .high: return 3
        case .critical: return 4
        }
    }

    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
}

/// What a rule does when it matches.
package enum RuleEffect: String, Sendable, Hashable, CaseIterable {
    case deny
    case warn
}

/// Whether a rule blocks (`enforce`) or is only reported (`audit`).
package enum Enforcement: String, Sendable, Hashable, CaseIterable {
    case enforce
    case audit
}

/// A custom rule (`rules[]`).
package struct RuleDefinition: Sendable, Hashable {
    /// The rule id, e.g. `dev-prompt-size`.
    package let id: String
    /// Why the rule exists.
    package let description: String?
    /// When the rule applies; nil means always.
    package let when: Condition?
    /// When the rule does not apply, even if `when` holds.
    package let unless: Condition?
    /// Deny or warn.
    package let effect: RuleEffect
    /// How serious a violation is.
    package let severity: Severity
    /// Enforce, or audit only.
    package let enforcement: Enforcement
    /// The message a violation carries.
    package let message: String?
    /// Where the rule is defined.
    package let location: SourceLocation
}

/// A time-limited waiver (`exceptions[]`).
package struct ExceptionDefinition: Sendable, Hashable {
    /// When an exception ends.
    package enum Expiry: Sendable, Hashable, CustomStringConvertible {
        /// Through the end of this day in the policy's time zone.
        case date(year: Int, month: Int, day: Int)
        /// At this instant.
        case instant(Timestamp)

        package var description: String {
            switch self {
            case .date(let year, let month, let day): return CivilDate(year: year, month: month, day: day).description
            case .instant(let timestamp): return timestamp.description
            }
        }
    }

    /// The exception id, e.g. `EXC-42`.
    package let id: String
    /// Rule ids, budget ids or built-in check ids it waives.
    package let waives: [Located<String>]
    /// Which requests it applies to; nil means all.
    package let when: Condition?
    /// When it ends.
    package let expires: Located<Expiry>
    /// Why it was granted (required reading for auditors).
    package let reason: String?
    /// Where it is defined.
    package let location: SourceLocation
}
