import PurserCore

extension DiagnosticCode {
    /// A name that is not defined: a model, environment, team, region, tier, provider, price key, or a `waives` id.
    package static let undefinedReference = UndefinedReference.code
}

/// `undefined-reference`: every name a policy uses must be defined. Checked on the
/// assembled set (so fragments can refer to each other); `price_key` look-ups are
/// reported by the assembler, with ``priceKey(_:tables:known:suggestion:)``.
package enum UndefinedReference: PolicySetRule {
    package static let description = RuleDescription(
        id: "undefined-reference", stage: .meaning,
        summary: "A name that is not defined: a model, environment, team, region, tier, provider, price key, or a `waives` id.",
        triggering: [
            .policy(CheckCatalog.base + "  qa: {models: [gpt-5-mnii]}\n"),
            .policy(CheckCatalog.base + "teams:\n  payments: {environments: [prod]}\n"),
            .policy(CheckCatalog.base.replacingOccurrences(of: "tier: small", with: "tier: tiny")),
        ],
        nonTriggering: [.policy(CheckCatalog.base + "  qa: {models: [gpt-5-mini]}\nteams:\n  payments: {environments: [dev, qa]}\n")])

    /// Walks the policy in one fixed order (catalog, environments, teams, regions,
    /// budgets, rules, exceptions), so that the limited "did you mean" look-ups go
    /// to the same names every time.
    package static func validate(_ context: inout ValidationContext) {
        let policy = context.policy
        for model in policy.models {
            let path = "models.\(model.name)"
            tier(model.tier, context: "\(path).tier", &context)
            for fallback in model.fallbacks where !context.isSelfFallback(fallback, of: model) {
                modelPattern(fallback, context: "\(path).fallbacks", &context)
            }
        }
        for environment in policy.environments {
            let path = "environments.\(environment.name)"
            for pattern in environment.models ?? [] { modelPattern(pattern, context: "\(path).models", &context) }
            for pattern in environment.exclude { modelPattern(pattern, context: "\(path).exclude", &context) }
            for name in environment.tiers ?? [] { tier(name, context: "\(path).tiers", &context) }
            for name in environment.regions ?? [] { region(name, context: "\(path).regions", &context) }
        }
        for team in policy.teams {
            let path = "teams.\(team.name)"
            for name in team.environments ?? [] {
                reference(name, "environment", in: context.environments, context: "\(path).environments", &context)
            }
            for pattern in team.models ?? [] { modelPattern(pattern, context: "\(path).models", &context) }
            for name in team.regions ?? [] { region(name, context: "\(path).regions", &context) }
        }
        if let allowed = context.allowedRegions {
            for model in policy.models {
                for name in model.regions ?? [] where !allowed.contains(name.value) {
                    let hint = context.suggestions.didYouMean(name.value, among: allowed)
                    context.report(finding("models.\(model.name).regions names \"\(name.value)\", which is not in regions.allowed, so traffic can never run there\(hint)", severity: .warning), at: name.location)
                }
            }
        }
        for fallback in policy.regions.fallbacks {
            region(fallback.region, context: "regions.fallbacks", &context)
            for target in fallback.targets where target.value != fallback.region.value {
                region(target, context: "regions.fallbacks.\(fallback.region.value)", &context)
            }
        }
        for alias in policy.regions.aliases {
            region(alias.region, context: "regions.aliases.\(alias.alias.value)", &context)
        }
        for budget in policy.budgets {
            let path = "budgets.\(budget.id)"
            if let when = budget.when { condition(when, context: "\(path).when", &context) }
            for entry in context.limitKeys(of: budget) {
                for (scope, value) in entry.parts ?? [] {
                    let name = Located(value, at: entry.limits.location)
                    switch scope {
                    case .team: reference(name, "team", in: context.teams, context: "\(path).limits", &context)
                    case .environment: reference(name, "environment", in: context.environments, context: "\(path).limits", &context)
                    case .model where context.aliases[value] == nil:
                        reference(name, "model", in: context.modelNames, context: "\(path).limits", &context)
                    case .provider: reference(name, "provider", in: context.providers, context: "\(path).limits", &context)
                    case .model, .org, .user, .tag: break
                    }
                }
            }
        }
        for rule in policy.rules {
            if let when = rule.when { condition(when, context: "rules.\(rule.id).when", &context) }
            if let unless = rule.unless { condition(unless, context: "rules.\(rule.id).unless", &context) }
        }
        let builtins = Set(BuiltinCheck.allCases.map(\.rawValue))
        for exception in policy.exceptions {
            let path = "exceptions.\(exception.id)"
            for waived in exception.waives
            where !(context.ruleIds.contains(waived.value) || context.budgetIds.contains(waived.value) || builtins.contains(waived.value)) {
                let known = context.ruleIds.union(context.budgetIds).union(builtins)
                let hint = context.suggestions.didYouMean(waived.value, among: known)
                context.report(finding("\(path).waives names \"\(waived.value)\", which is not a rule id, budget id or built-in check\(hint)"), at: waived.location)
            }
            if let when = exception.when { condition(when, context: "\(path).when", &context) }
        }
    }

    /// A `price_key` that no price source prices (reported while the policy set is assembled).
    package static func priceKey(_ key: String, hasSources: Bool, unpriced: Bool, suggestion: () -> String) -> Finding {
        finding(!hasSources
            ? "price_key \"\(key)\" needs price_sources, and none are defined"
            : unpriced
                ? "price_key \"\(key)\" has no input and output token prices in the price sources"
                : "price_key \"\(key)\" is not in any price source\(suggestion())")
    }

    // MARK: Names

    private static func reference(_ name: Located<String>, _ what: String, in known: Set<String>, context path: String,
                                  _ context: inout ValidationContext)
    {
        guard !known.contains(name.value) else { return }
        let suggestion = context.suggestions.didYouMean(name.value, among: known)
        let hint = known.isEmpty ? "; no \(what)s are defined" : suggestion
        context.report(finding("\(path) names the \(what) \"\(name.value)\", which is not defined\(hint)"), at: name.location)
    }

    private static func tier(_ name: Located<String>, context path: String, _ context: inout ValidationContext) {
        let tiers = context.tiers
        guard !tiers.contains(name.value) else { return }
        let hint = context.suggestions.didYouMean(name.value, among: tiers)
        context.report(finding("\(path) names the tier \"\(name.value)\", which is not in settings.tiers (\(tiers.joined(separator: ", ")))\(hint)"), at: name.location)
    }

    private static func region(_ name: Located<String>, context path: String, _ context: inout ValidationContext) {
        guard let allowed = context.allowedRegions, !allowed.contains(name.value) else { return }
        let hint = context.suggestions.didYouMean(name.value, among: allowed)
        context.report(finding("\(path) names the region \"\(name.value)\", which is not in regions.allowed\(hint)"), at: name.location)
    }

    /// A model name, alias or glob in an allow-list; plain names must resolve, globs should match something.
    private static func modelPattern(_ pattern: Located<String>, context path: String, _ context: inout ValidationContext) {
        if TextMatching.isGlob(pattern.value) {
            let matches = context.policy.models.contains { model in
                TextMatching.glob(pattern.value, matches: model.name)
                    || model.aliases.contains { TextMatching.glob(pattern.value, matches: $0.value) }
            }
            if !matches {
                context.report(finding("\(path): the pattern \"\(pattern.value)\" matches no model in the catalog", severity: .warning), at: pattern.location)
            }
            return
        }
        if context.modelNames.contains(pattern.value) || context.aliases[pattern.value] != nil { return }
        reference(pattern, "model", in: context.modelNames.union(context.aliases.keys), context: path, &context)
    }

    /// The names a condition's operands use (globs and `exists` name nothing).
    private static func condition(_ condition: Condition, context path: String, _ context: inout ValidationContext) {
        for clause in condition.clauses {
            for matcher in clause.matchers where matcher.op != .glob && matcher.op != .exists {
                for operand in matcher.operands {
                    guard case .text(let text) = operand.value else { continue }
                    let name = Located(text, at: operand.location)
                    switch clause.attribute {
                    case .team: reference(name, "team", in: context.teams, context: path, &context)
                    case .environment: reference(name, "environment", in: context.environments, context: path, &context)
                    case .model:
                        if context.modelNames.contains(text) || context.aliases[text] != nil { continue }
                        reference(name, "model", in: context.modelNames, context: path, &context)
                    case .provider: reference(name, "provider", in: context.providers, context: path, &context)
                    case .tier: tier(name, context: path, &context)
                    case .region: region(name, context: path, &context)
                    default: break
                    }
                }
            }
        }
    }
}
