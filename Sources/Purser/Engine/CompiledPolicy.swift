/// A policy set compiled for evaluation: immutable, `Sendable`, with every
/// name interned and every approval precomputed, so that a decision is a
/// handful of lookups whatever the number of rules (Cedar's and OPA's
/// parse → validate → compile → evaluate).
///
/// ```swift
/// let policy = try CompiledPolicy(PolicySet.load(paths: ["policies"]).policy!)
/// ```
public final class CompiledPolicy: Sendable {
    /// The validated policy this was compiled from.
    public let source: PolicySet
    /// `sha256:…` of the policy files.
    public var revision: String { source.revision }

    let settings: Settings
    let zone: ZoneRules
    let tiers: [String]

    let models: [CompiledModel]
    let modelLookup: [String: Int32]
    let providers: Interner
    let environments: [CompiledEnvironment]
    let environmentLookup: [String: Int32]
    let teams: [CompiledTeam]
    let teamLookup: [String: Int32]
    let regions: Interner
    /// `regions.allowed`, nil when any region is allowed.
    let allowedRegions: IDSet?
    let allowedRegionsLocation: SourceLocation?
    /// `regions.fallbacks` by region id.
    let regionFallbacks: [[Int32]]

    let rules: [CompiledRule]
    let ruleIndex: DefinitionIndex
    let budgets: [CompiledBudget]
    let budgetIndex: DefinitionIndex
    /// Whether any USD budget exists (for `unpriced-model`).
    let hasUSDBudgets: Bool
    let exceptions: [CompiledException]
    /// Exceptions by the id they waive.
    let exceptionsByTarget: [String: [Int32]]
    /// Whether any condition uses `hour` or `weekday` (else local time is not computed).
    let usesLocalTime: Bool

