import PurserYAML
import PurserCore
/// A model of the catalog (`models.NAME`).
package struct ModelDefinition: Sendable, Hashable {
    /// The canonical name requests and decisions use.
    package let name: String
    /// The provider, e.g. `anthropic`.
    package let provider: String
    /// The tier, one of `settings.tiers`.
    package let tier: Located<String>
    /// The price, from `price` or a price source; nil when unpriced.
    package let price: Price?
    /// The key looked up in price sources when `price` is not given.
    package let priceKey: Located<String>?
    /// Regions the model is served in; nil means anywhere.
    package let regions: [Located<String>]?
    /// Other names requests may use for this model.
    package let aliases: [Located<String>]
    /// Models tried in order when this one is denied.
    package let fallbacks: [Located<String>]
    /// Free text for readers of the policy.
    package let description: String?
    /// Where the model is defined (its key).
    package let location: SourceLocation
}

/// A model's price per token for each kind of token, exact.
package struct Price: Sendable, Hashable {
    /// Where a price came from.
    package enum Origin: Sendable, Hashable {
        /// Written in the policy (`price:`).
        case policy(SourceLocation)
        /// Imported from a LiteLLM price table: the file and the key.
        case priceSource(file: String, key: String)
    }

    /// Uncached input tokens.
    package let input: TokenPrice
    /// Output tokens.
    package let output: TokenPrice
    /// Input tokens read from the provider's prompt cache (default: the input price).
    package let cachedInput: TokenPrice
    /// Input tokens written to the prompt cache (default: the input price).
    package let cacheWrite: TokenPrice
    /// Where the price came from.
    package let origin: Origin
    /// The price of OpenAI's Batch API (`price.batch`, or the table's `*_batches` prices), when known.
    package var batch: TierPrice?
    /// The price of flex processing (`service_tier: flex`; `price.flex`, or the table's `*_flex` prices), when known.
    package var flex: TierPrice?
    /// The price of priority processing (`service_tier: priority`; `price.priority`, or the table's `*_priority` prices), when known.
    package var priority: TierPrice?

    /// Creates a price.
    package init(input: TokenPrice, output: TokenPrice, cachedInput: TokenPrice? = nil,
                cacheWrite: TokenPrice? = nil, origin: Origin, batch: TierPrice? = nil, flex: TierPrice? = nil,
                priority: TierPrice? = nil)
    {
        self.input = input
        self.output = output
        self.cachedInput = cachedInput ?? input
        self.cacheWrite = cacheWrite ?? input
        self.origin = origin
        self.batch = batch
        self.flex = flex
        self.priority = priority
    }

    /// The price of a service tier other than the standard one, when the policy or its price table gives it.
    package func tier(_ tier: ServiceTier) -> TierPrice? {
        switch tier {
        case .standard: return nil
        case .batch: return batch
        case .flex: return flex
        case .priority: return priority
        }
    }
}

/// How a provider processed usage, which decides its price: OpenAI bills the Batch API and
/// flex processing at half the list price, priority processing at more than it
/// (docs/policy-language.md, "Batch, flex and priority prices").
package enum ServiceTier: String, Sendable, Hashable {
    case standard, batch, flex, priority
}

/// A model's per-token prices in one service tier (`price.batch`, `price.flex`, `price.priority`).
package struct TierPrice: Sendable, Hashable {
    package let input: TokenPrice
    package let output: TokenPrice
    package let cachedInput: TokenPrice
    package let cacheWrite: TokenPrice

    /// A tier's prices. A cached input price not given is the lower of the tier's input price
    /// and the list cached input price (a tier never bills a cache read above either); a cache
    /// write price not given is the tier's input price (as for the list price).
    package init(input: TokenPrice, output: TokenPrice, cachedInput: TokenPrice?, cacheWrite: TokenPrice?,
                 listCachedInput: TokenPrice) {
        self.input = input
        self.output = output
        self.cachedInput = cachedInput ?? min(input, listCachedInput)
        self.cacheWrite = cacheWrite ?? input
    }
}

/// An environment (`environments.NAME`) and the models it approves.
package struct EnvironmentDefinition: Sendable, Hashable {
    /// The environment's name.
    package let name: String
    /// Other names logs and requests use for it (e.g. `prod`); evaluated and reported as this environment.
    package var aliases: [Located<String>] = []
    /// Approved model names, aliases or globs; nil approves every model (subject to `tiers`).
    package let models: [Located<String>]?
    /// Approved tiers; nil approves every tier.
    package let tiers: [Located<String>]?
    /// Model names, aliases or globs never approved here.
    package let exclude: [Located<String>]
    /// Regions traffic may run in; nil means no restriction beyond the global one.
    package let regions: [Located<String>]?
    /// Free text for readers of the policy.
    package let description: String?
    /// Where the environment is defined.
    package let location: SourceLocation
}

/// A team (`teams.NAME`): where it may run, what it may use, what it may spend.
package struct TeamDefinition: Sendable, Hashable {
    /// The team's name.
    package let name: String
    /// Other names logs and requests use for it (a LiteLLM `team_id`, an OpenAI `project_id`);
    /// evaluated, budgeted and reported as this team.
    package var aliases: [Located<String>] = []
    /// Environments the team may run in; nil means all.
    package let environments: [Located<String>]?
    /// The team's own model allow-list, applied on top of the environment's; nil means no extra limit.
    package let models: [Located<String>]?
    /// Regions the team's traffic must stay in (residency); nil means no extra limit.
    package let regions: [Located<String>]?
    /// The `budget:` shorthand: a hard USD cap per period.
    package let budget: [BudgetShorthand]
    /// The largest estimated cost one request may have.
    package let maxRequestCost: Located<USD>?
    /// Free text for readers of the policy.
    package let description: String?
    /// Where the team is defined.
    package let location: SourceLocation
}

/// One entry of a team's `budget:` shorthand, e.g. `month: 5000`.
package struct BudgetShorthand: Sendable, Hashable {
    /// The calendar period.
    package let period: BudgetPeriod
    /// The hard cap in USD.
    package let limit: USD
    /// Where the entry is written.
    package let location: SourceLocation
}

/// The `regions` section.
package struct RegionPolicy: Sendable, Hashable {
    /// Regions traffic may run in at all; nil means any region.
    package var allowed: [Located<String>]?
    /// Where `regions.allowed` is written.
    package var allowedLocation: SourceLocation?
    /// Where a region's traffic fails over to, in order.
    package var fallbacks: [RegionFallback] = []
    /// Other names of regions (`regions.aliases`, e.g. Azure's `eastus2` for `us-east-1`):
    /// a request or log record naming the alias is evaluated and reported in the region.
    package var aliases: [RegionAlias] = []

    /// No restriction and no fallbacks.
    package init() {}
}

/// `regions.aliases.ALIAS: REGION`.
package struct RegionAlias: Sendable, Hashable {
    /// The other name.
    package let alias: Located<String>
    /// The region it stands for.
    package let region: Located<String>
}

/// `regions.fallbacks.REGION: [targets]`.
package struct RegionFallback: Sendable, Hashable {
    /// The region that fails over.
    package let region: Located<String>
    /// Regions tried in order.
    package let targets: [Located<String>]
}
