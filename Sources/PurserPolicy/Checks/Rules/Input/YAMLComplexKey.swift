import PurserCore
import PurserYAML

extension DiagnosticCode {
    /// A mapping key that is itself a list or mapping.
    package static let yamlComplexKey = YAMLComplexKey.code
}

/// `yaml-complex-key`, raised by the YAML reader (its message is the reader's). Keys of the policy language are names.
package enum YAMLComplexKey: YAMLReaderRule {
    package static let readerKind = YAMLError.Kind.complexKey

    package static let description = RuleDescription(
        id: "yaml-complex-key", stage: .input,
        summary: "A mapping key that is itself a list or mapping.",
        triggering: [.policy("version: 1\n? [a, b]\n: 1\n")],
        nonTriggering: [.policy(CheckCatalog.base)])
}