    /// Compiles a validated policy. Throws only if the time zone cannot be loaded.
    public init(_ policy: PolicySet) throws(PolicyCompileError) {
        source = policy
        settings = policy.settings
        guard let zone = policy.settings.timezoneIdentifier == "UTC" ? ZoneRules.utc : ZoneRules(identifier: policy.settings.timezoneIdentifier) else {
            throw PolicyCompileError("the time zone \(policy.settings.timezoneIdentifier) is not available on this system")
        }
        self.zone = zone
        tiers = policy.settings.tiers.map(\.value)

        // Names.
        var providers = Interner()
        var regions = Interner()
        for model in policy.models {
            providers.intern(model.provider)
            for region in model.regions ?? [] { regions.intern(region.value) }
        }
        for region in policy.regions.allowed ?? [] { regions.intern(region.value) }
        for environment in policy.environments { for region in environment.regions ?? [] { regions.intern(region.value) } }
        for team in policy.teams { for region in team.regions ?? [] { regions.intern(region.value) } }
        for fallback in policy.regions.fallbacks {
            regions.intern(fallback.region.value)
            for target in fallback.targets { regions.intern(target.value) }
        }
        var modelLookup: [String: Int32] = [:]
        for (index, model) in policy.models.enumerated() {
            modelLookup[model.name] = Int32(index)
            for alias in model.aliases where modelLookup[alias.value] == nil { modelLookup[alias.value] = Int32(index) }
        }
        self.modelLookup = modelLookup
        let environmentLookup = Dictionary(policy.environments.enumerated().map { ($1.name, Int32($0)) }, uniquingKeysWith: { a, _ in a })
        let teamLookup = Dictionary(policy.teams.enumerated().map { ($1.name, Int32($0)) }, uniquingKeysWith: { a, _ in a })
        self.environmentLookup = environmentLookup
        self.teamLookup = teamLookup

        let modelCount = policy.models.count
        let regionSet = { (names: [Located<String>]?) -> IDSet? in
            names.map { IDSet(capacity: regions.count, $0.map { regions.id($0.value) }) }
        }
        let modelSet = { (patterns: [Located<String>]) -> IDSet in
            IDSet(capacity: modelCount, policy.models.indices.filter { index in
                patterns.contains { EnvironmentApproval.matches($0.value, policy.models[index]) }
            }.map(Int32.init))
        }

        models = policy.models.map { model in
            CompiledModel(
                name: model.name, provider: providers.id(model.provider), providerName: model.provider,
                tier: Int32(policy.settings.tiers.firstIndex { $0.value == model.tier.value } ?? 0),
                price: model.price, regions: regionSet(model.regions), regionOrder: model.regions?.map { regions.id($0.value) },
                fallbacks: model.fallbacks.compactMap { modelLookup[$0.value] }, location: model.location)
        }
        environments = policy.environments.map { environment in
            CompiledEnvironment(
                name: environment.name,
                approved: IDSet(capacity: modelCount, policy.models.indices.filter {
                    EnvironmentApproval.approves(environment, model: policy.models[$0], settings: policy.settings)
                }.map(Int32.init)),
                regions: regionSet(environment.regions), regionOrder: environment.regions?.map { regions.id($0.value) },
                location: environment.location)
        }
        teams = policy.teams.map { team in
            CompiledTeam(
                name: team.name,
                environments: team.environments.map { names in
                    IDSet(capacity: policy.environments.count, names.compactMap { name in policy.environments.firstIndex { $0.name == name.value }.map(Int32.init) })
                },
                models: team.models.map(modelSet), regions: regionSet(team.regions),
                regionOrder: team.regions?.map { regions.id($0.value) },
                maxRequestCost: team.maxRequestCost, location: team.location)
        }
        allowedRegions = regionSet(policy.regions.allowed)
        allowedRegionsLocation = policy.regions.allowedLocation
        var fallbacks = [[Int32]](repeating: [], count: regions.count)
        for fallback in policy.regions.fallbacks {
            fallbacks[Int(regions.id(fallback.region.value))] = fallback.targets.map { regions.id($0.value) }
        }
        regionFallbacks = fallbacks
        self.providers = providers
        self.regions = regions

        // Conditions, rules, budgets, exceptions.
        let compiler = ConditionCompiler(
            policy: policy, modelLookup: modelLookup, environmentLookup: environmentLookup, teamLookup: teamLookup,
            providers: providers)
        let rules = policy.rules.map { rule in
            CompiledRule(definition: rule, when: rule.when.map(compiler.compile), unless: rule.unless.map(compiler.compile))
        }
        let budgets = policy.budgets.map { budget in
            CompiledBudget(definition: budget, when: budget.when.map(compiler.compile), team: budget.team.flatMap { teamLookup[$0] })
        }
        self.rules = rules
        self.budgets = budgets
        let teamCount = policy.teams.count
        let environmentCount = policy.environments.count
        ruleIndex = DefinitionIndex(
            pins: rules.map { $0.when?.pinned }, teams: teamCount, models: modelCount, environments: environmentCount)
        budgetIndex = DefinitionIndex(
            pins: budgets.map { budget in budget.team.map { (.team, [$0]) } ?? budget.when?.pinned },
            teams: teamCount, models: modelCount, environments: environmentCount)
        hasUSDBudgets = policy.budgets.contains { $0.limits.usd != nil || $0.overrides.values.contains { $0.value.usd != nil } }
        let zoneRules = zone
        exceptions = policy.exceptions.map { exception in
            CompiledException(
                id: exception.id, when: exception.when.map(compiler.compile),
                expiresAt: ExceptionExpiry.end(of: exception.expires.value, in: zoneRules), location: exception.location)
        }
        var byTarget: [String: [Int32]] = [:]
        for (index, exception) in policy.exceptions.enumerated() {
            for target in exception.waives { byTarget[target.value, default: []].append(Int32(index)) }
        }
        exceptionsByTarget = byTarget
        let conditions = policy.rules.flatMap { [$0.when, $0.unless] } + policy.budgets.map(\.when) + policy.exceptions.map(\.when)
        usesLocalTime = conditions.contains { condition in
            condition?.clauses.contains { $0.attribute == .hour || $0.attribute == .weekday } ?? false
        }
    }
}

/// Why a policy could not be compiled.
public struct PolicyCompileError: Error, Sendable, CustomStringConvertible {
    /// What failed.
    public let message: String

