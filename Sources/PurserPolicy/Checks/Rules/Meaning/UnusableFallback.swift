import PurserCore

extension DiagnosticCode {
    /// A fallback that can never be used: approved in no environment, never served where it is needed, or `settings.reroute` is false.
    package static let unusableFallback = UnusableFallback.code
}

/// `unusable-fallback`: a model or region fallback that rerouting can never take.
package enum UnusableFallback: PolicySetRule {
    package static let description = RuleDescription(
        id: "unusable-fallback", severity: .warning, stage: .meaning,
        summary: "A fallback that can never be used: approved in no environment, never served where it is needed, or `settings.reroute` is false.",
        triggering: [
            .policy(CheckCatalog.fallbackPair("frontier", "standard", after: "environments:\n  qa: {tiers: [small, frontier]}\n")),
            .policy(CheckCatalog.fallbackPair(settings: "settings: {reroute: false}\n")),
        ],
        nonTriggering: [.policy(CheckCatalog.fallbackPair("frontier", "standard", after: "environments:\n  qa: {tiers: [small, standard]}\n"))])

    /// Only fallback targets need an approval, and plain names are looked up rather
    /// than compared one by one, so that thousands of models and environment entries
    /// stay linear.
    package static func validate(_ context: inout ValidationContext) {
        let policy = context.policy
        let models = context.models
        let targets = Set(policy.models.flatMap { model in model.fallbacks.map { context.canonical($0.value) } })
        let approvals = policy.environments.map(EnvironmentApproval.Index.init)
        let approvedSomewhere = Set(policy.models.filter { model in
            targets.contains(model.name)
                && (approvals.isEmpty || approvals.contains { $0.approves(model, settings: policy.settings) })
        }.map(\.name))
        for model in policy.models {
            for fallback in model.fallbacks {
                let target = context.canonical(fallback.value)
                guard models[target] != nil, target != model.name else { continue }
                if !policy.settings.reroute {
                    context.report(finding("models.\(model.name).fallbacks is never used: settings.reroute is false"), at: fallback.location)
                } else if !approvedSomewhere.contains(target) {
                    context.report(finding("the fallback \"\(target)\" of \(model.name) is approved in no environment, so it can never be used"), at: fallback.location)
                } else if let regions = model.regions.map({ Set($0.map(\.value)) }),
                          let targetRegions = models[target]?.regions.map({ Set($0.map(\.value)) }),
                          regions.isDisjoint(with: targetRegions),
                          policy.regions.fallbacks.isEmpty
                {
                    context.report(finding("the fallback \"\(target)\" of \(model.name) is served in none of its regions and no region fallbacks exist"), at: fallback.location)
                }
            }
        }
        if !policy.settings.reroute {
            for fallback in policy.regions.fallbacks {
                context.report(finding("regions.fallbacks.\(fallback.region.value) is never used: settings.reroute is false"), at: fallback.region.location)
            }
        }
    }
}
