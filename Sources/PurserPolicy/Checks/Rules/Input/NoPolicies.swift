import PurserCore

extension DiagnosticCode {
    /// A directory holds no `*.yaml` or `*.yml` policy files (test files do not count).
    package static let noPolicies = NoPolicies.code
}

/// `no-policies`: nothing to check.
package enum NoPolicies: CheckRule {
    package static let description = RuleDescription(
        id: "no-policies", stage: .input,
        summary: "A directory holds no `*.yaml` or `*.yml` policy files (test files do not count).",
        triggering: [
            .files([("policies", .directory)], check: "policies"),
            .files([("policies/a.test.yaml", .text("version: 1\ntests: []\n"))], check: "policies"),
        ],
        nonTriggering: [.files([("policies/base.yaml", .text(CheckCatalog.base))], check: "policies")])

    /// A directory walk found no policy files (or, for `purser test`, no test files).
    package static func inDirectory(_ path: String, tests: Bool) -> Finding {
        let what = tests ? "test files (*.test.yaml, *.test.yml)" : "policy files (*.yaml, *.yml)"
        return finding("no \(what) found in directory \(path)")
    }

    package static let noneGiven = finding("no policy files given")
}
