import PurserCore
import PurserYAML

extension DiagnosticCode {
    /// An explicit tag other than `!!str`, `!!seq` or `!!map`; values are typed by the policy schema.
    package static let yamlTag = YAMLTag.code
}

/// `yaml-tag`, raised by the YAML reader (its message is the reader's). Tags would let a file type its own values (or include others); the schema types them instead.
package enum YAMLTag: YAMLReaderRule {
    package static let readerKind = YAMLError.Kind.customTag

    package static let description = RuleDescription(
        id: "yaml-tag", stage: .input,
        summary: "An explicit tag other than `!!str`, `!!seq` or `!!map`; values are typed by the policy schema.",
        triggering: [.policy("version: 1\nmodels: !include models.yaml\n"), .policy("version: !!int 1\n")],
        nonTriggering: [.policy(CheckCatalog.base)])
}
