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
public enum RuleEffect: String, Sendable, Hashable, CaseIterable {
    case deny
    case warn
}

/// Whether a rule blocks (`enforce`) or is only reported (`audit`).
public enum Enforcement: String, Sendable, Hashable, CaseIterable {
    case enforce
    case audit
}

/// A custom rule (`rules[]`).
public struct RuleDefinition: Sendable, Hashable {
    /// The rule id, e.g. `dev-prompt-size`.
    public let id: String
    /// Why the rule exists.
    public let description: String?
    /// When the rule applies; nil means always.
    public let when: Condition?
    /// When the rule does not apply, even if `when` holds.
    public let unless: Condition?
    /// Deny or warn.
    public let effect: RuleEffect
    /// How serious a violation is.
    public let severity: Severity
    /// Enforce, or audit only.
    public let enforcement: Enforcement
    /// The message a violation carries.
    public let message: String?
    /// Where the rule is defined.
    public let location: SourceLocation
}

/// A time-limited waiver (`exceptions[]`).
public struct ExceptionDefinition: Sendable, Hashable {
    /// When an exception ends.
    public enum Expiry: Sendable, Hashable, CustomStringConvertible {
        /// Through the end of this day in the policy's time zone.
        case date(year: Int, month: Int, day: Int)
        /// At this instant.
        case instant(Timestamp)

        public var description: String {
            switch self {
            case .date(let year, let month, let day): return CivilDate(year: year, month: month, day: day).description
            case .instant(let timestamp): return timestamp.description
            }
        }
    }

    /// The exception id, e.g. `EXC-42`.
    public let id: String
    /// Rule ids, budget ids or built-in check ids it waives.
    public let waives: [Located<String>]
    /// Which requests it applies to; nil means all.
    public let when: Condition?
    /// When it ends.
    public let expires: Located<Expiry>
    /// Why it was granted (required reading for auditors).
    public let reason: String?
    /// Where it is defined.
    public let location: SourceLocation
}
