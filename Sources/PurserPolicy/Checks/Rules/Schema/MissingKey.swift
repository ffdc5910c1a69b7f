import PurserCore

extension DiagnosticCode {
    /// A required key is missing: `version`, a model's `tier`, a budget's `id`/`scope`/`period`/cap, an exception's `expires`.
    package static let missingKey = MissingKey.code
}

/// `missing-key`: a key a section requires (``PolicySchema``) is absent or null.
package enum MissingKey: CheckRule {
    package static let description = RuleDescription(
        id: "missing-key", stage: .schema,
        summary: "A required key is missing: `version`, a model's `tier`, a budget's `id`/`scope`/`period`/cap, an exception's `expires`.",
        triggering: [.policy("models: {}\n"), .policy("version: 1\nmodels:\n  gpt-5-mini: {provider: openai}\n")],
        nonTriggering: [.policy(CheckCatalog.base)])

    /// The key is absent.
    package static func missing(_ path: String, _ key: String) -> Finding {
        finding("\(path) is missing the required key \"\(key)\"")
    }

    /// The key is written with no value.
    package static func noValue(_ path: String, _ key: String) -> Finding {
        finding("\(path) needs a value for \"\(key)\"")
    }

    /// A budget with none of `limit`, `tokens` and `requests`.
    package static func noCap(_ path: String) -> Finding {
        finding("\(path) needs a cap: limit (USD), tokens or requests")
    }

    /// A model without `provider` that no price source supplies one for (found while assembling).
    package static func provider(model: String) -> Finding {
        finding("models.\(model) is missing \"provider\" (and no price source supplies one)")
    }
}
