import PurserCore

extension DiagnosticCode {
    /// A model has no price, yet a USD budget applies to it, so its requests cannot be costed.
    package static let unpricedBudgetedModel = UnpricedBudgetedModel.code
}

/// `unpriced-budgeted-model`: a model without a price that a USD budget may count.
package enum UnpricedBudgetedModel: PolicySetRule {
    package static let description = RuleDescription(
        id: "unpriced-budgeted-model", severity: .warning, stage: .meaning,
        summary: "A model has no price, yet a USD budget applies to it, so its requests cannot be costed.",
        triggering: [.policy("version: 1\nmodels:\n  local-llama: {provider: self-hosted, tier: small}\nbudgets:\n  - {id: org-month, scope: org, period: month, limit: 1000}\n")],
        nonTriggering: [
            .policy("version: 1\nmodels:\n  local-llama: {provider: self-hosted, tier: small, price: {input: 0, output: 0}}\nbudgets:\n  - {id: org-month, scope: org, period: month, limit: 1000}\n"),
            .policy("version: 1\nmodels:\n  local-llama: {provider: self-hosted, tier: small}\nbudgets:\n  - {id: org-tokens, scope: org, period: day, tokens: 5000000}\n"),
        ])

    package static func validate(_ context: inout ValidationContext) {
        let policy = context.policy
        let usdBudgets = policy.budgets.filter { $0.limits.usd != nil || $0.overrides.values.contains { $0.value.usd != nil } }
        guard !usdBudgets.isEmpty else { return }
        for model in policy.models where model.price == nil {
            let applying = usdBudgets.filter { budget in
                guard let when = budget.when else { return true }
                return context.analysis.mayMatch(when, model: model)
            }
            guard !applying.isEmpty else { continue }
            let names = applying.prefix(3).map(\.id).joined(separator: ", ") + (applying.count > 3 ? ", …" : "")
            let effect = policy.settings.unpricedModel == .deny
                ? "its requests are denied unless they carry a cost (settings.unpriced_model: deny)"
                : "its requests count as $0 against them (settings.unpriced_model: allow)"
            context.report(finding("model \"\(model.name)\" has no price, but USD budgets apply to it (\(names)); \(effect). Add price: or a price_key"), at: model.location)
        }
    }
}

extension ConditionAnalysis {
    /// Whether a condition might hold for some request to this model (model, tier and provider clauses only).
    package func mayMatch(_ condition: Condition, model: ModelDefinition) -> Bool {
        for clause in condition.clauses {
            let value: String
            switch clause.attribute {
            case .model: value = model.name
            case .tier: value = model.tier.value
            case .provider: value = model.provider
            default: continue
            }
            for matcher in clause.matchers {
                let texts = matcher.operands.compactMap { operand -> String? in
                    if case .text(let text) = operand.value { return text }
                    return nil
                }
                let names = clause.attribute == .model ? [model.name] + model.aliases.map(\.value) : [value]
                switch matcher.op {
                case .equals, .in: if !names.contains(where: texts.contains) { return false }
                case .notIn: if names.contains(where: texts.contains) { return false }
                default: continue
                }
            }
        }
        return true
    }
}
