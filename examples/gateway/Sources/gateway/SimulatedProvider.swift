import Purser

/// Why a provider call failed. Your HTTP client has its own version of this.
enum ProviderError: Error, CustomStringConvertible {
    /// HTTP 429: the region has no capacity for now. Try another region.
    case rateLimited(region: String)
    /// HTTP 5xx or a timeout: the call did not happen.
    case unavailable(status: Int, model: String)

    var description: String {
        switch self {
        case .rateLimited(let region): "HTTP 429 rate limited in \(region)"
        case .unavailable(let status, let model): "HTTP \(status) from the \(model) upstream"
        }
    }
}

/// Stands in for the HTTP client that calls Anthropic, OpenAI or Google.
///
/// Replace it with your client. It answers with usage close to the gateway's
/// estimate, the way a real call does: the provider's tokenizer counts the
/// prompt a little differently, and the reply stops before `max_tokens`.
struct SimulatedProvider: Sendable {
    /// Regions that answer HTTP 429.
    var rateLimitedRegions: Set<String> = []
    /// Models whose upstream answers HTTP 503.
    var failingModels: Set<String> = []
    /// Models whose calls take this many seconds (a stuck stream, a long batch call).
    var slowModels: [String: Int64] = [:]
    /// The example's clock; a slow call moves it forward. Real time needs no such thing.
    var clock: ManualClock?

    /// Calls `model` in `region`; returns the usage the provider bills.
    func complete(model: String, region: String?, estimate: Usage) async throws(ProviderError) -> Usage {
        if let region, rateLimitedRegions.contains(region) {
            throw .rateLimited(region: region)
        }
        if failingModels.contains(model) {
            throw .unavailable(status: 503, model: model)
        }
        if let seconds = slowModels[model] {
            clock?.advance(seconds: seconds)
        }
        return Usage(
            inputTokens: estimate.inputTokens + estimate.inputTokens / 50,  // tokenizer drift: +2%
            cachedInputTokens: estimate.cachedInputTokens,
            cacheWriteTokens: estimate.cacheWriteTokens,
            outputTokens: estimate.outputTokens * 3 / 4)  // the reply stopped before max_tokens
    }
}
