import PurserCore
import Foundation
import PurserYAML

/// Decodes one YAML document into a ``Fragment``, reporting every problem it
/// finds rather than stopping at the first. Each section's keys are those of
/// ``PolicySchema``, which `purser schema` renders too.
package struct FragmentDecoder {
    package let context: DecodingContext

    package func decode(_ document: YAMLDocument) -> Fragment? {
        let root = document.root
        guard let top = context.fields(root, "the policy document", section: PolicySchema.document) else { return nil }
        if root.isNull { return nil }
        var fragment = Fragment(file: context.file, documentIndex: document.index, location: context.location(root))
        if let version = top.required("version", "the policy document", context) {
            if version.scalarStyle != .plain || version.scalar != "1" {
                context.report(UnsupportedVersion.policy(found: context.shown(version)), at: version)
            }
        }
        if let node = top["settings"] { fragment.settings = settings(node) }
        if let pair = top.pairs["price_sources"], let sources = context.names(pair.value, "price_sources") {
            fragment.priceSources = Located(sources, at: context.location(pair.key))
        }
        if let node = top["models"] { fragment.models = context.namedEntries(node, "models").compactMap(model) }
        if let node = top["environments"] {
            fragment.environments = context.namedEntries(node, "environments").compactMap(environment)
        }
        if let node = top["teams"] { fragment.teams = context.namedEntries(node, "teams").compactMap(team) }
        if let node = top["budgets"], let items = context.list(node, "budgets") {
            fragment.budgets = items.enumerated().compactMap { budget($1, index: $0) }
        }
        if let node = top["regions"] { regions(node, into: &fragment) }
        if let node = top["rules"], let items = context.list(node, "rules") {
            fragment.rules = items.enumerated().compactMap { rule($1, index: $0) }
        }
        if let node = top["exceptions"], let items = context.list(node, "exceptions") {
            fragment.exceptions = items.enumerated().compactMap { exception($1, index: $0) }
        }
        return fragment
    }

    // MARK: settings

    private func settings(_ node: YAMLNode) -> Settings? {
        guard let fields = context.fields(node, "settings", section: PolicySchema.settings) else { return nil }
        var settings = Settings()
        settings.location = context.location(node)
        if let value = fields["timezone"], let zone = context.string(value, "settings.timezone") {
            if TimeZone(identifier: zone) == nil || zone.isEmpty {
                context.report(InvalidValue.timezone(zone), at: value)
            } else {
                settings.timezone = Located(zone, at: context.location(value))
            }
        }
        if let value = fields["tiers"], let tiers = context.names(value, "settings.tiers") {
            if tiers.isEmpty {
                context.report(InvalidValue.noTiers, at: value)
            } else {
                settings.tiers = tiers
            }
        }
        if let value = fields["unknown_model"], let choice = context.choice(value, "settings.unknown_model", as: Settings.UnknownHandling.self) {
            settings.unknownModel = choice
        }
        if let value = fields["unknown_team"], let choice = context.choice(value, "settings.unknown_team", as: Settings.UnknownHandling.self) {
            settings.unknownTeam = choice
        }
        if let value = fields["unknown_environment"], let choice = context.choice(value, "settings.unknown_environment", as: Settings.UnknownHandling.self) {
            settings.unknownEnvironment = choice
        }
        if let value = fields["unpriced_model"], let choice = context.choice(value, "settings.unpriced_model", as: Settings.FailureHandling.self) {
            settings.unpricedModel = choice
        }
        if let value = fields["ledger_unavailable"], let choice = context.choice(value, "settings.ledger_unavailable", as: Settings.FailureHandling.self) {
            settings.ledgerUnavailable = choice
        }
        if let value = fields["reservation_ttl"] {
            if let seconds = durationSeconds(value, max: DurationText.maxSeconds) {
                settings.reservationTTLSeconds = seconds
            } else {
                context.report(InvalidValue.reservationTTL(shown: context.shown(value)), at: value)
            }
        }
        if let value = fields["budget_leases"] { settings.budgetLeases = budgetLeases(value) }
        if let value = fields["reroute"], let flag = context.bool(value, "settings.reroute") {
            settings.reroute = flag
        }
        return settings
    }

    /// A duration (`30s`, `10m`, `1h30m`) or plain whole seconds, from 1 to `max` seconds.
    private func durationSeconds(_ value: YAMLNode, max: Int64) -> Int64? {
        let seconds: Int64?
        if value.scalarStyle == .plain, let text = value.scalar, let plain = Int64(text) {
            seconds = plain
        } else {
            seconds = value.scalar.flatMap(DurationText.seconds)
        }
        guard let seconds, seconds > 0, seconds <= max else { return nil }
        return seconds
    }

    /// `settings.budget_leases`: present turns leases on; each key has a default.
    private func budgetLeases(_ node: YAMLNode) -> Settings.BudgetLeases? {
        let path = "settings.budget_leases"
        guard let fields = context.fields(node, path, section: PolicySchema.budgetLeases) else { return nil }
        var leases = Settings.BudgetLeases()
        if let value = fields["slice"], let ppm = context.fraction(value, "\(path).slice", max: 1) { leases.slicePPM = ppm }
        if let value = fields["max_calls"],
           let calls = context.integer(value, "\(path).max_calls", in: 1...Settings.BudgetLeases.maxCallsLimit)
        {
            leases.maxCalls = calls
        }
        if let value = fields["duration"] {
            if let seconds = durationSeconds(value, max: Settings.BudgetLeases.maxDurationSeconds) {
                leases.durationSeconds = seconds
            } else {
                context.report(InvalidValue.leaseDuration(shown: context.shown(value)), at: value)
            }
        }
        return leases
    }

    // MARK: models

    private func model(_ pair: YAMLNode.Pair) -> ModelDraft? {
        guard let name = context.name(pair.key, "a model name") else { return nil }
        let path = "models.\(name.value)"
        guard let fields = context.fields(pair.value, path, section: PolicySchema.model) else { return nil }
        if fields["tier"] == nil {
            context.report(MissingKey.missing(path, "tier"), at: pair.key)
        }
        let tier = fields["tier"].flatMap { context.name($0, "\(path).tier") }
        let provider = fields["provider"].flatMap { context.name($0, "\(path).provider") }
        let price = fields["price"].flatMap { decodePrice($0, "\(path).price") }
        if fields["price"] != nil && fields["price_key"] != nil, let node = fields["price_key"] {
            context.report(InvalidValue.priceAndPriceKey(path), at: node)
        }
        return ModelDraft(
            name: Located(name.value, at: context.location(pair.key)),
            provider: provider,
            tier: tier,
            price: price,
            priceKey: fields["price_key"].flatMap { context.name($0, "\(path).price_key") },
            regions: fields["regions"].flatMap { context.names($0, "\(path).regions") },
            aliases: fields["aliases"].flatMap { context.names($0, "\(path).aliases") } ?? [],
            fallbacks: fields["fallbacks"].flatMap { context.names($0, "\(path).fallbacks") } ?? [],
            description: fields["description"].flatMap { context.string($0, "\(path).description") })
    }

    private func decodePrice(_ node: YAMLNode, _ path: String) -> Price? {
        guard let fields = context.fields(node, path, section: PolicySchema.price) else { return nil }
        let input = fields.required("input", path, context).flatMap { context.pricePerMillion($0, "\(path).input") }
        let output = fields.required("output", path, context).flatMap { context.pricePerMillion($0, "\(path).output") }
        let cached = fields["cached_input"].flatMap { context.pricePerMillion($0, "\(path).cached_input") }
        let write = fields["cache_write"].flatMap { context.pricePerMillion($0, "\(path).cache_write") }
        let listCached = cached ?? input ?? .zero
        let batch = fields["batch"].flatMap { decodeTierPrice($0, "\(path).batch", listCached: listCached) }
        let flex = fields["flex"].flatMap { decodeTierPrice($0, "\(path).flex", listCached: listCached) }
        let priority = fields["priority"].flatMap { decodeTierPrice($0, "\(path).priority", listCached: listCached) }
        guard let input, let output else { return nil }
        return Price(input: input, output: output, cachedInput: cached, cacheWrite: write,
                     origin: .policy(context.location(node)), batch: batch, flex: flex, priority: priority)
    }

    /// `price.batch`, `price.flex` or `price.priority`: like a price, with the defaults of ``TierPrice``.
    private func decodeTierPrice(_ node: YAMLNode, _ path: String, listCached: TokenPrice) -> TierPrice? {
        guard let fields = context.fields(node, path, section: PolicySchema.tierPrice) else { return nil }
        let input = fields.required("input", path, context).flatMap { context.pricePerMillion($0, "\(path).input") }
        let output = fields.required("output", path, context).flatMap { context.pricePerMillion($0, "\(path).output") }
        let cached = fields["cached_input"].flatMap { context.pricePerMillion($0, "\(path).cached_input") }
        let write = fields["cache_write"].flatMap { context.pricePerMillion($0, "\(path).cache_write") }
        guard let input, let output else { return nil }
        return TierPrice(input: input, output: output, cachedInput: cached, cacheWrite: write, listCachedInput: listCached)
    }

    // MARK: environments and teams

    private func environment(_ pair: YAMLNode.Pair) -> EnvironmentDefinition? {
        guard let name = context.name(pair.key, "an environment name") else { return nil }
        let path = "environments.\(name.value)"
        guard let fields = context.fields(pair.value, path, section: PolicySchema.environment) else { return nil }
        return EnvironmentDefinition(
            name: name.value,
            aliases: fields["aliases"].flatMap { context.names($0, "\(path).aliases") } ?? [],
            models: fields["models"].flatMap { context.names($0, "\(path).models", allowGlob: true) },
            tiers: fields["tiers"].flatMap { context.names($0, "\(path).tiers") },
            exclude: fields["exclude"].flatMap { context.names($0, "\(path).exclude", allowGlob: true) } ?? [],
            regions: fields["regions"].flatMap { context.names($0, "\(path).regions") },
            description: fields["description"].flatMap { context.string($0, "\(path).description") },
            location: name.location)
    }

    private func team(_ pair: YAMLNode.Pair) -> TeamDefinition? {
        guard let name = context.name(pair.key, "a team name") else { return nil }
        let path = "teams.\(name.value)"
        guard let fields = context.fields(pair.value, path, section: PolicySchema.team) else { return nil }
        var shorthand: [BudgetShorthand] = []
        if let node = fields["budget"] {
            if let entries = context.fields(node, "\(path).budget", section: PolicySchema.teamBudget)?.node.mapping {
                for entry in entries {
                    guard let key = entry.key.scalar, let period = BudgetPeriod(rawValue: key),
                          let limit = context.usd(entry.value, "\(path).budget.\(key)", max: BudgetLimits.maxUSD)
                    else { continue }
                    shorthand.append(BudgetShorthand(period: period, limit: limit, location: context.location(entry.key)))
                }
            }
        }
        return TeamDefinition(
            name: name.value,
            aliases: fields["aliases"].flatMap { context.names($0, "\(path).aliases") } ?? [],
            environments: fields["environments"].flatMap { context.names($0, "\(path).environments") },
            models: fields["models"].flatMap { context.names($0, "\(path).models", allowGlob: true) },
            regions: fields["regions"].flatMap { context.names($0, "\(path).regions") },
            budget: shorthand,
            maxRequestCost: fields["max_request_cost"].flatMap { node in
                context.usd(node, "\(path).max_request_cost").map { Located($0, at: context.location(node)) }
            },
            description: fields["description"].flatMap { context.string($0, "\(path).description") },
            location: name.location)
    }

    // MARK: budgets

    private func budget(_ node: YAMLNode, index: Int) -> BudgetDefinition? {
        guard let fields = context.fields(node, "budgets[\(index)]", section: PolicySchema.budget) else { return nil }
        guard let id = fields.required("id", "budgets[\(index)]", context).flatMap({ context.name($0, "budgets[\(index)].id") }) else {
            return nil
        }
        let path = "budgets.\(id.value)"
        if id.value.hasPrefix("team.") {
            context.report(InvalidValue.reservedBudgetId(path), at: node)
        }
        var scope: [ScopePart] = []
        if let scopeNode = fields.required("scope", path, context) {
            let items = scopeNode.sequence ?? [scopeNode]
            for item in items {
                guard let text = context.string(item, "\(path).scope") else { continue }
                if let part = ScopePart(text) {
                    if scope.contains(part) {
                        context.report(InvalidValue.scopeTwice(path, text), at: item)
                    }
                    scope.append(part)
                } else {
                    context.report(InvalidValue.notAScope(path, text), at: item)
                }
            }
            if scope.count > 1 && scope.contains(.org) {
                context.report(InvalidValue.orgCombined(path), at: scopeNode)
            }
            if scopeNode.sequence?.isEmpty == true {
                context.report(InvalidValue.noScope(path), at: scopeNode)
            }
        }
        let period = fields.required("period", path, context).flatMap { context.choice($0, "\(path).period", as: BudgetPeriod.self) }
        var limits = BudgetLimits()
        limits.usd = fields["limit"].flatMap { context.usd($0, "\(path).limit", max: BudgetLimits.maxUSD) }
        limits.tokens = fields["tokens"].flatMap { context.integer($0, "\(path).tokens", in: 0...BudgetLimits.maxCount) }
        limits.requests = fields["requests"].flatMap { context.integer($0, "\(path).requests", in: 0...BudgetLimits.maxCount) }
        if PolicySchema.budget.oneOfRequired.allSatisfy({ fields[$0] == nil }) {
            context.report(MissingKey.noCap(path), at: node)
        }
        var overrides: [String: Located<BudgetLimits>] = [:]
        if let node = fields["limits"] {
            for entry in context.namedEntries(node, "\(path).limits") {
                guard let key = context.string(entry.key, "a key of \(path).limits") else { continue }
                let entryPath = "\(path).limits.\(key)"
                let override: BudgetLimits
                if entry.value.mapping != nil {
                    guard let parts = context.fields(entry.value, entryPath, section: PolicySchema.limitOverride) else { continue }
                    override = BudgetLimits(
                        usd: parts["limit"].flatMap { context.usd($0, "\(entryPath).limit", max: BudgetLimits.maxUSD) } ?? limits.usd,
                        tokens: parts["tokens"].flatMap { context.integer($0, "\(entryPath).tokens", in: 0...BudgetLimits.maxCount) } ?? limits.tokens,
                        requests: parts["requests"].flatMap { context.integer($0, "\(entryPath).requests", in: 0...BudgetLimits.maxCount) }
                            ?? limits.requests)
                } else if fields["limit"] != nil {
                    guard let usd = context.usd(entry.value, entryPath, max: BudgetLimits.maxUSD) else { continue }
                    override = BudgetLimits(usd: usd, tokens: limits.tokens, requests: limits.requests)
                } else {
                    context.report(InvalidValue.bareOverride(entryPath), at: entry.value)
                    continue
                }
                overrides[key] = Located(override, at: context.location(entry.key))
            }
        }
        var alerts: [Int64] = []
        if let node = fields["alerts"], let items = context.list(node, "\(path).alerts") {
            for (offset, item) in items.enumerated() {
                if let value = context.fraction(item, "\(path).alerts[\(offset)]", max: 10) { alerts.append(value) }
            }
            alerts.sort()
        }
        let when = fields["when"].flatMap { ConditionDecoder(context: context).decode($0, "\(path).when") }
        let onExceed = fields["on_exceed"].flatMap { context.choice($0, "\(path).on_exceed", as: BudgetAction.self) } ?? .deny
        guard let period, !scope.isEmpty else { return nil }
        return BudgetDefinition(
            id: id.value, scope: scope, period: period, limits: limits, overrides: overrides, alerts: alerts,
            when: when, onExceed: onExceed, team: nil,
            description: fields["description"].flatMap { context.string($0, "\(path).description") },
            location: context.location(node))
    }

    // MARK: regions

    private func regions(_ node: YAMLNode, into fragment: inout Fragment) {
        guard let fields = context.fields(node, "regions", section: PolicySchema.regions) else { return }
        if let allowed = fields["allowed"], let names = context.names(allowed, "regions.allowed"),
           let key = fields.pairs["allowed"]?.key
        {
            fragment.regionsAllowed = Located(names, at: context.location(key))
        }
        if let node = fields["fallbacks"] {
            for entry in context.namedEntries(node, "regions.fallbacks") {
                guard let region = context.name(entry.key, "a region in regions.fallbacks"),
                      let targets = context.names(entry.value, "regions.fallbacks.\(region.value)")
                else { continue }
                fragment.regionFallbacks.append(RegionFallback(region: region, targets: targets))
            }
        }
        if let node = fields["aliases"] {
            for entry in context.namedEntries(node, "regions.aliases") {
                guard let alias = context.name(entry.key, "a region alias in regions.aliases"),
                      let region = context.name(entry.value, "regions.aliases.\(alias.value)")
                else { continue }
                if alias.value == region.value {
                    context.report(InvalidValue.selfAlias("regions.aliases.\(alias.value)"), at: entry.value)
                    continue
                }
                fragment.regionAliases.append(RegionAlias(alias: alias, region: region))
            }
        }
    }

    // MARK: rules and exceptions

    private func rule(_ node: YAMLNode, index: Int) -> RuleDefinition? {
        guard let fields = context.fields(node, "rules[\(index)]", section: PolicySchema.rule) else { return nil }
        guard let id = fields.required("id", "rules[\(index)]", context).flatMap({ context.name($0, "rules[\(index)].id") }) else {
            return nil
        }
        let path = "rules.\(id.value)"
        if BuiltinCheck(rawValue: id.value) != nil {
            context.report(InvalidValue.builtinRuleId(path, id.value), at: node)
        }
        let conditions = ConditionDecoder(context: context)
        return RuleDefinition(
            id: id.value,
            description: fields["description"].flatMap { context.string($0, "\(path).description") },
            when: fields["when"].flatMap { conditions.decode($0, "\(path).when") },
            unless: fields["unless"].flatMap { conditions.decode($0, "\(path).unless") },
            effect: fields["effect"].flatMap { context.choice($0, "\(path).effect", as: RuleEffect.self) } ?? .deny,
            severity: fields["severity"].flatMap { context.choice($0, "\(path).severity", as: Severity.self) } ?? .medium,
            enforcement: fields["enforcement"].flatMap { context.choice($0, "\(path).enforcement", as: Enforcement.self) } ?? .enforce,
            message: fields["message"].flatMap { context.string($0, "\(path).message") },
            location: context.location(node))
    }

    private func exception(_ node: YAMLNode, index: Int) -> ExceptionDefinition? {
        guard let fields = context.fields(node, "exceptions[\(index)]", section: PolicySchema.exception) else { return nil }
        guard let id = fields.required("id", "exceptions[\(index)]", context).flatMap({ context.name($0, "exceptions[\(index)].id") }) else {
            return nil
        }
        let path = "exceptions.\(id.value)"
        let waives = fields.required("waives", path, context).flatMap { context.names($0, "\(path).waives") }
        if let waives, waives.isEmpty, let node = fields["waives"] {
            context.report(InvalidValue.noWaives(path), at: node)
        }
        var expires: Located<ExceptionDefinition.Expiry>?
        if let node = fields.required("expires", path, context), let text = context.string(node, "\(path).expires") {
            if let date = CivilDate(text) {
                expires = Located(.date(year: date.year, month: date.month, day: date.day), at: context.location(node))
            } else if let instant = Timestamp(rfc3339: text) {
                expires = Located(.instant(instant), at: context.location(node))
            } else if Timestamp.isOutOfRange(text) {
                context.report(InvalidValue.outOfRange("\(path).expires", range: "\(Timestamp.supportedRange)", found: context.shown(node)), at: node)
            } else {
                context.report(InvalidValue.expires(path, shown: context.shown(node)), at: node)
            }
        }
        let when = fields["when"].flatMap { ConditionDecoder(context: context).decode($0, "\(path).when") }
        guard let waives, let expires else { return nil }
        return ExceptionDefinition(
            id: id.value, waives: waives, when: when, expires: expires,
            reason: fields["reason"].flatMap { context.string($0, "\(path).reason") } ?? fields["description"].flatMap { context.string($0, "\(path).description") },
            location: context.location(node))
    }
}
