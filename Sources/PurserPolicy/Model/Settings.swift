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
    /// Whether denied requests try region and model fallbacks.
    package var reroute: Bool = true
    /// Where the section was written (nil when defaulted).
    package var location: SourceLocation?

    /// The default tiers: small, standard, frontier.
    package static let defaultTiers = ["small", "standard", "frontier"]

    /// The defaults of docs/policy-language.md, "settings".
    package init() {
        self.tiers = Settings.defaultTiers.map { Located($0, at: SourceLocation(file: "<default>")) }
    }

    /// The zone identifier, `UTC` unless set.
    package var timezoneIdentifier: String { timezone?.value ?? "UTC" }
}
