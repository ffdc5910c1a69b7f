import PurserCore
import PurserYAML

extension DiagnosticCode {
    /// Sequences and mappings nest deeper than 64 levels.
    package static let yamlNestingDepth = YAMLNestingDepth.code
}

/// `yaml-nesting-depth`, raised by the YAML reader (its message is the reader's). The reader stops at the limit (`YAMLReader.Limits`), before the stack can overflow.
package enum YAMLNestingDepth: YAMLReaderRule {
    package static let readerKind = YAMLError.Kind.nestingTooDeep

    package static let description = RuleDescription(
        id: "yaml-nesting-depth", stage: .input,
        summary: "Sequences and mappings nest deeper than 64 levels.",
        triggering: [.policy("version: 1\nx: " + String(repeating: "[", count: 65) + String(repeating: "]", count: 65) + "\n")],
        nonTriggering: [.policy(CheckCatalog.base)])
}
