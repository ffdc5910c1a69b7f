import PurserCore
import PurserYAML

extension DiagnosticCode {
    /// A `price_sources` file cannot be read, lies outside the policy paths (without `--allow-outside-root`), or is not LiteLLM price JSON.
    package static let priceSource = PriceSource.code
}

/// `price-source`: a `price_sources` entry that cannot be used (``PolicyAssembler``).
package enum PriceSource: CheckRule {
    package static let description = RuleDescription(
        id: "price-source", stage: .input,
        summary: "A `price_sources` file cannot be read, lies outside the policy paths (without `--allow-outside-root`), or is not LiteLLM price JSON.",
        triggering: [
            .policy("version: 1\nprice_sources: [prices.json]\n"),
            .files([("policy.yaml", .text("version: 1\nprice_sources: [prices.json]\n")), ("prices.json", .text("{\"gpt-5\": {\"input_cost_per_token\": 1.25e-06,}}"))]),
            .files([("policies/policy.yaml", .text("version: 1\nprice_sources: [/etc/passwd]\n"))], check: "policies"),
        ],
        nonTriggering: [
            .files([
                ("policy.yaml", .text("version: 1\nprice_sources: [prices.json]\nmodels:\n  gpt-5:\n    tier: frontier\n")),
                ("prices.json", .text("{\"gpt-5\": {\"input_cost_per_token\": 1.25e-06, \"output_cost_per_token\": 1e-05, \"litellm_provider\": \"openai\"}}")),
            ]),
        ])

    /// A source outside the policy paths: not read (and not quoted).
    package static func outsideRoots(_ path: String) -> Finding {
        finding("price source \(path) is outside the policy directories; Purser reads only inside the paths given (--allow-outside-root reads it)")
    }

    /// A source that could not be read, with the reading problem's message.
    package static func unreadable(_ problem: String) -> Finding {
        finding("price source \(problem)")
    }

    package static func invalidJSON(_ path: String, _ message: String, at mark: YAMLMark) -> Finding {
        finding("price source \(path) is not valid LiteLLM JSON: \(message) (at \(path):\(mark))")
    }
}
