import PurserCore
import PurserYAML

extension DiagnosticCode {
    /// The file is not UTF-8 (invalid bytes, or UTF-16 with a byte order mark).
    package static let yamlEncoding = YAMLEncoding.code
}

/// `yaml-encoding`, raised by the YAML reader (its message is the reader's). The reader validates UTF-8 before libyaml sees the bytes.
package enum YAMLEncoding: YAMLReaderRule {
    package static let readerKind = YAMLError.Kind.invalidEncoding

    package static let description = RuleDescription(
        id: "yaml-encoding", stage: .input,
        summary: "The file is not UTF-8 (invalid bytes, or UTF-16 with a byte order mark).",
        triggering: [
            .files([("policy.yaml", .bytes(Array("version: 1\nteams:\n  caf".utf8) + [0xE9] + Array(": {}\n".utf8), shown: "version: 1\nteams:\n  caf\\xE9: {}    # Latin-1 é"))]),
        ],
        nonTriggering: [.policy("version: 1\nteams:\n  café: {}\n")])
}
