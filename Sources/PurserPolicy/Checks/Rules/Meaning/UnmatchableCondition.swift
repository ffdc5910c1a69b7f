import PurserCore

extension DiagnosticCode {
    /// A rule, budget or exception whose condition can never hold (contradictory ranges, a model of another tier, an always-true `unless`).
    package static let unmatchableCondition = UnmatchableCondition.code
}

/// `unmatchable-condition`: a `when` that ``ConditionAnalysis`` shows can never hold,
/// and a rule's `unless` that always holds when its `when` does.
package enum UnmatchableCondition: PolicySetRule {
    package static let description = RuleDescription(
        id: "unmatchable-condition", severity: .warning, stage: .meaning,
        summary: "A rule, budget or exception whose condition can never hold (contradictory ranges, a model of another tier, an always-true `unless`).",
        triggering: [
            .policy(CheckCatalog.base + "rules:\n  - {id: r, when: {input_tokens: {gt: 100, lt: 50}}}\n"),
            .policy(CheckCatalog.base + "rules:\n  - {id: r, when: {model: gpt-5-mini, tier: frontier}}\n"),
            .policy(CheckCatalog.base + "rules:\n  - {id: r, when: {environment: dev}, unless: {}}\n"),
        ],
        nonTriggering: [.policy(CheckCatalog.base + "rules:\n  - {id: r, when: {input_tokens: {gt: 50, lt: 100}}}\n")])

    package static func validate(_ context: inout ValidationContext) {
        let policy = context.policy
        for budget in policy.budgets {
            if let when = budget.when { contradiction(when, owner: "budget \"\(budget.id)\"", &context) }
        }
        for rule in policy.rules {
            if let when = rule.when { contradiction(when, owner: "rule \"\(rule.id)\"", &context) }
            guard let unless = rule.unless else { continue }
            if unless.clauses.isEmpty {
                context.report(finding("rule \"\(rule.id)\" can never match: an empty unless always holds"), at: unless.location)
            } else if let when = rule.when, Set(unless.clauses.map(ClauseKey.init)).isSubset(of: Set(when.clauses.map(ClauseKey.init))) {
                context.report(finding("rule \"\(rule.id)\" can never match: whenever its when holds, its unless holds too"), at: unless.location)
            }
        }
        for exception in policy.exceptions {
            if let when = exception.when { contradiction(when, owner: "exception \"\(exception.id)\"", &context) }
        }
    }

    private static func contradiction(_ condition: Condition, owner: String, _ context: inout ValidationContext) {
        if let reason = context.analysis.contradiction(in: condition) {
            context.report(finding("\(owner) can never match: \(reason)"), at: condition.location)
        }
    }

    /// A clause without its location, to compare clauses written in two places.
    private struct ClauseKey: Hashable {
        let attribute: Condition.Attribute
        let matchers: [String]
        init(_ clause: Condition.Clause) {
            attribute = clause.attribute
            matchers = clause.matchers.map { "\($0.op.rawValue):\($0.operands.map(\.value.description).joined(separator: ","))" }
        }
    }
}