    init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

struct CompiledModel: Sendable {
    let name: String
    let provider: Int32
    let providerName: String
    let tier: Int32
    let price: Price?
    /// Where it is served; nil means anywhere.
    let regions: IDSet?
    let regionOrder: [Int32]?
    let fallbacks: [Int32]
    let location: SourceLocation
}

struct CompiledEnvironment: Sendable {
    let name: String
    let approved: IDSet
    let regions: IDSet?
    let regionOrder: [Int32]?
    let location: SourceLocation
}

struct CompiledTeam: Sendable {
    let name: String
    let environments: IDSet?
    let models: IDSet?
    let regions: IDSet?
    let regionOrder: [Int32]?
    let maxRequestCost: Located<USD>?
    let location: SourceLocation
}

struct CompiledRule: Sendable {
    let definition: RuleDefinition
    let when: CompiledCondition?
    let unless: CompiledCondition?
}

struct CompiledBudget: Sendable {
    let definition: BudgetDefinition
    let when: CompiledCondition?
    /// For team shorthand: the only team whose requests count.
    let team: Int32?
}

struct CompiledException: Sendable {
    let id: String
    let when: CompiledCondition?
    let expiresAt: Timestamp
    let location: SourceLocation
}

/// Buckets of definitions (rules or budgets) by the team, model or
/// environment their condition pins, plus those pinned to nothing. A request
/// looks at four short lists instead of every definition.
struct DefinitionIndex: Sendable {
    let byTeam: [[Int32]]
    let byModel: [[Int32]]
    let byEnvironment: [[Int32]]
    let unpinned: [Int32]

    init(pins: [(attribute: CompiledCondition.IDAttribute, ids: [Int32])?], teams: Int, models: Int, environments: Int) {
        var byTeam = [[Int32]](repeating: [], count: teams)
        var byModel = [[Int32]](repeating: [], count: models)
        var byEnvironment = [[Int32]](repeating: [], count: environments)
        var unpinned: [Int32] = []
        for (index, pin) in pins.enumerated() {
            let definition = Int32(index)
            switch pin?.attribute {
            case .team?: for id in pin?.ids ?? [] { byTeam[Int(id)].append(definition) }
            case .model?: for id in pin?.ids ?? [] { byModel[Int(id)].append(definition) }
            case .environment?: for id in pin?.ids ?? [] { byEnvironment[Int(id)].append(definition) }
            default: unpinned.append(definition)
            }
        }
        self.byTeam = byTeam
        self.byModel = byModel
        self.byEnvironment = byEnvironment
        self.unpinned = unpinned
    }

    /// The definitions that may apply, in definition order.
    @inline(__always)
    func candidates(team: Int32, model: Int32, environment: Int32, into result: inout [Int32]) {
        result.removeAll(keepingCapacity: true)
        result.append(contentsOf: unpinned)
        if team >= 0 { result.append(contentsOf: byTeam[Int(team)]) }
        if model >= 0 { result.append(contentsOf: byModel[Int(model)]) }
        if environment >= 0 { result.append(contentsOf: byEnvironment[Int(environment)]) }
        if result.count > 1 { result.sort() }
    }
}

/// Compiles `Condition`s against interned names.
struct ConditionCompiler {
    let policy: PolicySet
    let modelLookup: [String: Int32]
    let environmentLookup: [String: Int32]
    let teamLookup: [String: Int32]
    let providers: Interner

    func compile(_ condition: Condition) -> CompiledCondition {
        var tests: [CompiledCondition.Test] = []
        var pins: [CompiledCondition.IDAttribute: [Int32]] = [:]
        for clause in condition.clauses {
            for matcher in clause.matchers {
                guard let test = compile(clause.attribute, matcher) else { continue }
                tests.append(test)
                if matcher.op == .equals || matcher.op == .in, case .id(let attribute, _, false, nil) = test {
                    let ids = matcher.operands.compactMap { idOf(attribute, $0.value) }
                    if ids.count == matcher.operands.count { pins[attribute] = ids }
                }
            }
        }
        // Most selective first: teams outnumber models, which outnumber environments.
        let pinned = [CompiledCondition.IDAttribute.team, .model, .environment].lazy.compactMap { attribute in
            pins[attribute].map { (attribute: attribute, ids: $0) }
        }.first
        return CompiledCondition(tests: tests, pinned: pinned)
    }

    private func idAttribute(_ attribute: Condition.Attribute) -> CompiledCondition.IDAttribute? {
        switch attribute {
        case .team: return .team
        case .environment: return .environment
        case .model: return .model
        case .provider: return .provider
        case .tier: return .tier
        default: return nil
        }
    }

    private func idOf(_ attribute: CompiledCondition.IDAttribute, _ operand: Condition.Operand) -> Int32? {
        guard case .text(let name) = operand else { return nil }
        switch attribute {
        case .team: return teamLookup[name]
        case .environment: return environmentLookup[name]
        case .model: return modelLookup[name]
        case .provider: return providers.ids[name]
        case .tier: return policy.settings.tiers.firstIndex { $0.value == name }.map(Int32.init)
        }
    }

