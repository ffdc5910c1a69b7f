import PurserCore
import Crypto
import PurserYAML

/// Merges fragments into one policy set: duplicates across fragments name
/// both places, `price_sources` fill in prices, team shorthand becomes budgets.
package struct PolicyAssembler {
    package var diagnostics: [Diagnostic] = []
    package var readFiles: [String] = []
    /// "Did you mean" look-ups left for unknown price keys.
    private var suggestions = SuggestionBudget()

    /// Price-source files read, with the name they are hashed under.
    package var priceSourceBytes: [(String, [UInt8])] = []

    package mutating func assemble(_ fragments: [Fragment], hashes: [(String, [UInt8])], files: [String], options: PolicyLoadOptions) -> PolicySet? {
        var settings: Settings?
        var settingsFirst: SourceLocation?
        var allowed: Located<[Located<String>]>?
        var priceSources: Located<[Located<String>]>?
        var regionFallbacks: [RegionFallback] = []
        var drafts: [ModelDraft] = []
        var environments: [EnvironmentDefinition] = []
        var teams: [TeamDefinition] = []
        var budgets: [BudgetDefinition] = []
        var rules: [RuleDefinition] = []
        var exceptions: [ExceptionDefinition] = []

        var modelNames: [String: SourceLocation] = [:]
        var environmentNames: [String: SourceLocation] = [:]
        var teamNames: [String: SourceLocation] = [:]
        var budgetIds: [String: SourceLocation] = [:]
        var ruleIds: [String: SourceLocation] = [:]
        var exceptionIds: [String: SourceLocation] = [:]
        var fallbackRegions: [String: SourceLocation] = [:]
        var regionAliases: [RegionAlias] = []
        var regionAliasNames: [String: SourceLocation] = [:]

        for fragment in fragments {
            if let value = fragment.settings, let location = value.location {
                if let first = settingsFirst {
                    duplicate("settings", "section", at: location, first: first)
                } else {
                    settings = value
                    settingsFirst = location
                }
            }
            if let value = fragment.regionsAllowed {
                if let first = allowed?.location {
                    duplicate("regions.allowed", "section", at: value.location, first: first)
                } else {
                    allowed = value
                }
            }
            if let value = fragment.priceSources {
                if let first = priceSources?.location {
                    duplicate("price_sources", "section", at: value.location, first: first)
                } else {
                    priceSources = value
                }
            }
            for model in fragment.models {
                guard claim(model.name.value, "model", at: model.name.location, in: &modelNames) else { continue }
                drafts.append(model)
            }
            // Aliases share the model namespace: a name resolves to exactly one model.
            for model in fragment.models {
                for alias in model.aliases {
                    _ = claim(alias.value, "model name or alias", at: alias.location, in: &modelNames)
                }
            }
            for environment in fragment.environments
            where claim(environment.name, "environment", at: environment.location, in: &environmentNames) {
                environments.append(environment)
            }
            for team in fragment.teams where claim(team.name, "team", at: team.location, in: &teamNames) {
                teams.append(team)
            }
            // Aliases share their section's namespace, as models' do: a name stands for one team, one environment.
            for environment in fragment.environments {
                for alias in environment.aliases {
                    _ = claim(alias.value, "environment name or alias", at: alias.location, in: &environmentNames)
                }
            }
            for team in fragment.teams {
                for alias in team.aliases {
                    _ = claim(alias.value, "team name or alias", at: alias.location, in: &teamNames)
                }
            }
            for alias in fragment.regionAliases
            where claim(alias.alias.value, "region alias", at: alias.alias.location, in: &regionAliasNames) {
                regionAliases.append(alias)
            }
            for budget in fragment.budgets where claim(budget.id, "budget id", at: budget.location, in: &budgetIds) {
                budgets.append(budget)
            }
            for fallback in fragment.regionFallbacks
            where claim(fallback.region.value, "region fallback for", at: fallback.region.location, in: &fallbackRegions) {
                regionFallbacks.append(fallback)
            }
            for rule in fragment.rules where claim(rule.id, "rule id", at: rule.location, in: &ruleIds) {
                rules.append(rule)
            }
            for exception in fragment.exceptions
            where claim(exception.id, "exception id", at: exception.location, in: &exceptionIds) {
                exceptions.append(exception)
            }
        }

        // Team shorthand: `budget: {month: 5000}` → team.<team>.month.
        for team in teams {
            for entry in team.budget {
                let id = "team.\(team.name).\(entry.period.rawValue)"
                guard claim(id, "budget id", at: entry.location, in: &budgetIds) else { continue }
                budgets.append(BudgetDefinition(
                    id: id, scope: [.team], period: entry.period, limits: BudgetLimits(usd: entry.limit),
                    overrides: [:], alerts: [], when: nil, onExceed: .deny, team: team.name,
                    description: "\(team.name)'s \(entry.period.rawValue)ly cap (team budget shorthand)",
                    location: entry.location))
            }
        }

        let tables = loadPriceSources(priceSources, wanted: Set(drafts.map { $0.priceKey?.value ?? $0.name.value }), options: options)
        var models: [ModelDefinition] = []
        for draft in drafts {
            if let model = resolve(draft, tables: tables) { models.append(model) }
        }

        var regions = RegionPolicy()
        regions.allowed = allowed?.value
        regions.allowedLocation = allowed?.location
        regions.fallbacks = regionFallbacks
        regions.aliases = regionAliases

        var hasher = SHA256()
        for (name, bytes) in hashes + priceSourceBytes {
            hasher.update(data: Array(name.utf8) + [0])
            hasher.update(data: bytes)
        }
        let digest = hasher.finalize().map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()

        let policy = PolicySet(
            settings: settings ?? Settings(), models: models, environments: environments, teams: teams,
            budgets: budgets, regions: regions, rules: rules, exceptions: exceptions,
            files: files, revision: "sha256:" + digest)
        return policy
    }

    /// Records a name; reports a duplicate (naming both places) and returns false if taken.
    private mutating func claim(_ name: String, _ what: String, at location: SourceLocation,
                                in names: inout [String: SourceLocation]) -> Bool
    {
        if let first = names[name] {
            duplicate("\(what) \"\(name)\"", "", at: location, first: first)
            return false
        }
        names[name] = location
        return true
    }

    private mutating func duplicate(_ what: String, _ kind: String, at location: SourceLocation, first: SourceLocation) {
        diagnostics.append(DuplicateDefinition.diagnostic(what, kind, at: location, first: first))
    }

    // MARK: Price sources

    private mutating func loadPriceSources(_ sources: Located<[Located<String>]>?, wanted: Set<String>,
                                           options: PolicyLoadOptions) -> [(Located<String>, PriceTable)]
    {
        guard let sources else { return [] }
        var tables: [(Located<String>, PriceTable)] = []
        for source in sources.value {
            let path = PolicyFiles.resolve(source.value, relativeTo: PolicyFiles.directory(of: source.location.file))
            // Kept inside the directories given (docs/policy-language.md, "Input limits"): a policy
            // must not make Purser read, or quote, /etc/shadow.
            if let roots = options.readRoots, let real = PolicyFiles.realPath(path), !PolicyFiles.isInside(real, roots: roots) {
                diagnostics.append(PriceSource.outsideRoots(path).at(source.location))
                continue
            }
            switch PolicyFiles.read(path, limit: 256 * 1024 * 1024) {
            case .failure(let problem):
                diagnostics.append(PriceSource.unreadable(problem.message).at(source.location))
            case .success(let bytes):
                readFiles.append(path)
                priceSourceBytes.append((source.value, bytes))
                do {
                    let table = try PriceTable(litellmJSON: bytes, file: path, only: wanted)
                    tables.append((source, table))
                } catch {
                    let mark = YAMLMark(byteOffset: error.offset, in: bytes)
                    diagnostics.append(PriceSource.invalidJSON(path, error.message, at: mark).at(source.location))
                }
            }
        }
        return tables
    }

    private mutating func resolve(_ draft: ModelDraft, tables: [(Located<String>, PriceTable)]) -> ModelDefinition? {
        var price = draft.price
        var provider = draft.provider?.value
        let key = draft.priceKey?.value ?? draft.name.value
        if price == nil || provider == nil {
            for (_, table) in tables {
                if let entry = table.entries[key] {
                    price = price ?? entry.price
                    provider = provider ?? entry.provider
                    break
                }
            }
        }
        if let priceKey = draft.priceKey, draft.price == nil, !tables.contains(where: { $0.1.entries[priceKey.value] != nil }) {
            let finding = UndefinedReference.priceKey(
                priceKey.value, hasSources: !tables.isEmpty,
                unpriced: tables.contains { $0.1.unpricedKeys.contains(priceKey.value) },
                suggestion: { suggestions.didYouMean(priceKey.value, among: tables.flatMap { $0.1.entries.keys }) })
            diagnostics.append(finding.at(priceKey.location))
        }
        guard let tier = draft.tier else { return nil }
        guard let provider else {
            diagnostics.append(MissingKey.provider(model: draft.name.value).at(draft.name.location))
            return nil
        }
        return ModelDefinition(
            name: draft.name.value, provider: provider, tier: tier, price: price, priceKey: draft.priceKey,
            regions: draft.regions, aliases: draft.aliases, fallbacks: draft.fallbacks, description: draft.description,
            location: draft.name.location)
    }
}

