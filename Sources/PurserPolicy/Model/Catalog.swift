import PurserYAML
import PurserCore
/// A model of the catalog (`models.NAME`).
public struct ModelDefinition: Sendable, Hashable {
    /// The canonical name requests and decisions use.
    public let name: String
    /// The provider, e.g. `anthropic`.
    public let provider: String
    /// The tier, one of `settings.tiers`.
    public let tier: Located<String>
    /// The price, from `price` or a price source; nil when unpriced.
    public let price: Price?
    /// The key looked up in price sources when `price` is not given.
    public let priceKey: Located<String>?
    /// Regions the model is served in; nil means anywhere.
    public let regions: [Located<String>]?
    /// Other names requests may use for this model.
    public let aliases: [Located<String>]
    /// Models tried in order when this one is denied.
    public let fallbacks: [Located<String>]
    /// Free text for readers of the policy.
    public let description: String?
    /// Where the model is defined (its key).
    public let location: SourceLocation
}

/// A model's price per token for each kind of token, exact.
public struct Price: Sendable, Hashable {
    /// Where a price came from.
    public enum Origin: Sendable, Hashable {
        /// Written in the policy (`price:`).
        case policy(SourceLocation)
        /// Imported from a LiteLLM price table: the file and the key.
        case priceSource(file: String, key: String)
    }

    /// Uncached input tokens.
    public let input: TokenPrice
    /// Output tokens.
    public let output: TokenPrice
    /// Input tokens read from the provider's prompt cache (default: the input price).
    public let cachedInput: TokenPrice
    /// Input tokens written to the prompt cache (default: the input price).
    public let cacheWrite: TokenPrice
    /// Where the price came from.
    public let origin: Origin

    /// Creates a price.
    public init(input: TokenPrice, output: TokenPrice, cachedInput: TokenPrice? = nil,
                cacheWrite: TokenPrice? = nil, origin: Origin)
    {
        self.input = input
        self.output = output
        self.cachedInput = cachedInput ?? input
        self.cacheWrite = cacheWrite ?? input
        self.origin = origin
    }
}

/// An environment (`environments.NAME`) and the models it approves.
public struct EnvironmentDefinition: Sendable, Hashable {
    /// The environment's name.
    public let name: String
    /// Approved model names, aliases or globs; nil approves every model (subject to `tiers`).
    public let models: [Located<String>]?
    /// Approved tiers; nil approves every tier.
    public let tiers: [Located<String>]?
    /// Model names, aliases or globs never approved here.
    public let exclude: [Located<String>]
    /// Regions traffic may run in; nil means no restriction beyond the global one.
    public let regions: [Located<String>]?
    /// Free text for readers of the policy.
    public let description: String?
    /// Where the environment is defined.
    public let location: SourceLocation
}

/// A team (`teams.NAME`): where it may run, what it may use, what it may spend.
public struct TeamDefinition: Sendable, Hashable {
    /// The team's name.
    public let name: String
    /// Environments the team may run in; nil means all.
    public let environments: [Located<String>]?
    /// The team's own model allow-list, applied on top of the environment's; nil means no extra limit.
    public let models: [Located<String>]?
    /// Regions the team's traffic must stay in (residency); nil means no extra limit.
    public let regions: [Located<String>]?
    /// The `budget:` shorthand: a hard USD cap per period.
    public let budget: [BudgetShorthand]
    /// The largest estimated cost one request may have.
    public let maxRequestCost: Located<USD>?
    /// Free text for readers of the policy.
    public let description: String?
    /// Where the team is defined.
    public let location: SourceLocation
}

/// One entry of a team's `budget:` shorthand, e.g. `month: 5000`.
public struct BudgetShorthand: Sendable, Hashable {
    /// The calendar period.
    public let period: BudgetPeriod
    /// The hard cap in USD.
    public let limit: USD
    /// Where the entry is written.
    public let location: SourceLocation
}

/// The `regions` section.
public struct RegionPolicy: Sendable, Hashable {
    /// Regions traffic may run in at all; nil means any region.
    public var allowed: [Located<String>]?
    /// Where `regions.allowed` is written.
    public var allowedLocation: SourceLocation?
    /// Where a region's traffic fails over to, in order.
    public var fallbacks: [RegionFallback] = []

    /// No restriction and no fallbacks.
    public init() {}
}

/// `regions.fallbacks.REGION: [targets]`.
public struct RegionFallback: Sendable, Hashable {
    /// The region that fails over.
    public let region: Located<String>
    /// Regions tried in order.
    public let targets: [Located<String>]
}