    private func names(_ attribute: CompiledCondition.IDAttribute) -> [String] {
        switch attribute {
        case .team: return policy.teams.map(\.name)
        case .environment: return policy.environments.map(\.name)
        case .model: return policy.models.map(\.name)
        case .provider: return providers.names
        case .tier: return policy.settings.tiers.map(\.value)
        }
    }

    private func compile(_ attribute: Condition.Attribute, _ matcher: Condition.Matcher) -> CompiledCondition.Test? {
        let texts = matcher.operands.compactMap { operand -> String? in
            if case .text(let text) = operand.value { return text }
            return nil
        }
        let numbers = matcher.operands.compactMap { operand -> Int64? in
            switch operand.value {
            case .integer(let value): return value
            case .text(let text): return ConditionDecoder.weekdays.firstIndex(of: text).map(Int64.init)
            case .flag: return nil
            }
        }
        if let id = idAttribute(attribute) {
            let capacity = names(id).count
            switch matcher.op {
            case .equals, .in:
                return .id(id, IDSet(capacity: capacity, texts.compactMap { idOf(id, .text($0)) }), negate: false, glob: nil)
            case .notIn:
                return .id(id, IDSet(capacity: capacity, texts.compactMap { idOf(id, .text($0)) }), negate: true, glob: nil)
            case .glob:
                let pattern = texts.first ?? ""
                let all = names(id)
                var matching = all.indices.filter { TextMatching.glob(pattern, matches: all[$0]) }.map(Int32.init)
                if id == .model {  // a model matches through its aliases too
                    matching = policy.models.indices.filter { EnvironmentApproval.matches(pattern, policy.models[$0]) }.map(Int32.init)
                }
                return .id(id, IDSet(capacity: capacity, matching), negate: false, glob: pattern)
            case .gt, .gte, .lt, .lte:
                guard let rank = texts.first.flatMap({ idOf(.tier, .text($0)) }) else { return nil }
                let ranks = (0..<Int32(capacity)).filter { value in
                    switch matcher.op {
                    case .gt: return value > rank
                    case .gte: return value >= rank
                    case .lt: return value < rank
                    default: return value <= rank
                    }
                }
                return .id(id, IDSet(capacity: capacity, ranks), negate: false, glob: nil)
            case .exists:
                if case .flag(let flag) = matcher.operands.first?.value { return .exists(nil, id, flag) }
                return nil
            }
        }
        let number: CompiledCondition.NumberAttribute?
        let text: CompiledCondition.TextAttribute?
        switch attribute {
        case .region: (number, text) = (nil, .region)
        case .user: (number, text) = (nil, .user)
        case .tag(let key): (number, text) = (nil, .tag(key))
        case .inputTokens: (number, text) = (.inputTokens, nil)
        case .cachedInputTokens: (number, text) = (.cachedInputTokens, nil)
        case .cacheWriteTokens: (number, text) = (.cacheWriteTokens, nil)
        case .outputTokens: (number, text) = (.outputTokens, nil)
        case .totalTokens: (number, text) = (.totalTokens, nil)
        case .cost: (number, text) = (.cost, nil)
        case .hour: (number, text) = (.hour, nil)
        case .weekday: (number, text) = (.weekday, nil)
        default: (number, text) = (nil, nil)
        }
        if let text {
            switch matcher.op {
            case .equals, .in: return .text(text, Set(texts), negate: false)
            case .notIn: return .text(text, Set(texts), negate: true)
            case .glob: return .textGlob(text, texts.first ?? "")
            case .exists:
                if case .flag(let flag) = matcher.operands.first?.value { return .exists(text, nil, flag) }
                return nil
            default: return nil
            }
        }
        guard let number else { return nil }
        switch matcher.op {
        case .equals, .in: return .numbers(number, Set(numbers), negate: false)
        case .notIn: return .numbers(number, Set(numbers), negate: true)
        case .gt: return numbers.first.map { .range(number, ($0 == Int64.max ? $0 : $0 + 1)...Int64.max) }
        case .gte: return numbers.first.map { .range(number, $0...Int64.max) }
        case .lt: return numbers.first.map { $0 == Int64.min ? .numbers(number, [], negate: false) : .range(number, Int64.min...($0 - 1)) }
        case .lte: return numbers.first.map { .range(number, Int64.min...$0) }
        case .exists:
            if case .flag(let flag) = matcher.operands.first?.value { return .exists(nil, nil, flag) }
            return nil
        case .glob: return nil
        }
    }
}
