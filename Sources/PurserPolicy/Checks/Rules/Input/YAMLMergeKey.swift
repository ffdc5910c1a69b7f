import PurserCore
import PurserYAML

extension DiagnosticCode {
    /// A `<<` merge key; Purser does not merge mappings implicitly, so write the keys out.
    package static let yamlMergeKey = YAMLMergeKey.code
}

/// `yaml-merge-key`, raised by the YAML reader (its message is the reader's). YAML 1.1 merge keys are not part of the policy language.
package enum YAMLMergeKey: YAMLReaderRule {
    package static let readerKind = YAMLError.Kind.mergeKey

    package static let description = RuleDescription(
        id: "yaml-merge-key", stage: .input,
        summary: "A `<<` merge key; Purser does not merge mappings implicitly, so write the keys out.",
        triggering: [.policy(CheckCatalog.base + "  qa:\n    <<: {tiers: [small]}\n")],
        nonTriggering: [.policy(CheckCatalog.base + "  qa:\n    tiers: [small]\n")])
}
