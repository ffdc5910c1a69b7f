import PurserCore
import PurserYAML

extension DiagnosticCode {
    /// The file is not well-formed YAML (libyaml's message, with the line and column where it failed).
    package static let yamlSyntax = YAMLSyntax.code
}

/// `yaml-syntax`, raised by the YAML reader (its message is the reader's). libyaml could not parse the file.
package enum YAMLSyntax: YAMLReaderRule {
    package static let readerKind = YAMLError.Kind.syntax

    package static let description = RuleDescription(
        id: "yaml-syntax", stage: .input,
        summary: "The file is not well-formed YAML (libyaml's message, with the line and column where it failed).",
        triggering: [.policy("version: 1\nmodels: [gpt-5-mini\n"), .policy("version: 1\nmodels:\n  a: b: c\n")],
        nonTriggering: [.policy(CheckCatalog.base)])
}
