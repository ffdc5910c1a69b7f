import PurserCore
import PurserYAML

extension DiagnosticCode {
    /// A mapping has the same key twice; keys are compared as written, so `a` and `"a"` collide.
    package static let duplicateKey = DuplicateKey.code
}

/// `duplicate-key`, raised by the YAML reader (its message is the reader's). A mapping holds the same key twice, compared as raw text.
package enum DuplicateKey: YAMLReaderRule {
    package static let readerKind = YAMLError.Kind.duplicateKey

    package static let description = RuleDescription(
        id: "duplicate-key", stage: .input,
        summary: "A mapping has the same key twice; keys are compared as written, so `a` and `\"a\"` collide.",
        triggering: [.policy("version: 1\nversion: 1\n"), .policy(CheckCatalog.base + "  \"dev\": {}\n")],
        nonTriggering: [.policy(CheckCatalog.base + "  staging: {}\n")])
}
