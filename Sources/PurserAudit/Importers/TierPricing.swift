import Purser

/// Prices OpenAI usage processed by the Batch API (`batch: true`), flex or priority processing
/// (`service_tier: flex`, `priority`) as OpenAI bills it: at the model's price for that tier
/// from the policy or its price table (docs/policy-language.md, "Batch, flex and priority
/// prices"). Usage records carry no cost, so without this the engine would price them at the
/// list price: twice what batch and flex cost.
package struct TierPricing: Sendable {
    private let policy: CompiledPolicy?

    /// Prices from the policy's models (their `price`, or their price-table row).
    package init(policy: CompiledPolicy) {
        self.policy = policy
    }

    private init() {
        policy = nil
    }

    /// No tier prices: every record is left to the engine's list price.
    package static let none = TierPricing()

    /// The tier a usage result was processed in, from its `batch` and `service_tier` fields.
    package static func tier(batch: String?, serviceTier: String?) -> ServiceTier {
        if batch?.lowercased() == "true" { return .batch }
        switch serviceTier?.lowercased() {
        case "flex": return .flex
        case "priority": return .priority
        default: return .standard
        }
    }

    /// What pricing a record of `model` in `tier` comes to.
    package enum Outcome: Equatable {
        /// The tier's price applies: this is the cost.
        case priced(USD)
        /// The list price applies (a standard record, a model the policy does not know or prices nowhere).
        case listPrice
        /// A batch, flex or priority record whose model (named canonically) has no price for that tier:
        /// the list price applies, and the report says so.
        case noTierPrice(model: String)
    }

    /// The cost of `usage` of `model` (a name or an alias) in `tier`.
    package func price(model: String, tier: ServiceTier, usage: Usage) -> Outcome {
        guard tier != .standard, let policy, let id = policy.modelLookup[model] else { return .listPrice }
        let compiled = policy.models[Int(id)]
        guard let price = compiled.price else { return .listPrice }
        guard let tierPrice = price.tier(tier) else { return .noTierPrice(model: compiled.name) }
        guard let cost = CostArithmetic.cost(
            inputTokens: usage.inputTokens, cachedInputTokens: usage.cachedInputTokens, cacheWriteTokens: usage.cacheWriteTokens,
            outputTokens: usage.outputTokens, input: tierPrice.input.yoctoDollars, cachedInput: tierPrice.cachedInput.yoctoDollars,
            cacheWrite: tierPrice.cacheWrite.yoctoDollars, output: tierPrice.output.yoctoDollars)
        else { return .listPrice }
        return .priced(cost)
    }
}
