import PurserYAML
import PurserCore
/// The checks Purser applies to every request without a rule being written
/// (docs/evaluation.md, "Built-in checks"). Their ids appear in decisions and in `waives`.
package enum BuiltinCheck: String, Sendable, Hashable, CaseIterable {
    case unknownTeam = "unknown-team"
    case unknownEnvironment = "unknown-environment"
    case unknownModel = "unknown-model"
    case environmentModel = "environment-model"
    case teamEnvironment = "team-environment"
    case teamModel = "team-model"
    case regionNotAllowed = "region-not-allowed"
    case modelRegion = "model-region"
    case regionUnavailable = "region-unavailable"
    case maxRequestCost = "max-request-cost"
    case unpricedModel = "unpriced-model"
    case ledgerUnavailable = "ledger-unavailable"

    /// The check's position in `allCases` (for tables indexed by check).
    package var ordinal: Int {
        switch self {
        case .unknownTeam: return 0
        case .unknownEnvironment: return 1
        case .unknownModel: return 2
        case .environmentModel: return 3
        case .teamEnvironment: return 4
        case .teamModel: return 5
        case .regionNotAllowed: return 6
        case .modelRegion: return 7
        case .regionUnavailable: return 8
        case .maxRequestCost: return 9
        case .unpricedModel: return 10
        case .ledgerUnavailable: return 11
        }
    }

    /// The violation kind (docs/wire-formats.md, "Violations").
    package var kind: ViolationKind {
        switch self {
        case .unknownTeam, .unknownEnvironment, .unknownModel: return .unknown
        case .environmentModel, .teamEnvironment, .teamModel: return .access
        case .regionNotAllowed, .modelRegion, .regionUnavailable: return .region
        case .maxRequestCost, .unpricedModel: return .cost
        case .ledgerUnavailable: return .system
        }
    }

    /// The severity its violations carry.
    package var severity: Severity {
        switch self {
        case .unknownTeam, .unknownEnvironment, .unknownModel: return .high
        case .environmentModel, .teamEnvironment, .teamModel: return .high
        case .regionNotAllowed, .modelRegion: return .high
        case .regionUnavailable: return .medium
        case .maxRequestCost: return .medium
        case .unpricedModel: return .medium
        case .ledgerUnavailable: return .critical
        }
    }

    /// One line on what the check enforces.
    package var summary: String {
        switch self {
        case .unknownTeam: return "The request names a team the policy does not define."
        case .unknownEnvironment: return "The request names an environment the policy does not define."
        case .unknownModel: return "The request names a model that is neither a catalog model nor an alias."
        case .environmentModel: return "The model is not approved in the environment (its models list, tiers or exclude)."
        case .teamEnvironment: return "The team may not run in the environment."
        case .teamModel: return "The model is not on the team's own allow-list."
        case .regionNotAllowed: return "The region is not allowed globally, for the environment, or for the team."
        case .modelRegion: return "The model is not served in the region."
        case .regionUnavailable: return "The region is listed in the request's unavailable_regions."
        case .maxRequestCost: return "The request's estimated cost is above the team's max_request_cost."
        case .unpricedModel: return "A budgeted request's cost is unknown: the model has no price and the request no cost."
        case .ledgerUnavailable: return "The spend ledger could not be reached, and settings say to fail closed."
        }
    }
}

/// The kind of a violation (docs/wire-formats.md, "Violations").
public enum ViolationKind: String, Sendable, Hashable, CaseIterable {
    case access, region, cost, budget, rule, unknown, system
}
