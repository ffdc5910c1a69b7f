import PurserCore
import PurserPolicy
/// Token counts of a call. `inputTokens` excludes cached tokens (docs/wire-formats.md, "Requests").
public struct Usage: Sendable, Hashable {
    /// Uncached input tokens.
    public var inputTokens: Int64
    /// Input tokens read from the prompt cache.
    public var cachedInputTokens: Int64
    /// Input tokens written to the prompt cache.
    public var cacheWriteTokens: Int64
    /// Output tokens.
    public var outputTokens: Int64

    /// Creates a usage record; every count defaults to zero.
    public init(inputTokens: Int64 = 0, cachedInputTokens: Int64 = 0, cacheWriteTokens: Int64 = 0, outputTokens: Int64 = 0) {
        self.inputTokens = inputTokens
        self.cachedInputTokens = cachedInputTokens
        self.cacheWriteTokens = cacheWriteTokens
        self.outputTokens = outputTokens
    }

    /// All tokens: input, cached, cache write and output.
    ///
    /// Saturates at `Int64.max`: counts a decoder accepts (at most
    /// `RequestDecoder.maxTokens` each) never get near it.
    public var totalTokens: Int64 {
        let sum = Int128(inputTokens) + Int128(cachedInputTokens) + Int128(cacheWriteTokens) + Int128(outputTokens)
        return Int64(clamping: sum)
    }

    /// Whether a count is negative (only usage built in code can be: the decoders refuse it).
    package var hasNegativeCount: Bool {
        min(inputTokens, cachedInputTokens, cacheWriteTokens, outputTokens) < 0
    }

    /// The exact cost at a price, rounded to the nano-dollar; nil when a count is
    /// negative or the cost is past ``USD/max``.
    package func cost(at price: Price) -> USD? {
        CostArithmetic.cost(inputTokens: inputTokens, cachedInputTokens: cachedInputTokens, cacheWriteTokens: cacheWriteTokens,
                            outputTokens: outputTokens, input: price.input.yoctoDollars, cachedInput: price.cachedInput.yoctoDollars,
                            cacheWrite: price.cacheWrite.yoctoDollars, output: price.output.yoctoDollars)
    }
}

/// A request a gateway asks about, or a usage record replayed by `audit` (docs/wire-formats.md, "Requests").
public struct Request: Sendable, Hashable {
    /// The caller's id for the request, echoed in the decision.
    public var id: String?
    /// When the request happens; "now" when nil.
    public var timestamp: Timestamp?
    /// The team making the request.
    public var team: String?
    /// The environment it runs in.
    public var environment: String?
    /// The model asked for: a canonical name or an alias.
    public var model: String
    /// The region asked for; Purser picks one when nil and the policy constrains regions.
    public var region: String?
    /// The end user, for `user` budgets and conditions.
    public var user: String?
    /// Free-form tags, for `tag:KEY` budgets and `tags.KEY` conditions.
    public var tags: Tags
    /// Token counts (estimated for a request, actual for a usage record).
    public var usage: Usage
    /// The cost when known (overrides usage × price).
    public var cost: USD?
    /// Regions the caller knows are down or rate-limited.
    public var unavailableRegions: [String]
    /// Whether Purser may answer with another model or region.
    public var allowReroute: Bool
    /// Whether the request stands for many: an aggregated row of an export (an OpenAI bucket,
    /// a FOCUS row), whose own requests' costs are unknown, so `max_request_cost` is not
    /// checked on it (docs/importers.md, "Buckets: the day they count on").
    @usableFromInline package var isAggregate = false

    /// Creates a request.
    @inlinable
    public init(
        id: String? = nil, timestamp: Timestamp? = nil, team: String? = nil, environment: String? = nil,
        model: String, region: String? = nil, user: String? = nil, tags: Tags = [:],
        usage: Usage = Usage(), cost: USD? = nil, unavailableRegions: [String] = [], allowReroute: Bool = true
    ) {
        self.id = id
        self.timestamp = timestamp
        self.team = team
        self.environment = environment
        self.model = model
        self.region = region
        self.user = user
        self.tags = tags
        self.usage = usage
        self.cost = cost
        self.unavailableRegions = unavailableRegions
        self.allowReroute = allowReroute
    }
}
