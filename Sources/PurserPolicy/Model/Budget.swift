import PurserYAML
import PurserCore
/// A calendar period budget windows follow, in the policy's time zone.
public enum BudgetPeriod: String, Sendable, Hashable, CaseIterable, Comparable {
    case minute, hour, day, week, month, quarter, year

    /// Shortest first.
    package var rank: Int {
        switch self {
        case .minute: return 0
        case .hour: return 1
        case .day: return 2
        case .week: return 3
        case .month: return 4
        case .quarter: return 5
        case .year: return 6
        }
    }

    public static func < (lhs: BudgetPeriod, rhs: BudgetPeriod) -> Bool { lhs.rank < rhs.rank }
}

/// One part of a budget's scope: what its counters are kept per.
package enum ScopePart: Sendable, Hashable, CustomStringConvertible {
    case org, team, environment, user, model, provider
    /// `tag:KEY`: one counter per value of the request tag KEY.
    case tag(String)

    /// Parses `team`, `tag:project`, …
    package init?(_ text: String) {
        switch text {
        case "org": self = .org
        case "team": self = .team
        case "environment": self = .environment
        case "user": self = .user
        case "model": self = .model
        case "provider": self = .provider
        default:
            guard text.hasPrefix("tag:"), text.count > 4 else { return nil }
            self = .tag(String(text.dropFirst(4)))
        }
    }

    /// The tag key of `tag:KEY`, else nil.
    package var tagKey: String? {
        if case .tag(let key) = self { return key }
        return nil
    }

    /// The names `scope` accepts, for messages.
    package static let names = ["org", "team", "environment", "user", "model", "provider", "tag:KEY"]

    package var description: String {
        switch self {
        case .org: return "org"
        case .team: return "team"
        case .environment: return "environment"
        case .user: return "user"
        case .model: return "model"
        case .provider: return "provider"
        case .tag(let key): return "tag:\(key)"
        }
    }
}

/// The caps of a budget for one scope key: USD, tokens and requests, any combination.
public struct BudgetLimits: Sendable, Hashable {
    /// The USD cap.
    public var usd: USD?
    /// The token cap (input + cached + cache write + output).
    public var tokens: Int64?
    /// The request-count cap.
    public var requests: Int64?

    /// Creates limits.
    package init(usd: USD? = nil, tokens: Int64? = nil, requests: Int64? = nil) {
        self.usd = usd
        self.tokens = tokens
        self.requests = requests
    }

    /// Whether no cap is set.
    package var isEmpty: Bool { usd == nil && tokens == nil && requests == nil }

    /// The largest USD cap a policy may set: one billion USD.
    ///
    /// A counter at this cap plus the costliest request a policy allows (4 billion USD,
    /// see `RequestDecoder.maxTokens`) still fits a signed 64-bit count of nano-dollars,
    /// so no ledger, in memory or in a database's BIGINT, can overflow on the way to a cap.
    package static let maxUSD = USD(nanos: 1_000_000_000 * USD.scale)

    /// The largest token or request cap a policy may set: 10^15.
    package static let maxCount: Int64 = 1_000_000_000_000_000
}

/// What a budget does when a request would take it over its limit.
package enum BudgetAction: String, Sendable, Hashable, CaseIterable {
    /// A hard cap: the request is denied.
    case deny
    /// A soft cap: the request is allowed with a warning.
    case warn
}

/// A budget (`budgets[]`, or generated from a team's `budget:` shorthand).
package struct BudgetDefinition: Sendable, Hashable {
    /// The budget id, e.g. `org-month` or `team.payments.month`.
    package let id: String
    /// What counters are kept per; a list keeps one per combination.
    package let scope: [ScopePart]
    /// The calendar period.
    package let period: BudgetPeriod
    /// The caps for every scope key.
    package let limits: BudgetLimits
    /// Per-key overrides of the caps, keyed like `payments` or `payments/qa`.
    package let overrides: [String: Located<BudgetLimits>]
    /// Fractions of the limit that raise alerts, in parts per million (0.8 → 800000).
    package let alerts: [Int64]
    /// Which requests count against this budget.
    package let when: Condition?
    /// Hard (`deny`) or soft (`warn`).
    package let onExceed: BudgetAction
    /// For shorthand budgets: the team it belongs to (only that team's requests count).
    package let team: String?
    /// Free text for readers of the policy.
    package let description: String?
    /// Where the budget is defined.
    package let location: SourceLocation

    /// The caps for a scope key, honouring overrides.
    package func limits(forKey key: String) -> BudgetLimits {
        overrides[key]?.value ?? limits
    }
}
