import PurserCore

/// The meaning checks of `purser check`: runs every ``PolicySetRule`` of the
/// catalog on an assembled policy set. Each check lives in its code's file
/// under `Rules/Meaning/` (and the meaning-stage part of `invalid-value` in
/// `Rules/Schema/InvalidValue.swift`).
package struct PolicyValidator {
    package let policy: PolicySet
    package let options: PolicyLoadOptions
    package private(set) var diagnostics: [Diagnostic] = []

    package init(policy: PolicySet, options: PolicyLoadOptions) {
        self.policy = policy
        self.options = options
    }

    package mutating func run() {
        var context = ValidationContext(policy: policy, options: options)
        for rule in CheckCatalog.policySetRules { rule.check(&context) }
        diagnostics = context.diagnostics
    }
}
