import PurserCore
import PurserPolicy
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
    package let source: PolicySet
    /// `sha256:…` of the policy files.
    public var revision: String { source.revision }

    package let settings: Settings
    /// The settings the evaluator reads on every request, as plain values.
    package let flags: Flags
    package let zone: ZoneRules
    package let tiers: [String]

    package let models: [CompiledModel]
    package let modelLookup: NameTable
    package let providers: Interner
    package let environments: [CompiledEnvironment]
    package let environmentLookup: NameTable
    package let teams: [CompiledTeam]
    package let teamLookup: NameTable
    package let regions: Interner
    /// `regions.aliases`: each alias by index into `regionAliasTargets`, the region it stands
    /// for (a name table: a cheaper hash than a dictionary's).
    private let regionAliasLookup: NameTable
    private let regionAliasTargets: [String]
    /// Whether `regions.aliases` names any alias.
    package let hasRegionAliases: Bool
    /// Whether requests may name each team (environment) by an alias, by id.
    package let teamHasAliases: [Bool]
    package let environmentHasAliases: [Bool]
    /// Whether any team, environment or region has an alias, so that requests' names are made
    /// canonical before evaluation (docs/evaluation.md, "Canonicalisation").
    package let hasNameAliases: Bool

    /// The region `name` is an alias of, or nil.
    @inline(__always)
    package func regionAlias(_ name: String) -> String? {
        regionAliasLookup[name].map { regionAliasTargets[Int($0)] }
    }
    /// `regions.allowed`, nil when any region is allowed.
    package let allowedRegions: IDSet?

    /// Whether `regions.allowed` lets traffic run in a region (by id).
    @inline(__always)
    package func allowsGlobally(_ region: Int32) -> Bool { allowedRegions?.contains(region) ?? true }
    package let allowedRegionsLocation: SourceLocation?
    /// `regions.allowed` in order, as ids.
    package let allowedRegionOrder: [Int32]?
    /// `regions.fallbacks` by region id.
    package let regionFallbacks: [[Int32]]

    package let rules: [CompiledRule]
    package let ruleIndex: DefinitionIndex
    package let budgets: [CompiledBudget]
    package let budgetIndex: DefinitionIndex
    /// Budget index by id.
    package let budgetLookup: NameTable
    /// Per model: its price as plain values, provider id and tier rank (read without touching a compiled object).
    package let modelRates: [Rates?]
    package let modelProviders: [Int32]
    package let modelTiers: [Int32]
    /// Per team: `max_request_cost` in nano-USD, or Int64.max.
    package let teamMaxRequestCosts: [Int64]
    /// Hashes of team, environment, model and provider names, for counter keys.
    package let teamHashes: [Int]
    package let environmentHashes: [Int]
    package let modelHashes: [Int]
    package let providerHashes: [Int]
    package let exceptions: [CompiledException]
    /// Every condition of the rules, budgets and exceptions; the heads refer to them by number.
    package let conditions: ConditionTable
    /// What the evaluator's loops read of each rule, budget and exception (plain values, same order).
    package let ruleHeads: [RuleHead]
    package let budgetHeads: [BudgetHead]
    /// The tag key of each budget scoped by one tag, "" for the others (by budget index).
    package let budgetTags: [String]
    package let exceptionHeads: [ExceptionHead]
    /// Exception indices, by what they waive: a ``Waivers`` range selects the exceptions naming one id.
    package let waiverItems: [Int32]
    /// The exceptions waiving each built-in check, by ``BuiltinCheck/ordinal``.
    package let checkWaivers: [Waivers]

    /// Compiles a validated policy. Throws only if the time zone cannot be loaded.
    public init(_ policy: PolicySet) throws(PolicyCompileError) {
        source = policy
        settings = policy.settings
        flags = Flags(policy.settings)
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
        var modelLookup = NameTable()
        for (index, model) in policy.models.enumerated() { modelLookup.insert(model.name, Int32(index)) }
        for (index, model) in policy.models.enumerated() {
            for alias in model.aliases { modelLookup.insert(alias.value, Int32(index)) }
        }
        self.modelLookup = modelLookup
        var environmentLookup = NameTable(policy.environments.map(\.name))
        for (index, environment) in policy.environments.enumerated() {
            for alias in environment.aliases { environmentLookup.insert(alias.value, Int32(index)) }
        }
        var teamLookup = NameTable(policy.teams.map(\.name))
        for (index, team) in policy.teams.enumerated() {
            for alias in team.aliases { teamLookup.insert(alias.value, Int32(index)) }
        }
        self.environmentLookup = environmentLookup
        self.teamLookup = teamLookup
        hasRegionAliases = !policy.regions.aliases.isEmpty
        regionAliasLookup = NameTable(policy.regions.aliases.map(\.alias.value))
        regionAliasTargets = policy.regions.aliases.map(\.region.value)
        teamHasAliases = policy.teams.map { !$0.aliases.isEmpty }
        environmentHasAliases = policy.environments.map { !$0.aliases.isEmpty }
        hasNameAliases = hasRegionAliases || policy.teams.contains { !$0.aliases.isEmpty }
            || policy.environments.contains { !$0.aliases.isEmpty }

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
        allowedRegionOrder = policy.regions.allowed?.map { regions.id($0.value) }
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
        budgetLookup = NameTable(budgets.map(\.id))
        modelRates = models.map(\.rates)
        modelProviders = models.map(\.provider)
        modelTiers = models.map(\.tier)
        teamMaxRequestCosts = teams.map(\.maxRequestCostNanos)
        teamHashes = policy.teams.map(\.name.hashValue)
        environmentHashes = policy.environments.map(\.name.hashValue)
        modelHashes = policy.models.map(\.name.hashValue)
        providerHashes = providers.names.map(\.hashValue)
        let teamCount = policy.teams.count
        let environmentCount = policy.environments.count
        ruleIndex = DefinitionIndex(
            pins: rules.map { $0.when?.pinned }, guards: rules.map { $0.when?.lowerBound },
            teams: teamCount, models: modelCount, environments: environmentCount)
        budgetIndex = DefinitionIndex(
            pins: budgets.map { budget in budget.team.map { (.team, [$0]) } ?? budget.when?.pinned },
            teams: teamCount, models: modelCount, environments: environmentCount)
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
        var waiverItems: [Int32] = []
        let waivers = { (id: String) -> Waivers in
            guard let list = byTarget[id] else { return 0..<0 }
            let start = Int32(waiverItems.count)
            waiverItems += list
            return start..<Int32(waiverItems.count)
        }
        var conditions = ConditionTable()
        let number = { (condition: CompiledCondition?) -> Int32 in condition.map { conditions.append($0.table) } ?? -1 }
        ruleHeads = rules.map { rule in RuleHead(when: number(rule.when), unless: number(rule.unless), waivers: waivers(rule.id)) }
        budgetHeads = budgets.map { budget in
            BudgetHead(team: budget.team ?? BudgetHead.anyTeam, when: number(budget.when), deny: budget.onExceed == .deny,
                       waivers: waivers(budget.id), period: budget.period, idHash: budget.idHash, limits: budget.limits,
                       hasOverrides: !budget.overrideLimits.isEmpty, hasAlerts: !budget.alerts.isEmpty, scope: SimpleScope(budget.scope),
                       keyFixedByNames: budget.scope.allSatisfy { part in
                           switch part {
                           case .org, .team, .environment, .model, .provider: return true
                           case .user, .tag: return false
                           }
                       },
                       tagScope: budget.scope.count == 1 && budget.scope[0].tagKey != nil)
        }
        budgetTags = budgets.map { budget in budget.scope.count == 1 ? budget.scope[0].tagKey ?? "" : "" }
        exceptionHeads = exceptions.map { ExceptionHead(when: number($0.when), expiresAt: $0.expiresAt) }
        checkWaivers = BuiltinCheck.allCases.map { waivers($0.rawValue) }
        self.conditions = conditions
        self.waiverItems = waiverItems
    }
}

