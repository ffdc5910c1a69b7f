import PurserCore
import Foundation

/// What the meaning rules share while they check one assembled policy set: the
/// policy, look-up tables built once, "now", and the diagnostics found so far.
package struct ValidationContext {
    package let policy: PolicySet
    package let options: PolicyLoadOptions
    package private(set) var diagnostics: [Diagnostic] = []
    /// "Did you mean" look-ups left for undefined references.
    package var suggestions = SuggestionBudget()

    /// `settings.tiers`, in order.
    package let tiers: [String]
    package let analysis: ConditionAnalysis
    package let modelNames: Set<String>
    /// Canonical model names by alias.
    package let aliases: [String: String]
    /// Models by canonical name (the first definition of a name).
    package let models: [String: ModelDefinition]
    package let environments: Set<String>
    package let teams: Set<String>
    package let providers: Set<String>
    /// `regions.allowed`, when set.
    package let allowedRegions: Set<String>?
    package let budgetIds: Set<String>
    package let ruleIds: Set<String>
    /// The instant exception expiry is checked at: the options' `now`, else the clock.
    package let now: Timestamp
    /// The policy's time zone.
    package let zone: ZoneRules

    package init(policy: PolicySet, options: PolicyLoadOptions) {
        self.policy = policy
        self.options = options
        tiers = policy.settings.tiers.map(\.value)
        analysis = ConditionAnalysis(policy: policy)
        modelNames = Set(policy.models.map(\.name))
        var aliases: [String: String] = [:]
        for model in policy.models {
            for alias in model.aliases { aliases[alias.value] = model.name }
        }
        self.aliases = aliases
        models = Dictionary(policy.models.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        environments = Set(policy.environments.map(\.name))
        teams = Set(policy.teams.map(\.name))
        providers = Set(policy.models.map(\.provider))
        allowedRegions = policy.regions.allowed.map { Set($0.map(\.value)) }
        budgetIds = Set(policy.budgets.map(\.id))
        ruleIds = Set(policy.rules.map(\.id))
        now = options.now ?? Timestamp(nanoseconds: Int64(Date().timeIntervalSince1970 * 1e9))
        zone = ZoneRules(identifier: policy.settings.timezoneIdentifier) ?? ZoneRules.utc
    }

    /// Records a finding at a place.
    package mutating func report(_ finding: Finding, at location: SourceLocation) {
        diagnostics.append(finding.at(location))
    }

    /// The canonical name of a model name or alias (other names unchanged).
    package func canonical(_ name: String) -> String {
        aliases[name] ?? name
    }

    /// Whether a model's fallback names the model itself (by name or alias).
    package func isSelfFallback(_ fallback: Located<String>, of model: ModelDefinition) -> Bool {
        fallback.value == model.name || aliases[fallback.value] == model.name
    }

    /// A budget's `limits` keys, sorted, each split into its scope parts, or with
    /// nil parts when the key does not have one part per scope entry.
    package func limitKeys(of budget: BudgetDefinition)
        -> [(key: String, limits: Located<BudgetLimits>, parts: [(scope: ScopePart, value: String)]?)]
    {
        budget.overrides.sorted(by: { $0.key < $1.key }).map { key, limits in
            let parts = key.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == budget.scope.count else { return (key, limits, nil) }
            return (key, limits, Array(zip(budget.scope, parts)).map { (scope: $0.0, value: $0.1) })
        }
    }
}
