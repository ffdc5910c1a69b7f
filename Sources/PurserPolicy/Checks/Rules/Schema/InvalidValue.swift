import PurserCore
import PurserYAML

extension DiagnosticCode {
    /// A value of the right type that is not allowed: an unknown choice, a negative amount, a bad time zone or duration.
    package static let invalidValue = InvalidValue.code
}

/// `invalid-value`: a value of the right type that the language does not allow.
/// The decoder raises most of them with the builders below; the rest need the
/// assembled policy set (empty allow-lists, pattern fallbacks, `limits` keys) and
/// are checked by ``validate(_:)``.
package enum InvalidValue: PolicySetRule {
    package static let description = RuleDescription(
        id: "invalid-value", stage: .schema,
        summary: "A value of the right type that is not allowed: an unknown choice, a negative amount, a bad time zone or duration.",
        triggering: [
            .policy(CheckCatalog.base + "budgets:\n  - {id: b, scope: org, period: month, limit: 100, on_exceed: block}\n"),
            .policy("version: 1\nsettings: {timezone: Mars/Olympus}\n"),
            .policy("version: 1\nregions:\n  allowed: [us-east-1]\n  aliases: {us-east-1: us-east-1}\n"),
        ],
        nonTriggering: [.policy(CheckCatalog.base + "budgets:\n  - {id: b, scope: org, period: month, limit: 100, on_exceed: warn}\n")])

    // MARK: Scalars (the decoder)

    /// A name that is empty or has whitespace, control characters or (unless allowed) glob characters.
    package static func invalidName(_ path: String, what: String, allowGlob: Bool) -> Finding {
        let rule = allowGlob ? "" : ", '*' or '?'"
        return finding("\(path) is \(what); names must be non-empty, without spaces\(rule)")
    }

    package static func listedTwice(_ path: String, _ name: String, firstLine: Int) -> Finding {
        finding("\(path) lists \"\(name)\" twice (first at line \(firstLine))")
    }

    /// A well-formed value outside what Purser represents, with the range.
    package static func outOfRange(_ path: String, range: String, found: String) -> Finding {
        finding("\(path) is out of range (\(range)), found \(found)")
    }

    package static func negative(_ path: String, _ text: String) -> Finding {
        finding("\(path) must not be negative, found \(excerpt(text))")
    }

    package static func tooManyDecimals(_ path: String, places: Int, _ text: String) -> Finding {
        finding("\(path) has more than \(places) decimal places: \(excerpt(text))")
    }

    package static func fraction(_ path: String, max: Int64, _ text: String) -> Finding {
        finding("\(path) must be a fraction above 0 and at most \(max), with at most 6 decimal places; found \(excerpt(text))")
    }

    /// A value that is none of an enumeration's choices, with the nearest one.
    package static func notOneOf(_ path: String, _ options: [String], text: String, shown: String) -> Finding {
        let suggestion = TextMatching.didYouMean(text, among: options)
        return finding("\(path) must be one of \(options.joined(separator: ", ")); found \(shown)\(suggestion)")
    }

    // MARK: Sections (the decoder)

    package static func timezone(_ zone: String) -> Finding {
        finding("settings.timezone \"\(zone)\" is not an IANA time zone (e.g. UTC, Europe/Berlin, America/New_York)")
    }

    package static let noTiers = finding("settings.tiers must list at least one tier")

    package static func reservationTTL(shown: String) -> Finding {
        finding("settings.reservation_ttl must be a duration like 30s, 10m, 1h or 1h30m, from 1s to 30d, found \(shown)")
    }

    package static func leaseDuration(shown: String) -> Finding {
        finding("settings.budget_leases.duration must be a duration like 5s, 30s or 1m, from 1s to 1h, found \(shown)")
    }

    /// An alias that names the region it stands for (`regions.aliases: {us-east-1: us-east-1}`).
    package static func selfAlias(_ path: String) -> Finding {
        finding("\(path) makes a region an alias of itself; an alias is another name for a region (eastus2: us-east-1)")
    }

    package static func priceAndPriceKey(_ path: String) -> Finding {
        finding("\(path) has both price and price_key; price wins, so remove one")
    }

    package static func reservedBudgetId(_ path: String) -> Finding {
        finding("\(path): ids starting with \"team.\" are reserved for the teams' budget shorthand")
    }

    package static func scopeTwice(_ path: String, _ text: String) -> Finding {
        finding("\(path).scope lists \(text) twice")
    }

    package static func notAScope(_ path: String, _ text: String) -> Finding {
        let suggestion = TextMatching.didYouMean(text, among: ScopePart.names)
        return finding("\(path).scope \"\(text)\" is not a scope; use \(ScopePart.names.joined(separator: ", ")) or a list of them\(suggestion)")
    }

    package static func orgCombined(_ path: String) -> Finding {
        finding("\(path).scope: org cannot be combined with other scopes")
    }

    package static func noScope(_ path: String) -> Finding {
        finding("\(path).scope must name at least one scope")
    }

    package static func bareOverride(_ path: String) -> Finding {
        finding("\(path): a bare number overrides limit (USD), which this budget does not set; write {tokens: N} or {requests: N}")
    }

    package static func builtinRuleId(_ path: String, _ id: String) -> Finding {
        finding("\(path): \"\(id)\" is a built-in check id; give the rule its own id")
    }

    package static func noWaives(_ path: String) -> Finding {
        finding("\(path).waives must name at least one rule, budget or check")
    }

    package static func expires(_ path: String, shown: String) -> Finding {
        finding("\(path).expires must be a date (2026-12-31) or an RFC 3339 time (2026-12-31T18:00:00Z), found \(shown)")
    }

    // MARK: The assembled set

    package static func validate(_ context: inout ValidationContext) {
        let policy = context.policy
        for model in policy.models {
            for fallback in model.fallbacks where !context.isSelfFallback(fallback, of: model) && TextMatching.isGlob(fallback.value) {
                context.report(finding("models.\(model.name).fallbacks must name models, not patterns"), at: fallback.location)
            }
        }
        for environment in policy.environments {
            let path = "environments.\(environment.name)"
            emptyList(environment.models, "\(path).models", "no model is approved here", at: environment.location, &context)
            emptyList(environment.tiers, "\(path).tiers", "no model is approved here", at: environment.location, &context)
            if environment.exclude.contains(where: { $0.value == "*" }) {
                context.report(finding("\(path).exclude has \"*\", so no model is approved here", severity: .warning), at: environment.location)
            }
        }
        for team in policy.teams {
            let path = "teams.\(team.name)"
            emptyList(team.environments, "\(path).environments", "the team may run nowhere", at: team.location, &context)
            emptyList(team.models, "\(path).models", "the team may use no model", at: team.location, &context)
            emptyList(team.regions, "\(path).regions", "the team's traffic may run in no region", at: team.location, &context)
        }
        if let allowed = policy.regions.allowed, allowed.isEmpty {
            context.report(finding("regions.allowed is empty, so no traffic may run anywhere; remove the key to allow every region", severity: .warning),
                           at: policy.regions.allowedLocation ?? SourceLocation(file: policy.files.first ?? "."))
        }
        for budget in policy.budgets {
            let path = "budgets.\(budget.id)"
            for entry in context.limitKeys(of: budget) {
                guard let parts = entry.parts else {
                    let example = budget.scope.map { "<\($0)>" }.joined(separator: "/")
                    context.report(finding("\(path).limits key \"\(entry.key)\" does not fit the scope \(budget.scope.map(\.description).joined(separator: ", ")); write it as \(example)"), at: entry.limits.location)
                    continue
                }
                for (scope, value) in parts {
                    switch scope {
                    case .model:
                        if let canonical = context.aliases[value] {
                            context.report(finding("\(path).limits key \"\(value)\" is an alias of \(canonical); budget keys use canonical model names"), at: entry.limits.location)
                        }
                    case .org:
                        if value != "org" { context.report(finding("\(path).limits: the org scope has the single key \"org\""), at: entry.limits.location) }
                    case .team, .environment, .provider, .user, .tag: break
                    }
                }
            }
        }
    }

    /// An explicitly empty list that forbids everything is almost always a mistake.
    private static func emptyList(_ list: [Located<String>]?, _ path: String, _ consequence: String, at location: SourceLocation,
                                  _ context: inout ValidationContext)
    {
        guard let list, list.isEmpty else { return }
        context.report(finding("\(path) is empty, so \(consequence); remove the key to lift the restriction", severity: .warning), at: location)
    }
}