extension CompiledPolicy {
    /// A counter's window as UTC seconds, start included, end excluded, in the policy's time zone.
    package func windowBounds(_ counter: CounterKey) -> (start: Int64, end: Int64) {
        (zone.utc(fromLocal: CalendarWindow.localStart(counter.window, period: counter.period)),
         zone.utc(fromLocal: CalendarWindow.localStart(counter.window + 1, period: counter.period)))
    }

    /// The caps of a budget for a scope key (its overrides honoured); nil when the policy has no such budget.
    package func limits(budget id: String, key: String) -> BudgetLimits? {
        budgetLookup[id].map { budgets[Int($0)].limits(forKey: key) }
    }

    /// The counter of a budget for a scope key at an instant (its calendar window in
    /// the policy's time zone), or nil when no budget has that id.
    ///
    /// ```swift
    /// let counter = enforcer.policy.counter(budget: "team.growth.day", key: "growth", at: clock.now())
    /// ledger.seed(counter!, spent: Amount(usd: USD(dollars: 250).nanos))
    /// ```
    public func counter(budget id: String, key: String, at time: Timestamp) -> CounterKey? {
        guard let index = budgetLookup[id] else { return nil }
        let budget = budgets[Int(index)]
        return CounterKey(budget: id, key: key, period: budget.period,
                          window: CalendarWindow.index(of: time.seconds, period: budget.period, zone: zone))
    }
}

