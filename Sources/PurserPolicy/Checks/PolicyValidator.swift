import PurserYAML
import PurserCore
import Foundation

/// The meaning checks of `purser check`: references resolve, fallbacks can
/// be used and do not loop, budgets can price what they cap, exceptions are
/// current, conditions can match.
package struct PolicyValidator {
    package let policy: PolicySet
    package let options: PolicyLoadOptions
    package private(set) var diagnostics: [Diagnostic] = []
    /// "Did you mean" look-ups left for undefined references.
    private var suggestions = SuggestionBudget()

    private let tiers: [String]
    private let analysis: ConditionAnalysis
    private let modelNames: Set<String>
    private let aliases: [String: String]
    private let environments: Set<String>
    private let teams: Set<String>
    private let providers: Set<String>
    private let allowedRegions: Set<String>?
    private let budgetIds: Set<String>
    private let ruleIds: Set<String>

    package init(policy: PolicySet, options: PolicyLoadOptions) {
        self.policy = policy
        self.options = options
        tiers = policy.settings.tiers.map(\.value)
        analysis = ConditionAnalysis(policy: policy)
        modelNames = Set(policy.models.map(\.name))
        var aliases: [String: String] = [:]
        for model in policy.models {
            for alias in model.aliases { aliases[alias.value] = model.name }
        }
        self.aliases = aliases
        environments = Set(policy.environments.map(\.name))
        teams = Set(policy.teams.map(\.name))
        providers = Set(policy.models.map(\.provider))
        allowedRegions = policy.regions.allowed.map { Set($0.map(\.value)) }
        budgetIds = Set(policy.budgets.map(\.id))
        ruleIds = Set(policy.rules.map(\.id))
    }

    package mutating func run() {
        checkCatalog()
        checkEnvironments()
        checkTeams()
        checkRegions()
        checkBudgets()
        checkRules()
        checkExceptions()
        checkFallbacks()
        checkUnpricedModels()
    }

    private mutating func report(_ code: DiagnosticCode, _ message: String, at location: SourceLocation,
                                 severity: Diagnostic.Severity? = nil)
    {
        diagnostics.append(Diagnostic(code, severity ?? code.defaultSeverity, message, at: location))
    }

    // MARK: References

    private mutating func reference(_ name: Located<String>, _ what: String, in known: Set<String>, context: String) {
        guard !known.contains(name.value) else { return }
        let suggestion = suggestions.didYouMean(name.value, among: known)
        let hint = known.isEmpty ? "; no \(what)s are defined" : suggestion
        report(.undefinedReference, "\(context) names the \(what) \"\(name.value)\", which is not defined\(hint)", at: name.location)
    }

    private mutating func tier(_ name: Located<String>, context: String) {
        guard !tiers.contains(name.value) else { return }
        report(.undefinedReference, "\(context) names the tier \"\(name.value)\", which is not in settings.tiers (\(tiers.joined(separator: ", ")))\(suggestions.didYouMean(name.value, among: tiers))", at: name.location)
    }

    private mutating func region(_ name: Located<String>, context: String) {
        guard let allowed = allowedRegions, !allowed.contains(name.value) else { return }
        report(.undefinedReference, "\(context) names the region \"\(name.value)\", which is not in regions.allowed\(suggestions.didYouMean(name.value, among: allowed))", at: name.location)
    }

    /// A model name, alias or glob in an allow-list; plain names must resolve, globs should match something.
    private mutating func modelPattern(_ pattern: Located<String>, context: String) {
        if TextMatching.isGlob(pattern.value) {
            let matches = policy.models.contains { model in
                TextMatching.glob(pattern.value, matches: model.name)
                    || model.aliases.contains { TextMatching.glob(pattern.value, matches: $0.value) }
            }
            if !matches {
                report(.undefinedReference, "\(context): the pattern \"\(pattern.value)\" matches no model in the catalog", at: pattern.location, severity: .warning)
            }
            return
        }
        if modelNames.contains(pattern.value) || aliases[pattern.value] != nil { return }
        reference(pattern, "model", in: modelNames.union(aliases.keys), context: context)
    }

    // MARK: Sections

    private mutating func checkCatalog() {
        for model in policy.models {
            let context = "models.\(model.name)"
            tier(model.tier, context: "\(context).tier")
            for fallback in model.fallbacks {
                if fallback.value == model.name || aliases[fallback.value] == model.name {
                    report(.fallbackCycle, "\(context).fallbacks lists the model itself", at: fallback.location)
                } else {
                    modelPattern(fallback, context: "\(context).fallbacks")
                    if TextMatching.isGlob(fallback.value) {
                        report(.invalidValue, "\(context).fallbacks must name models, not patterns", at: fallback.location)
                    }
                }
            }
        }
    }

    private mutating func checkEnvironments() {
        for environment in policy.environments {
            let context = "environments.\(environment.name)"
            for pattern in environment.models ?? [] { modelPattern(pattern, context: "\(context).models") }
            for pattern in environment.exclude { modelPattern(pattern, context: "\(context).exclude") }
            for name in environment.tiers ?? [] { tier(name, context: "\(context).tiers") }
            for name in environment.regions ?? [] { region(name, context: "\(context).regions") }
            emptyList(environment.models, "\(context).models", "no model is approved here", at: environment.location)
            emptyList(environment.tiers, "\(context).tiers", "no model is approved here", at: environment.location)
            if environment.exclude.contains(where: { $0.value == "*" }) {
                report(.invalidValue, "\(context).exclude has \"*\", so no model is approved here", at: environment.location, severity: .warning)
            }
        }
    }

    private mutating func checkTeams() {
        for team in policy.teams {
            let context = "teams.\(team.name)"
            for name in team.environments ?? [] { reference(name, "environment", in: environments, context: "\(context).environments") }
            for pattern in team.models ?? [] { modelPattern(pattern, context: "\(context).models") }
            for name in team.regions ?? [] { region(name, context: "\(context).regions") }
            emptyList(team.environments, "\(context).environments", "the team may run nowhere", at: team.location)
            emptyList(team.models, "\(context).models", "the team may use no model", at: team.location)
            emptyList(team.regions, "\(context).regions", "the team's traffic may run in no region", at: team.location)
        }
    }

    /// An explicitly empty list that forbids everything is almost always a mistake.
    private mutating func emptyList(_ list: [Located<String>]?, _ path: String, _ consequence: String, at location: SourceLocation) {
        guard let list, list.isEmpty else { return }
        report(.invalidValue, "\(path) is empty, so \(consequence); remove the key to lift the restriction", at: location, severity: .warning)
    }

    private mutating func checkRegions() {
        if let allowed = policy.regions.allowed, allowed.isEmpty {
            report(.invalidValue, "regions.allowed is empty, so no traffic may run anywhere; remove the key to allow every region", at: policy.regions.allowedLocation ?? SourceLocation(file: policy.files.first ?? "."), severity: .warning)
        }
        if let allowed = allowedRegions {
            for model in policy.models {
                for name in model.regions ?? [] where !allowed.contains(name.value) {
                    report(.undefinedReference, "models.\(model.name).regions names \"\(name.value)\", which is not in regions.allowed, so traffic can never run there\(suggestions.didYouMean(name.value, among: allowed))", at: name.location, severity: .warning)
                }
            }
        }
        for fallback in policy.regions.fallbacks {
            region(fallback.region, context: "regions.fallbacks")
            for target in fallback.targets {
                if target.value == fallback.region.value {
                    report(.fallbackCycle, "regions.fallbacks.\(fallback.region.value) lists the region itself", at: target.location)
                } else {
                    region(target, context: "regions.fallbacks.\(fallback.region.value)")
                }
            }
        }
    }

    private mutating func checkBudgets() {
        for budget in policy.budgets {
            let context = "budgets.\(budget.id)"
            if let when = budget.when { checkCondition(when, context: "\(context).when", owner: "budget \"\(budget.id)\"", counts: true) }
            for (key, limits) in budget.overrides.sorted(by: { $0.key < $1.key }) {
                let parts = key.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
                guard parts.count == budget.scope.count else {
                    let example = budget.scope.map { "<\($0)>" }.joined(separator: "/")
                    report(.invalidValue, "\(context).limits key \"\(key)\" does not fit the scope \(budget.scope.map(\.description).joined(separator: ", ")); write it as \(example)", at: limits.location)
                    continue
                }
                for (part, value) in zip(budget.scope, parts) {
                    let located = Located(value, at: limits.location)
                    switch part {
                    case .team: reference(located, "team", in: teams, context: "\(context).limits")
                    case .environment: reference(located, "environment", in: environments, context: "\(context).limits")
                    case .model:
                        if let canonical = aliases[value] {
                            report(.invalidValue, "\(context).limits key \"\(value)\" is an alias of \(canonical); budget keys use canonical model names", at: limits.location)
                        } else {
                            reference(located, "model", in: modelNames, context: "\(context).limits")
                        }
                    case .provider: reference(located, "provider", in: providers, context: "\(context).limits")
                    case .org:
                        if value != "org" { report(.invalidValue, "\(context).limits: the org scope has the single key \"org\"", at: limits.location) }
                    case .user, .tag: break
                    }
                }
            }
        }
    }

    private mutating func checkRules() {
        for rule in policy.rules {
            let context = "rules.\(rule.id)"
            if let when = rule.when { checkCondition(when, context: "\(context).when", owner: "rule \"\(rule.id)\"", counts: true) }
            if let unless = rule.unless {
                checkCondition(unless, context: "\(context).unless", owner: "rule \"\(rule.id)\"", counts: false)
                if unless.clauses.isEmpty {
                    report(.unmatchableCondition, "rule \"\(rule.id)\" can never match: an empty unless always holds", at: unless.location)
                } else if let when = rule.when, Set(unless.clauses.map(ClauseKey.init)).isSubset(of: Set(when.clauses.map(ClauseKey.init))) {
                    report(.unmatchableCondition, "rule \"\(rule.id)\" can never match: whenever its when holds, its unless holds too", at: unless.location)
                }
            }
        }
    }

    /// A clause without its location, to compare clauses written in two places.
    private struct ClauseKey: Hashable {
        package let attribute: Condition.Attribute
        package let matchers: [String]
        package init(_ clause: Condition.Clause) {
            attribute = clause.attribute
            matchers = clause.matchers.map { "\($0.op.rawValue):\($0.operands.map(\.value.description).joined(separator: ","))" }
        }
    }

    private mutating func checkExceptions() {
        let builtins = Set(BuiltinCheck.allCases.map(\.rawValue))
        let now = options.now ?? Timestamp(nanoseconds: Int64(Date().timeIntervalSince1970 * 1e9))
        let zone = ZoneRules(identifier: policy.settings.timezoneIdentifier) ?? ZoneRules.utc
        for exception in policy.exceptions {
            let context = "exceptions.\(exception.id)"
            for waived in exception.waives where !(ruleIds.contains(waived.value) || budgetIds.contains(waived.value) || builtins.contains(waived.value)) {
                let known = ruleIds.union(budgetIds).union(builtins)
                report(.undefinedReference, "\(context).waives names \"\(waived.value)\", which is not a rule id, budget id or built-in check\(suggestions.didYouMean(waived.value, among: known))", at: waived.location)
            }
            if let when = exception.when { checkCondition(when, context: "\(context).when", owner: "exception \"\(exception.id)\"", counts: true) }
            let end = ExceptionExpiry.end(of: exception.expires.value, in: zone)
            if end <= now {
                report(.expiredException, "exception \"\(exception.id)\" expired on \(exception.expires.value); remove it or renew it with a new date", at: exception.expires.location)
            } else if end.nanoseconds - now.nanoseconds <= Int64(options.expiryWarningDays) * 86_400 * 1_000_000_000 {
                let days = (end.nanoseconds - now.nanoseconds) / (86_400 * 1_000_000_000)
                let when = days == 0 ? "within a day" : "in \(days) day\(days == 1 ? "" : "s")"
                report(.expiringException, "exception \"\(exception.id)\" expires \(when) (\(exception.expires.value)); renew it or plan for it to end", at: exception.expires.location)
            }
        }
    }

    // MARK: Conditions

    private mutating func checkCondition(_ condition: Condition, context: String, owner: String, counts: Bool) {
        for clause in condition.clauses {
            for matcher in clause.matchers where matcher.op != .glob && matcher.op != .exists {
                for operand in matcher.operands {
                    guard case .text(let text) = operand.value else { continue }
                    let name = Located(text, at: operand.location)
                    switch clause.attribute {
                    case .team: reference(name, "team", in: teams, context: context)
                    case .environment: reference(name, "environment", in: environments, context: context)
                    case .model:
                        if modelNames.contains(text) || aliases[text] != nil { continue }
                        reference(name, "model", in: modelNames, context: context)
                    case .provider: reference(name, "provider", in: providers, context: context)
                    case .tier: tier(name, context: context)
                    case .region: region(name, context: context)
                    default: break
                    }
                }
            }
        }
        if counts, let reason = analysis.contradiction(in: condition) {
            report(.unmatchableCondition, "\(owner) can never match: \(reason)", at: condition.location)
        }
    }

    // MARK: Fallbacks

    private mutating func checkFallbacks() {
        let models = Dictionary(policy.models.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        func canonical(_ name: String) -> String { aliases[name] ?? name }

        // Cycles: a → b → … → a through model fallbacks. The depth-first
        // search keeps its path on an explicit stack: a policy may chain
        // hundreds of thousands of fallbacks, too deep for recursion.
        var state: [String: Int] = [:]  // 1 on the current path, 2 done
        var reported: Set<String> = []
        for model in policy.models where state[model.name] == nil {
            var path: [(name: String, next: Int)] = [(model.name, 0)]
            state[model.name] = 1
            var cycle: [String]?
            while let top = path.last {
                let fallbacks = models[top.name]?.fallbacks ?? []
                guard top.next < fallbacks.count else {
                    state[top.name] = 2
                    path.removeLast()
                    continue
                }
                path[path.count - 1].next += 1
                let target = canonical(fallbacks[top.next].value)
                guard target != top.name, models[target] != nil else { continue }
                switch state[target] {
                case 2?:
                    continue
                case 1?:
                    let names = path.map(\.name)
                    cycle = Array(names[(names.firstIndex(of: target) ?? 0)...]) + [target]
                default:
                    state[target] = 1
                    path.append((target, 0))
                    continue
                }
                // The first cycle found from this model ends its search, as before.
                for entry in path { state[entry.name] = 2 }
                break
            }
            if let loop = cycle {
                let key = Set(loop).sorted().joined(separator: ",")
                if reported.insert(key).inserted, let first = models[loop[0]] {
                    let location = first.fallbacks.first { canonical($0.value) == loop[1] }?.location ?? first.location
                    report(.fallbackCycle, "model fallbacks form a cycle: \(loop.joined(separator: " → "))", at: location)
                }
            }
        }

        // Unusable fallbacks. Only fallback targets need an approval, and
        // plain names are looked up rather than compared one by one, so that
        // thousands of models and environment entries stay linear.
        let targets = Set(policy.models.flatMap { model in model.fallbacks.map { canonical($0.value) } })
        let approvals = policy.environments.map(EnvironmentApproval.Index.init)
        let approvedSomewhere = Set(policy.models.filter { model in
            targets.contains(model.name)
                && (approvals.isEmpty || approvals.contains { $0.approves(model, settings: policy.settings) })
        }.map(\.name))
        for model in policy.models {
            for fallback in model.fallbacks {
                let target = canonical(fallback.value)
                guard models[target] != nil, target != model.name else { continue }
                if !policy.settings.reroute {
                    report(.unusableFallback, "models.\(model.name).fallbacks is never used: settings.reroute is false", at: fallback.location)
                } else if !approvedSomewhere.contains(target) {
                    report(.unusableFallback, "the fallback \"\(target)\" of \(model.name) is approved in no environment, so it can never be used", at: fallback.location)
                } else if let regions = model.regions.map({ Set($0.map(\.value)) }),
                          let targetRegions = models[target]?.regions.map({ Set($0.map(\.value)) }),
                          regions.isDisjoint(with: targetRegions),
                          policy.regions.fallbacks.isEmpty
                {
                    report(.unusableFallback, "the fallback \"\(target)\" of \(model.name) is served in none of its regions and no region fallbacks exist", at: fallback.location)
                }
            }
        }
        if !policy.settings.reroute {
            for fallback in policy.regions.fallbacks {
                report(.unusableFallback, "regions.fallbacks.\(fallback.region.value) is never used: settings.reroute is false", at: fallback.region.location)
            }
        }
    }

    // MARK: Prices

    private mutating func checkUnpricedModels() {
        let usdBudgets = policy.budgets.filter { $0.limits.usd != nil || $0.overrides.values.contains { $0.value.usd != nil } }
        guard !usdBudgets.isEmpty else { return }
        for model in policy.models where model.price == nil {
            let applying = usdBudgets.filter { budget in
                guard let when = budget.when else { return true }
                return analysis.mayMatch(when, model: model)
            }
            guard !applying.isEmpty else { continue }
            let names = applying.prefix(3).map(\.id).joined(separator: ", ") + (applying.count > 3 ? ", …" : "")
            let effect = policy.settings.unpricedModel == .deny
                ? "its requests are denied unless they carry a cost (settings.unpriced_model: deny)"
                : "its requests count as $0 against them (settings.unpriced_model: allow)"
            report(.unpricedBudgetedModel, "model \"\(model.name)\" has no price, but USD budgets apply to it (\(names)); \(effect). Add price: or a price_key", at: model.location)
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
