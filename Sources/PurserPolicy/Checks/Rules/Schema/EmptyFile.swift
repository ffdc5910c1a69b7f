import PurserCore

extension DiagnosticCode {
    /// A policy file holds no document (only comments or nothing).
    package static let emptyFile = EmptyFile.code
}

/// `empty-file`: a policy file with no document, reported when it raised nothing else.
package enum EmptyFile: CheckRule {
    package static let description = RuleDescription(
        id: "empty-file", severity: .warning, stage: .schema,
        summary: "A policy file holds no document (only comments or nothing).",
        triggering: [.files([("policies/a.yaml", .text(CheckCatalog.base)), ("policies/b.yaml", .text("# TODO\n"))], check: "policies")],
        nonTriggering: [.files([("policies/a.yaml", .text(CheckCatalog.base))], check: "policies")])

    package static let noDocument = finding("the file holds no policy document; add `version: 1` and some definitions, or delete it")
}