/// Settings as trivial values (copying them costs nothing).
package struct Flags: Sendable {
    package let unknownModel: Settings.UnknownHandling
    package let unknownTeam: Settings.UnknownHandling
    package let unknownEnvironment: Settings.UnknownHandling
    package let unpricedModel: Settings.FailureHandling
    package let ledgerUnavailable: Settings.FailureHandling
    package let reservationTTLSeconds: Int64
    /// `settings.budget_leases`, nil when leases are off.
    package let budgetLeases: Settings.BudgetLeases?
    package let reroute: Bool

    package init(_ settings: Settings) {
        unknownModel = settings.unknownModel
        unknownTeam = settings.unknownTeam
        unknownEnvironment = settings.unknownEnvironment
        unpricedModel = settings.unpricedModel
        ledgerUnavailable = settings.ledgerUnavailable
        reservationTTLSeconds = settings.reservationTTLSeconds
        budgetLeases = settings.budgetLeases
        reroute = settings.reroute
    }
}

/// Why a policy could not be compiled.
public struct PolicyCompileError: Error, Sendable, CustomStringConvertible {
    /// What failed.
    public let message: String

    package init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

package final class CompiledModel: Sendable {
    package let name: String
    package let provider: Int32
    package let providerName: String
    package let tier: Int32
    package let price: Price?
    /// The price as trivial values, for the hot path.
    package let rates: Rates?
    /// Where it is served; nil means anywhere.
    package let regions: IDSet?
    package let regionOrder: [Int32]?
    package let fallbacks: [Int32]
    package let location: SourceLocation

    package init(name: String, provider: Int32, providerName: String, tier: Int32, price: Price?, regions: IDSet?,
         regionOrder: [Int32]?, fallbacks: [Int32], location: SourceLocation)
    {
        self.name = name
        self.provider = provider
        self.providerName = providerName
        self.tier = tier
        self.price = price
        self.rates = price.map(Rates.init)
        self.regions = regions
        self.regionOrder = regionOrder
        self.fallbacks = fallbacks
        self.location = location
    }
}

extension CompiledModel {
    /// Whether the model is served in a region (by id; unknown regions are -1).
    @inline(__always)
    package func serves(_ region: Int32) -> Bool { regions?.contains(region) ?? true }
}

/// A price per token as plain integers (1e-24 USD), copied without reference counting.
package struct Rates: Sendable {
    package let input: Int128
    package let cachedInput: Int128
    package let cacheWrite: Int128
    package let output: Int128

    package init(_ price: Price) {
        input = price.input.yoctoDollars
        cachedInput = price.cachedInput.yoctoDollars
        cacheWrite = price.cacheWrite.yoctoDollars
        output = price.output.yoctoDollars
    }

    /// The cost of usage, rounded to the nano-dollar; nil when it is past ``USD/max``.
    @inline(__always)
    package func cost(_ usage: Usage) -> USD? {
        CostArithmetic.cost(inputTokens: usage.inputTokens, cachedInputTokens: usage.cachedInputTokens,
                            cacheWriteTokens: usage.cacheWriteTokens, outputTokens: usage.outputTokens,
                            input: input, cachedInput: cachedInput, cacheWrite: cacheWrite, output: output)
    }
}

package final class CompiledEnvironment: Sendable {
    package let name: String
    package let approved: IDSet
    package let regions: IDSet?
    package let regionOrder: [Int32]?
    package let location: SourceLocation

    /// Whether traffic may run in a region (by id).
    @inline(__always)
    package func allows(region: Int32) -> Bool { regions?.contains(region) ?? true }

    package init(name: String, approved: IDSet, regions: IDSet?, regionOrder: [Int32]?, location: SourceLocation) {
        self.name = name
        self.approved = approved
        self.regions = regions
        self.regionOrder = regionOrder
        self.location = location
    }
}

package final class CompiledTeam: Sendable {
    package let name: String
    package let environments: IDSet?
    package let models: IDSet?
    package let regions: IDSet?
    package let regionOrder: [Int32]?
    package let maxRequestCost: Located<USD>?
    /// `max_request_cost` in nano-USD, or Int64.max.
    package let maxRequestCostNanos: Int64
    package let location: SourceLocation

    @inline(__always)
    package func allows(environment: Int32) -> Bool { environments?.contains(environment) ?? true }
    @inline(__always)
    package func allows(model: Int32) -> Bool { models?.contains(model) ?? true }
    @inline(__always)
    package func allows(region: Int32) -> Bool { regions?.contains(region) ?? true }

    package init(name: String, environments: IDSet?, models: IDSet?, regions: IDSet?, regionOrder: [Int32]?,
         maxRequestCost: Located<USD>?, location: SourceLocation)
    {
        self.name = name
        self.environments = environments
        self.models = models
        self.regions = regions
        self.regionOrder = regionOrder
        self.maxRequestCost = maxRequestCost
        self.maxRequestCostNanos = maxRequestCost?.value.nanos ?? Int64.max
        self.location = location
    }
}

package final class CompiledRule: Sendable {
    package let id: String
    package let when: CompiledCondition?
    package let unless: CompiledCondition?
    /// The effect once enforcement is applied: deny only for enforced deny rules.
    package let effect: ViolationEffect
    package let severity: Severity
    package let message: String
    package let location: SourceLocation

    package init(definition: RuleDefinition, when: CompiledCondition?, unless: CompiledCondition?) {
        self.id = definition.id
        self.when = when
        self.unless = unless
        self.effect = definition.effect == .deny && definition.enforcement == .enforce ? .deny : .warn
        self.severity = definition.severity
        self.message = definition.message ?? definition.description ?? "rule \(definition.id) matched"
        self.location = definition.location
    }
}

package final class CompiledBudget: Sendable {
    package let id: String
    /// The id's hash, so counter keys do not hash it per request.
    package let idHash: Int
    package let scope: [ScopePart]
    package let period: BudgetPeriod
    package let limits: BudgetLimits
    /// Caps for particular scope keys: `overrideKeys` maps a key to its index in `overrideLimits`.
    package let overrideKeys: NameTable
    package let overrideLimits: [BudgetLimits]
    package let alerts: [Int64]
    package let onExceed: BudgetAction
    package let location: SourceLocation
    package let when: CompiledCondition?
    /// For team shorthand: the only team whose requests count.
    package let team: Int32?

    package init(definition: BudgetDefinition, when: CompiledCondition?, team: Int32?) {
        self.id = definition.id
        self.idHash = definition.id.hashValue
        self.scope = definition.scope
        self.period = definition.period
        self.limits = definition.limits
        let overrides = definition.overrides.sorted { $0.key < $1.key }
        self.overrideKeys = NameTable(overrides.map(\.key))
        self.overrideLimits = overrides.map(\.value.value)
        self.alerts = definition.alerts
        self.onExceed = definition.onExceed
        self.location = definition.location
        self.when = when
        self.team = team
    }

    /// The caps for a scope key, honouring overrides.
    @inline(__always)
    package func limits(forKey key: String) -> BudgetLimits {
        overrideLimits.isEmpty ? limits : overrideKeys[key].map { overrideLimits[Int($0)] } ?? limits
    }
}

/// The exceptions that name one id: a range of ``CompiledPolicy/waiverItems``.
package typealias Waivers = Range<Int32>

/// What the evaluator reads of a rule on every request (plain values: no reference counting).
package struct RuleHead: Sendable {
    /// Condition numbers in ``CompiledPolicy/conditions``, or -1.
    package let when: Int32
    package let unless: Int32
    package let waivers: Waivers
}

/// What the evaluator reads of a budget on every request.
package struct BudgetHead: Sendable {
    /// For team shorthand: the only team whose requests count, else `anyTeam`.
    package let team: Int32
    /// A condition number in ``CompiledPolicy/conditions``, or -1.
    package let when: Int32
    /// Whether going over denies.
    package let deny: Bool
    package let waivers: Waivers
    package let period: BudgetPeriod
    /// The id's hash (for counter keys).
    package let idHash: Int
    /// The caps when no override applies.
    package let limits: BudgetLimits
    package let hasOverrides: Bool
    package let hasAlerts: Bool
    /// The scope when it is one part other than a tag or provider, else `.other`.
    package let scope: SimpleScope
    /// Whether every part of the scope is a name fixed by the team, environment and model ids
    /// (org, team, environment, model, provider): no user or tag.
    package let keyFixedByNames: Bool
    /// Whether the scope is one tag (`scope: tag:feature`; its key is in ``CompiledPolicy/budgetTags``).
    package let tagScope: Bool

    package static let anyTeam: Int32 = -2
}

/// A one-part budget scope whose key is a name of the request (or `org`).
package enum SimpleScope: UInt8, Sendable {
    case other, org, team, environment, model, provider, user

    /// The simple scope of one part; nil for a tag.
    package init?(_ part: ScopePart) {
        switch part {
        case .org: self = .org
        case .team: self = .team
        case .environment: self = .environment
        case .model: self = .model
        case .provider: self = .provider
        case .user: self = .user
        case .tag: return nil
        }
    }

    /// The simple scope of a budget's scope parts for its head (`.other` for composite, tag
    /// and provider scopes: a provider's key needs the compiled model).
    package init(_ parts: [ScopePart]) {
        guard parts.count == 1, let simple = SimpleScope(parts[0]), simple != .provider else { self = .other; return }
        self = simple
    }
}

/// What the evaluator reads of an exception.
package struct ExceptionHead: Sendable {
    /// A condition number in ``CompiledPolicy/conditions``, or -1.
    package let when: Int32
    package let expiresAt: Timestamp
}

package final class CompiledException: Sendable {
    package let id: String
    package let when: CompiledCondition?
    package let expiresAt: Timestamp
    package let location: SourceLocation

    package init(id: String, when: CompiledCondition?, expiresAt: Timestamp, location: SourceLocation) {
        self.id = id
        self.when = when
        self.expiresAt = expiresAt
        self.location = location
    }
}

/// Buckets of definitions (rules or budgets) by the team, model or
/// environment their condition pins, plus those pinned to nothing. A request
/// looks at four short lists instead of every definition.
///
/// Every list lives in one flat array of indices (`items`); a team, model or
/// environment has a range into it, so walking a bucket copies no array.
package struct DefinitionIndex: Sendable {
    /// Definition indices, bucket after bucket: unpinned, then by team, by model, by environment.
    package let items: [Int32]
    /// `starts[slot] ..< starts[slot + 1]` is the range of `items` of a slot: 0 is the unpinned
    /// bucket, then one slot per team, per model and per environment.
    private let starts: [Int32]
    private let teams: Int
    private let models: Int

    /// A lower bound a definition's condition puts on a number (`input_tokens: {gt: 100000}`):
    /// the definition cannot apply to a request whose number is below it, or absent.
    package struct Guard: Sendable {
        /// A ``CompiledCondition/NumberAttribute`` raw value.
        package let attribute: UInt8
        package let low: Int64
    }

    /// Guarded definitions of one bucket with the same attribute, by ascending bound: `guarded[range]`.
    package struct GuardGroup: Sendable {
        package let attribute: UInt8
        package let range: Range<Int>
    }

    /// Guarded definitions, group after group, with their bounds.
    package let guarded: [(low: Int64, index: Int32)]
    /// `groupStarts[slot] ..< groupStarts[slot + 1]` are the guard groups of a slot.
    private let groupStarts: [Int32]
    package let groups: [GuardGroup]

    /// Indexes definitions by their pins; with `guards`, a bucket keeps its guarded definitions
    /// apart, sorted by bound, so that a request skips those whose bound is above its number
    /// (a policy with thousands of `input_tokens: {gt: N}` rules tests only those it can break).
    package init(pins: [(attribute: CompiledCondition.IDAttribute, ids: [Int32])?], guards: [Guard?]? = nil,
         teams: Int, models: Int, environments: Int)
    {
        let slotCount = 1 + teams + models + environments
        var buckets = [[Int32]](repeating: [], count: slotCount)
        var guardedBuckets = [[UInt8: [(low: Int64, index: Int32)]]](repeating: [:], count: slotCount)
        for (index, pin) in pins.enumerated() {
            let definition = Int32(index)
            var slots: [Int] = []
            switch pin?.attribute {
            case .team?: slots = (pin?.ids ?? []).map { 1 + Int($0) }
            case .model?: slots = (pin?.ids ?? []).map { 1 + teams + Int($0) }
            case .environment?: slots = (pin?.ids ?? []).map { 1 + teams + models + Int($0) }
            default: slots = [0]
            }
            for slot in slots {
                if let bound = guards?[index] {
                    guardedBuckets[slot][bound.attribute, default: []].append((bound.low, definition))
                } else {
                    buckets[slot].append(definition)
                }
            }
        }
        var starts: [Int32] = [0]
        for bucket in buckets { starts.append(starts[starts.count - 1] + Int32(bucket.count)) }
        items = buckets.flatMap { $0 }
        self.starts = starts
        var guarded: [(low: Int64, index: Int32)] = []
        var groups: [GuardGroup] = []
        var groupStarts: [Int32] = [0]
        for slot in 0..<slotCount {
            for attribute in guardedBuckets[slot].keys.sorted() {
                let sorted = (guardedBuckets[slot][attribute] ?? []).sorted { ($0.low, $0.index) < ($1.low, $1.index) }
                groups.append(GuardGroup(attribute: attribute, range: guarded.count..<guarded.count + sorted.count))
                guarded += sorted
            }
            groupStarts.append(Int32(groups.count))
        }
        self.guarded = guarded
        self.groups = groups
        self.groupStarts = groupStarts
        self.teams = teams
        self.models = models
        let sizes = (0..<slotCount).map { slot in
            buckets[slot].count + guardedBuckets[slot].values.reduce(0) { $0 + $1.count }
        }
        let largest = { (range: Range<Int>) in range.map { sizes[$0] }.max() ?? 0 }
        maximum = sizes[0] + largest(1..<1 + teams) + largest(1 + teams..<1 + teams + models)
            + largest(1 + teams + models..<slotCount)
    }

    /// The slot of bucket `number` (0 unpinned, 1 team, 2 model, 3 environment) for a request, or nil.
    @inline(__always)
    package func slot(_ number: Int, team: Int32, model: Int32, environment: Int32) -> Int? {
        switch number {
        case 0: return 0
        case 1: return team >= 0 ? 1 + Int(team) : nil
        case 2: return model >= 0 ? 1 + teams + Int(model) : nil
        default: return environment >= 0 ? 1 + teams + models + Int(environment) : nil
        }
    }

    /// The definitions that may apply come from four buckets; `bucket(0…3, …)` returns the
    /// range of `items` of each (each definition is in at most one bucket for a request, so none
    /// repeats). Guarded definitions are not in it: see ``groups(_:)``.
    @inline(__always)
    package func bucket(_ number: Int, team: Int32, model: Int32, environment: Int32) -> Range<Int> {
        guard let slot = slot(number, team: team, model: model, environment: environment) else { return 0..<0 }
        return items(slot)
    }

    /// The unguarded definitions of a slot, as a range of ``items``.
    @inline(__always)
    package func items(_ slot: Int) -> Range<Int> {
        Int(starts[slot])..<Int(starts[slot + 1])
    }

    /// The guard groups of a slot, as a range of ``groups``.
    @inline(__always)
    package func groups(_ slot: Int) -> Range<Int> {
        Int(groupStarts[slot])..<Int(groupStarts[slot + 1])
    }

    /// The most definitions a request can see (for reserving capacity).
    package let maximum: Int
}

/// Compiles `Condition`s against interned names.
package struct ConditionCompiler {
    package let policy: PolicySet
    package let modelLookup: NameTable
    package let environmentLookup: NameTable
    package let teamLookup: NameTable
    package let providers: Interner

    package func compile(_ condition: Condition) -> CompiledCondition {
        var builder = ConditionBuilder()
        var pins: [CompiledCondition.IDAttribute: [Int32]] = [:]
        for clause in condition.clauses {
            for matcher in clause.matchers {
                compile(clause.attribute, matcher, into: &builder)
                if matcher.op == .equals || matcher.op == .in, let attribute = idAttribute(clause.attribute) {
                    let ids = matcher.operands.compactMap { idOf(attribute, $0.value) }
                    if ids.count == matcher.operands.count { pins[attribute] = ids }
                }
            }
        }
        // Most selective first: teams outnumber models, which outnumber environments.
        let pinned = [CompiledCondition.IDAttribute.team, .model, .environment].lazy.compactMap { attribute in
            pins[attribute].map { (attribute: attribute, ids: $0) }
        }.first
        return builder.build(pinned: pinned)
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
        case .provider: return providers.id(name) >= 0 ? providers.id(name) : nil
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

    private func compile(_ attribute: Condition.Attribute, _ matcher: Condition.Matcher, into builder: inout ConditionBuilder) {
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
        let flag: Bool? = {
            if case .flag(let flag) = matcher.operands.first?.value { return flag }
            return nil
        }()
        if let id = idAttribute(attribute) {
            let capacity = names(id).count
            switch matcher.op {
            case .equals, .in, .notIn:
                builder.ids(id, IDSet(capacity: capacity, texts.compactMap { idOf(id, .text($0)) }), negate: matcher.op == .notIn, glob: nil)
            case .glob:
                let pattern = texts.first ?? ""
                let all = names(id)
                let matching = id == .model
                    ? policy.models.indices.filter { EnvironmentApproval.matches(pattern, policy.models[$0]) }.map(Int32.init)
                    : all.indices.filter { TextMatching.glob(pattern, matches: all[$0]) }.map(Int32.init)
                builder.ids(id, IDSet(capacity: capacity, matching), negate: false, glob: pattern)
            case .gt, .gte, .lt, .lte:
                let rank = texts.first.flatMap { idOf(.tier, .text($0)) } ?? -1
                let ranks = (0..<Int32(capacity)).filter { value in
                    switch matcher.op {
                    case .gt: return value > rank
                    case .gte: return value >= rank
                    case .lt: return value < rank
                    default: return value <= rank
                    }
                }
                builder.ids(id, IDSet(capacity: capacity, ranks), negate: false, glob: nil)
            case .exists:
                builder.exists(id: id, flag ?? true)
            }
            return
        }
        let text: (CompiledCondition.TextAttribute, String?)?
        let number: CompiledCondition.NumberAttribute?
        switch attribute {
        case .region: (text, number) = ((.region, nil), nil)
        case .user: (text, number) = ((.user, nil), nil)
        case .tag(let key): (text, number) = ((.tag, key), nil)
        case .inputTokens: (text, number) = (nil, .inputTokens)
        case .cachedInputTokens: (text, number) = (nil, .cachedInputTokens)
        case .cacheWriteTokens: (text, number) = (nil, .cacheWriteTokens)
        case .outputTokens: (text, number) = (nil, .outputTokens)
        case .totalTokens: (text, number) = (nil, .totalTokens)
        case .cost: (text, number) = (nil, .cost)
        case .hour: (text, number) = (nil, .hour)
        case .weekday: (text, number) = (nil, .weekday)
        default: (text, number) = (nil, nil)
        }
        if let (attribute, key) = text {
            switch matcher.op {
            case .equals, .in, .notIn: builder.texts(attribute, tag: key, Set(texts), negate: matcher.op == .notIn)
            case .glob: builder.glob(attribute, tag: key, texts.first ?? "")
            case .exists: builder.exists(text: attribute, tag: key, flag ?? true)
            default: builder.always(false)
            }
            return
        }
        guard let number else { return }
        switch matcher.op {
        case .equals, .in, .notIn: builder.numbers(number, Set(numbers), negate: matcher.op == .notIn)
        case .gt: if let value = numbers.first { value == Int64.max ? builder.always(false) : builder.range(number, value + 1, Int64.max) }
        case .gte: if let value = numbers.first { builder.range(number, value, Int64.max) }
        case .lt: if let value = numbers.first { value == Int64.min ? builder.always(false) : builder.range(number, Int64.min, value - 1) }
        case .lte: if let value = numbers.first { builder.range(number, Int64.min, value) }
        case .exists: builder.always(flag ?? true)
        case .glob: builder.always(false)
        }
    }
}
