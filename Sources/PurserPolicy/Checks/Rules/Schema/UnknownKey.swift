import PurserCore
import PurserYAML

extension DiagnosticCode {
    /// A key the policy language does not have; the message suggests the nearest valid key.
    package static let unknownKey = UnknownKey.code
}

/// `unknown-key`: a key that is not among a section's keys (``PolicySchema``).
package enum UnknownKey: CheckRule {
    package static let description = RuleDescription(
        id: "unknown-key", stage: .schema,
        summary: "A key the policy language does not have; the message suggests the nearest valid key.",
        triggering: [
            .policy("version: 1\nmodles: {}\n"),
            .policy(CheckCatalog.base.replacingOccurrences(of: "tier: small", with: "tier: small\n    teir: small")),
        ],
        nonTriggering: [.policy(CheckCatalog.base)])

    /// A key the section has advice for (such as `tests:` in a policy file).
    package static func withAdvice(_ key: String, in path: String, advice: String) -> Finding {
        finding("unknown key \"\(excerpt(key))\" in \(path); \(advice)")
    }

    /// Any other key: the nearest valid key (`suggestion`, from the look-ups left), else every valid key.
    package static func unknown(_ key: String, in path: String, suggestion: String, keys: [String]) -> Finding {
        let valid = suggestion.isEmpty ? "; valid keys: \(keys.joined(separator: ", "))" : suggestion
        return finding("unknown key \"\(excerpt(key))\" in \(path)\(valid)")
    }
}
