import PurserCore
import PurserYAML

extension DiagnosticCode {
    /// A NUL byte or another control character YAML does not allow.
    package static let yamlControlCharacter = YAMLControlCharacter.code
}

/// `yaml-control-character`, raised by the YAML reader (its message is the reader's). The reader refuses the characters YAML forbids before libyaml sees the bytes.
package enum YAMLControlCharacter: YAMLReaderRule {
    package static let readerKind = YAMLError.Kind.controlCharacter

    package static let description = RuleDescription(
        id: "yaml-control-character", stage: .input,
        summary: "A NUL byte or another control character YAML does not allow.",
        triggering: [
            .files([("policy.yaml", .bytes(Array("version: 1\n".utf8) + [0] + Array("\n".utf8), shown: "version: 1\n\\0"))]),
        ],
        nonTriggering: [.policy(CheckCatalog.base)])
}
