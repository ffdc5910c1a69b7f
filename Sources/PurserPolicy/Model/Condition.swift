import PurserYAML
import PurserCore
/// A `when` or `unless` condition: every clause must hold (AND).
package struct Condition: Sendable, Hashable {
    /// One `attribute: matcher` entry.
    package struct Clause: Sendable, Hashable {
        /// What the clause looks at.
        package let attribute: Attribute
        /// The tests; all must hold.
        package let matchers: [Matcher]
        /// Where the clause is written.
        package let location: SourceLocation
    }

    /// The attributes of a request a condition can test (docs/policy-language.md, "Attributes").
    package enum Attribute: Sendable, Hashable, CustomStringConvertible {
        case team, environment, model, provider, tier, region, user
        /// `tags.KEY`
        case tag(String)
        case inputTokens, cachedInputTokens, cacheWriteTokens, outputTokens, totalTokens
        /// Estimated cost in USD.
        case cost
        /// 0–23 in the policy's time zone.
        case hour
        /// mon … sun in the policy's time zone.
        case weekday

        /// The attribute names, for "did you mean" and docs.
        package static let names = [
            "team", "environment", "model", "provider", "tier", "region", "user", "tags.KEY",
            "input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens", "total_tokens",
            "cost", "hour", "weekday",
        ]

        package init?(_ name: String) {
            switch name {
            case "team": self = .team
            case "environment": self = .environment
            case "model": self = .model
            case "provider": self = .provider
            case "tier": self = .tier
            case "region": self = .region
            case "user": self = .user
            case "input_tokens": self = .inputTokens
            case "cached_input_tokens": self = .cachedInputTokens
            case "cache_write_tokens": self = .cacheWriteTokens
            case "output_tokens": self = .outputTokens
            case "total_tokens": self = .totalTokens
            case "cost": self = .cost
            case "hour": self = .hour
            case "weekday": self = .weekday
            default:
                guard name.hasPrefix("tags."), name.count > 5 else { return nil }
                self = .tag(String(name.dropFirst(5)))
            }
        }

        /// Whether the attribute is a number (tokens, cost, hour).
        package var isNumeric: Bool {
            switch self {
            case .inputTokens, .cachedInputTokens, .cacheWriteTokens, .outputTokens, .totalTokens, .cost, .hour:
                return true
            default:
                return false
            }
        }

        /// Whether `gt`/`lt` apply (numbers, tier by tier order, weekday by day order).
        package var isOrdered: Bool { isNumeric || self == .tier || self == .weekday }

        package var description: String {
            switch self {
            case .team: return "team"
            case .environment: return "environment"
            case .model: return "model"
            case .provider: return "provider"
            case .tier: return "tier"
            case .region: return "region"
            case .user: return "user"
            case .tag(let key): return "tags.\(key)"
            case .inputTokens: return "input_tokens"
            case .cachedInputTokens: return "cached_input_tokens"
            case .cacheWriteTokens: return "cache_write_tokens"
            case .outputTokens: return "output_tokens"
            case .totalTokens: return "total_tokens"
            case .cost: return "cost"
            case .hour: return "hour"
            case .weekday: return "weekday"
            }
        }
    }

    /// One test of an attribute.
    package struct Matcher: Sendable, Hashable {
        /// The operators of docs/policy-language.md, "Matchers".
        package enum Operator: String, Sendable, Hashable, CaseIterable {
            /// A bare scalar: equality.
            case equals
            /// A bare list or `in:`: any of.
            case `in`
            case notIn = "not_in"
            case glob, gt, gte, lt, lte, exists
        }

        /// The operator.
        package let op: Operator
        /// The operands (one for comparisons, several for `in`/`not_in`).
        package let operands: [Located<Operand>]
        /// Where the matcher is written.
        package let location: SourceLocation
    }

    /// An operand: text, an integer in the attribute's unit (cost in nano-USD), or a flag.
    package enum Operand: Sendable, Hashable, CustomStringConvertible {
        case text(String)
        case integer(Int64)
        case flag(Bool)

        package var description: String {
            switch self {
            case .text(let text): return text
            case .integer(let value): return String(value)
            case .flag(let value): return String(value)
            }
        }
    }

    /// The clauses, in the order written.
    package let clauses: [Clause]
    /// Where the condition is written.
    package let location: SourceLocation
}
