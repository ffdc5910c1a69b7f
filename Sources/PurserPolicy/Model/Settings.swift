import PurserYAML
import PurserCore
/// The `settings` section: policy-wide behaviour. Defaults apply when a
/// policy set has no `settings`.
package struct Settings: Sendable, Hashable {
    /// What to do with a request naming something the policy does not define.
    package enum UnknownHandling: String, Sendable, Hashable, CaseIterable {
        case deny
        case warn
    }

    /// What to do when Purser cannot know (no price, no ledger): fail closed or open.
    package enum FailureHandling: String, Sendable, Hashable, CaseIterable {
        case deny
        case allow
    }

    /// The IANA zone for calendar budget windows, `hour` and `weekday`.
    package var timezone: Located<String>?
    /// Tier names, least to most capable (and expensive).
    package var tiers: [Located<String>]
    /// A request naming a model that is not in the catalog.
    package var unknownModel: UnknownHandling = .deny
    /// A request naming a team that is not defined.
    package var unknownTeam: UnknownHandling = .deny
    /// A request naming an environment that is not defined.
    package var unknownEnvironment: UnknownHandling = .deny
    /// A budgeted request whose cost is unknown.
    package var unpricedModel: FailureHandling = .deny
    /// The spend store cannot be reached.
    package var ledgerUnavailable: FailureHandling = .deny
    /// Seconds after which an unsettled reservation stops holding budget.
    package var reservationTTLSeconds: Int64 = 600
    /// Slices of budget headroom admitted from locally (`budget_leases`); nil (the default) when off.
    package var budgetLeases: BudgetLeases?
    /// Whether denied requests try region and model fallbacks.
    package var reroute: Bool = true
    /// Where the section was written (nil when defaulted).
    package var location: SourceLocation?

    /// `settings.budget_leases` (docs/ledgers.md, "Budget leases"): how big a slice of a
    /// counter's headroom a replica takes, and for how long it admits from it.
    package struct BudgetLeases: Sendable, Hashable {
        /// The share of the counters' remaining headroom one slice takes, in parts per million.
        package var slicePPM: Int64 = 50_000
        /// The most calls' estimates one slice holds.
        package var maxCalls: Int64 = 1_000
        /// Seconds a slice admits calls before it is returned.
        package var durationSeconds: Int64 = 10

        /// The defaults: 5% of the headroom, at most 1,000 calls, 10 seconds.
        package init() {}

        /// The longest `duration`: an hour.
        package static let maxDurationSeconds: Int64 = 3_600
        /// The largest `max_calls`.
        package static let maxCallsLimit: Int64 = 1_000_000
    }

    /// The default tiers: small, standard, frontier.
    package static let defaultTiers = ["small", "standard", "frontier"]

    /// The defaults of docs/policy-language.md, "settings".
    package init() {
        self.tiers = Settings.defaultTiers.map { Located($0, at: SourceLocation(file: "<default>")) }
    }

    /// The zone identifier, `UTC` unless set.
    package var timezoneIdentifier: String { timezone?.value ?? "UTC" }
}
