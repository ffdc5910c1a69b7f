import PurserCore

extension DiagnosticCode {
    /// A fragment's `version` is not 1.
    package static let unsupportedVersion = UnsupportedVersion.code
}

/// `unsupported-version`: every fragment says `version: 1`, the plain number.
package enum UnsupportedVersion: CheckRule {
    package static let description = RuleDescription(
        id: "unsupported-version", stage: .schema,
        summary: "A fragment's `version` is not 1.",
        triggering: [.policy("version: 2\n"), .policy("version: \"1\"\n")],
        nonTriggering: [.policy(CheckCatalog.base)])

    package static func policy(found shown: String) -> Finding {
        finding("version must be 1, found \(shown); this Purser reads policy version 1")
    }
}
