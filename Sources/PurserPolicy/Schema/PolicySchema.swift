import PurserCore

/// The keys of every section of the policy language, with their types and one line
/// on each. The decoder reads its key lists from here (``DecodingContext/fields(_:_:section:)``
/// reports any other key as `unknown-key`), and `purser schema` renders the same
/// description as a JSON Schema (``JSONSchema``), so the two cannot drift apart.
package enum PolicySchema {
    /// One policy document (a fragment): the top level of a policy file.
    package static let document = SchemaSection(
        "document", "One fragment of a Purser policy set (a YAML document of a policy file).",
        nullable: true,
        keys: [
            SchemaKey("version", .version, required: true, "The policy language version: the plain number 1, in every fragment."),
            SchemaKey("settings", .section(settings), "Policy-wide behaviour; every key is optional. One fragment only."),
            SchemaKey("price_sources", .names(glob: false), "LiteLLM price tables (model_prices_and_context_window.json), relative to this file. One fragment only."),
            SchemaKey("models", .map(.section(model)), "The model catalog: canonical model name → definition."),
            SchemaKey("environments", .map(.section(environment)), "Where requests come from, and which models each approves."),
            SchemaKey("teams", .map(.section(team)), "Who sends requests: team name → restrictions and budget shorthand."),
            SchemaKey("budgets", .list(.section(budget)), "Spending caps, each kept per scope key and calendar window."),
            SchemaKey("regions", .section(regions), "Where traffic may run, and where it fails over."),
            SchemaKey("rules", .list(.section(rule)), "Your own checks, evaluated on every request next to the built-in ones."),
            SchemaKey("exceptions", .list(.section(exception)), "Time-limited waivers of rules, budgets and built-in checks."),
        ],
        advice: ["tests": "test cases belong in *.test.yaml files, which `purser test` runs"])

    package static let settings = SchemaSection(
        "settings", "Policy-wide behaviour. Every key is optional; `settings` may appear in one fragment only.",
        keys: [
            SchemaKey("timezone", .timezone, "The IANA zone of calendar budget windows, of `hour` and `weekday`, and of exception dates (default UTC)."),
            SchemaKey("tiers", .names(glob: false), "The model tiers, least to most capable (default [small, standard, frontier]); gt/lt on tier compare by this order."),
            SchemaKey("unknown_model", .choice(of: Settings.UnknownHandling.self), "A request names a model that is not in the catalog (default deny)."),
            SchemaKey("unknown_team", .choice(of: Settings.UnknownHandling.self), "A request names a team that is not defined (default deny)."),
            SchemaKey("unknown_environment", .choice(of: Settings.UnknownHandling.self), "A request names an environment that is not defined (default deny)."),
            SchemaKey("unpriced_model", .choice(of: Settings.FailureHandling.self), "A request under a USD budget cannot be costed: deny fails closed, allow counts it as $0 (default deny)."),
            SchemaKey("ledger_unavailable", .choice(of: Settings.FailureHandling.self), "The spend store cannot be reached: deny fails closed, allow fails open (default deny)."),
            SchemaKey("reservation_ttl", .duration(max: DurationText.maxSeconds), "How long an unsettled reservation holds budget: 30s, 10m, 1h30m, 2d or whole seconds, 1s to 30d (default 10m)."),
            SchemaKey("budget_leases", .section(budgetLeases), "Turns budget leases on: each replica admits from a slice of a counter's headroom taken in one round trip (default off)."),
            SchemaKey("reroute", .bool, "Whether a denied request tries region and model fallbacks before it is refused (default true)."),
        ])

    package static let budgetLeases = SchemaSection(
        "budgetLeases", "Budget leases: a replica takes a slice of a counter's remaining headroom from the ledger and admits calls from it locally. Present (even empty) turns them on.",
        keys: [
            SchemaKey("slice", .fraction(max: 1), "The share of the counters' remaining headroom one slice takes, above 0 and at most 1 (default 0.05)."),
            SchemaKey("max_calls", .wholeNumber(1...Settings.BudgetLeases.maxCallsLimit), "The most calls' estimates one slice holds, 1 to 1000000 (default 1000)."),
            SchemaKey("duration", .duration(max: Settings.BudgetLeases.maxDurationSeconds), "How long a slice admits calls before it is returned: 1s to 1h (default 10s)."),
        ])

    package static let model = SchemaSection(
        "model", "A model of the catalog, under its canonical name.",
        keys: [
            SchemaKey("provider", .name(glob: false), "The provider, e.g. anthropic or openai; required unless a price source supplies litellm_provider."),
            SchemaKey("tier", .name(glob: false), required: true, "One of settings.tiers."),
            SchemaKey("price", .section(price), "Prices in USD per 1M tokens; without one, the model's row of price_sources, if any."),
            SchemaKey("price_key", .name(glob: false), "The key to look up in price_sources (default: the model name); not with price."),
            SchemaKey("regions", .names(glob: false), "The regions the model is served in (omitted: anywhere)."),
            SchemaKey("aliases", .names(glob: false), "Other names requests may use; evaluated and reported as this model."),
            SchemaKey("fallbacks", .names(glob: false), "Models tried in order when a request for this model is denied: names or aliases, not globs."),
            SchemaKey("description", .text, "Free text."),
        ])

    package static let price = SchemaSection(
        "price", "A model's prices in USD per 1M tokens.",
        keys: [
            SchemaKey("input", .price, required: true, "Uncached input tokens."),
            SchemaKey("output", .price, required: true, "Output tokens."),
            SchemaKey("cached_input", .price, "Input tokens read from the prompt cache (default: the input price)."),
            SchemaKey("cache_write", .price, "Input tokens written to the prompt cache (default: the input price)."),
            SchemaKey("batch", .section(tierPrice), "Prices of OpenAI's Batch API (usage rows with batch: true); default: the table's *_batches prices, else these list prices."),
            SchemaKey("flex", .section(tierPrice), "Prices of flex processing (usage rows with service_tier: flex); default: the table's *_flex prices, else these list prices."),
            SchemaKey("priority", .section(tierPrice), "Prices of priority processing (usage rows with service_tier: priority); default: the table's *_priority prices, else these list prices."),
        ])

    package static let tierPrice = SchemaSection(
        "tierPrice", "A model's prices in USD per 1M tokens in one service tier (batch, flex or priority).",
        keys: [
            SchemaKey("input", .price, required: true, "Uncached input tokens."),
            SchemaKey("output", .price, required: true, "Output tokens."),
            SchemaKey("cached_input", .price, "Input tokens read from the prompt cache (default: the lower of this tier's input price and the list cached_input price)."),
            SchemaKey("cache_write", .price, "Input tokens written to the prompt cache (default: this tier's input price)."),
        ])

    package static let environment = SchemaSection(
        "environment", "An environment: which models it approves (all of models, tiers and exclude must allow one).",
        keys: [
            SchemaKey("models", .names(glob: true), "Names, aliases or globs (\"gpt-5*\") approved here (omitted: every model; empty: none)."),
            SchemaKey("tiers", .names(glob: false), "Tiers from settings.tiers approved here (omitted: every tier)."),
            SchemaKey("exclude", .names(glob: true), "Names, aliases or globs never approved here."),
            SchemaKey("regions", .names(glob: false), "Regions requests in this environment may run in, on top of regions.allowed."),
            SchemaKey("aliases", .names(glob: false), "Other names logs and requests use for this environment (e.g. prod); evaluated and reported as it."),
            SchemaKey("description", .text, "Free text."),
        ])

    package static let team = SchemaSection(
        "team", "A team; every key is optional.",
        keys: [
            SchemaKey("environments", .names(glob: false), "Environments the team may run in (omitted: all)."),
            SchemaKey("models", .names(glob: true), "The team's own allow-list of names, aliases or globs, on top of the environment's."),
            SchemaKey("regions", .names(glob: false), "Regions the team's traffic must stay in (residency)."),
            SchemaKey("budget", .section(teamBudget), "Hard USD caps per period, e.g. {month: 5000, day: 400}: budgets team.<team>.<period>."),
            SchemaKey("max_request_cost", .usd(max: .max), "The largest estimated cost (USD) one request may have."),
            SchemaKey("aliases", .names(glob: false), "Other names logs and requests use for this team (a LiteLLM team_id, an OpenAI project_id); evaluated, budgeted and reported as it."),
            SchemaKey("description", .text, "Free text."),
        ])

    package static let teamBudget = SchemaSection(
        "teamBudget", "The team budget shorthand: a hard USD cap per period.",
        keys: BudgetPeriod.allCases.map {
            SchemaKey($0.rawValue, .usd(max: BudgetLimits.maxUSD), "USD per \($0.rawValue): creates the budget team.<team>.\($0.rawValue).")
        })

    package static let budget = SchemaSection(
        "budget", "A spending cap: one counter per scope key and window; a request must fit every cap it falls under.",
        keys: [
            SchemaKey("id", .name(glob: false), required: true, "A unique id; it may not start with team."),
            SchemaKey("scope", .scope, required: true, "What a counter is kept per: org, team, environment, user, model, provider, tag:KEY, or a list of them."),
            SchemaKey("period", .choice(of: BudgetPeriod.self), required: true, "The calendar window, in settings.timezone."),
            SchemaKey("limit", .usd(max: BudgetLimits.maxUSD), "USD per scope key and window."),
            SchemaKey("tokens", .wholeNumber(0...BudgetLimits.maxCount), "Tokens per scope key and window (input + cached input + cache write + output)."),
            SchemaKey("requests", .wholeNumber(0...BudgetLimits.maxCount), "Requests per scope key and window."),
            SchemaKey("limits", .keyed(.anyOf([.usd(max: BudgetLimits.maxUSD), .section(limitOverride)])), "Per-key overrides: a bare number overrides limit, a map {limit, tokens, requests} any cap."),
            SchemaKey("alerts", .list(.fraction(max: 10)), "Fractions of the limit that raise an alert when first crossed, e.g. [0.5, 0.8, 1.0]."),
            SchemaKey("when", .condition, "Only requests this condition matches count and are checked (omitted: every request)."),
            SchemaKey("on_exceed", .choice(of: BudgetAction.self), "deny (a hard cap, the default) or warn (a soft cap)."),
            SchemaKey("description", .text, "Free text."),
        ],
        oneOfRequired: ["limit", "tokens", "requests"])

    package static let limitOverride = SchemaSection(
        "limitOverride", "Caps for one scope key; the ones left out keep the budget's.",
        keys: [
            SchemaKey("limit", .usd(max: BudgetLimits.maxUSD), "USD for this key."),
            SchemaKey("tokens", .wholeNumber(0...BudgetLimits.maxCount), "Tokens for this key."),
            SchemaKey("requests", .wholeNumber(0...BudgetLimits.maxCount), "Requests for this key."),
        ])

    package static let regions = SchemaSection(
        "regions", "Where traffic may run, and where it fails over.",
        keys: [
            SchemaKey("allowed", .names(glob: false), "The regions traffic may run in at all; when set, every region named in the policy must be in it. One fragment only."),
            SchemaKey("fallbacks", .map(.names(glob: false)), "Region → regions to try, in order, when a request there is denied."),
            SchemaKey("aliases", .map(.name(glob: false)), "Other name → region, e.g. eastus2: us-east-1; a request or record naming the alias is evaluated and reported in the region."),
        ])

    package static let rule = SchemaSection(
        "rule", "A rule of your own, evaluated on every request.",
        keys: [
            SchemaKey("id", .name(glob: false), required: true, "A unique id, reported as the violation's rule; not a built-in check id."),
            SchemaKey("description", .text, "Why the rule exists."),
            SchemaKey("when", .condition, "The rule fires when this holds (omitted: on every request)."),
            SchemaKey("unless", .condition, "When this holds, the rule does not fire."),
            SchemaKey("effect", .choice(of: RuleEffect.self), "deny (the default) or warn."),
            SchemaKey("severity", .choice(of: Severity.self), "Reported with the violation (default medium)."),
            SchemaKey("enforcement", .choice(of: Enforcement.self), "enforce (the default) or audit: reported as a warning, never blocks."),
            SchemaKey("message", .text, "The text reported with the violation."),
        ])

    package static let exception = SchemaSection(
        "exception", "A time-limited waiver of the rules, budgets or built-in checks it names.",
        keys: [
            SchemaKey("id", .name(glob: false), required: true, "A unique id, e.g. a ticket number."),
            SchemaKey("waives", .names(glob: false), required: true, "Rule ids, budget ids (team.<team>.<period> too) and built-in check ids; at least one."),
            SchemaKey("when", .condition, "The requests it applies to (omitted: every request)."),
            SchemaKey("expires", .dateOrTime, required: true, "A date (valid through that day in settings.timezone) or an RFC 3339 time."),
            SchemaKey("reason", .text, "Why, who approved it, the ticket."),
            SchemaKey("description", .text, "Accepted when there is no reason."),
        ])

    /// Every section, in the order the JSON Schema lists them.
    package static let sections = [
        document, settings, budgetLeases, model, price, tierPrice, environment, team, teamBudget, budget, limitOverride, regions, rule, exception,
    ]

    /// One line on each condition attribute (docs/policy-language.md, "Attributes"), by name; `tags.KEY` stands for every tag.
    package static let attributes: [String: String] = [
        "team": "The request's team.",
        "environment": "The request's environment.",
        "model": "The canonical model name; aliases in a condition match their model.",
        "provider": "The model's provider.",
        "tier": "The model's tier, ordered by settings.tiers.",
        "region": "The request's region.",
        "user": "The request's user.",
        "tags.KEY": "The value of the request tag KEY (any key, e.g. tags.ticket).",
        "input_tokens": "Uncached input tokens.",
        "cached_input_tokens": "Input tokens read from the cache.",
        "cache_write_tokens": "Input tokens written to the cache.",
        "output_tokens": "Output tokens.",
        "total_tokens": "The sum of the four token counts.",
        "cost": "The estimated cost in USD (or the request's own cost).",
        "hour": "The hour of the request, 0–23, in settings.timezone.",
        "weekday": "The day of the week, mon … sun (any case), in settings.timezone.",
    ]
}

/// A mapping of the policy language with a fixed set of keys.
package struct SchemaSection: Sendable {
    /// The name of its definition in the JSON Schema (`#/$defs/model`).
    package let name: String
    /// One line on what it is.
    package let summary: String
    package let keys: [SchemaKey]
    /// The key names, in order: what the decoder accepts.
    package let keyNames: [String]
    /// Whether `null` (an empty value, `dev:`) stands for an empty mapping.
    package let nullable: Bool
    /// Advice instead of "did you mean" for keys that belong elsewhere.
    package let advice: [String: String]
    /// At least one of these keys must be given (a budget's caps).
    package let oneOfRequired: [String]

    package init(_ name: String, _ summary: String, nullable: Bool? = nil, keys: [SchemaKey],
                 advice: [String: String] = [:], oneOfRequired: [String] = [])
    {
        self.name = name
        self.summary = summary
        self.keys = keys
        self.keyNames = keys.map(\.name)
        self.nullable = nullable ?? !keys.contains(where: \.required)
        self.advice = advice
        self.oneOfRequired = oneOfRequired
    }

    /// The description of a key, if the section has it.
    package func key(_ name: String) -> SchemaKey? {
        keys.first { $0.name == name }
    }
}

/// One key of a section.
package struct SchemaKey: Sendable {
    package let name: String
    package let type: SchemaType
    package let required: Bool
    /// One line on what it does, shown by editors.
    package let summary: String

    package init(_ name: String, _ type: SchemaType, required: Bool = false, _ summary: String) {
        self.name = name
        self.type = type
        self.required = required
        self.summary = summary
    }
}

/// What a value of the policy language is. Scalars are typed by the key, not by
/// YAML: any scalar can be text, but a number must be a plain number.
package indirect enum SchemaType: Sendable {
    /// Any scalar, read as text.
    case text
    /// A name (docs/policy-language.md, "Names"): no whitespace or control characters, and no `*` or `?` unless a glob.
    case name(glob: Bool)
    /// A list of names without duplicates; null is an empty list.
    case names(glob: Bool)
    /// The plain number 1.
    case version
    /// A whole number in a range.
    case wholeNumber(ClosedRange<Int64>)
    /// An amount of USD, at most 9 decimal places.
    case usd(max: USD)
    /// A price in USD per 1M tokens.
    case price
    /// A decimal above 0 and at most `max`.
    case fraction(max: Int64)
    /// `true` or `false`.
    case bool
    /// One of an enumeration's raw values.
    case choice([String])
    /// A duration like `10m`, or whole seconds, from 1 second to `max` seconds.
    case duration(max: Int64)
    /// A date (`2026-12-31`) or an RFC 3339 time.
    case dateOrTime
    /// An IANA time zone.
    case timezone
    /// A weekday, `mon` … `sun`, in any case.
    case weekday
    /// A budget scope, or a list of them.
    case scope
    /// A mapping with the section's keys; null is an empty mapping.
    case section(SchemaSection)
    /// Names mapped to values; null is an empty mapping.
    case map(SchemaType)
    /// Any scalar keys mapped to values (a budget's `limits`).
    case keyed(SchemaType)
    /// A list; null is an empty list.
    case list(SchemaType)
    /// A `when` / `unless` condition.
    case condition
    /// Any of several types.
    case anyOf([SchemaType])

    /// The raw values of an enumeration the decoder reads with `choice`.
    package static func choice<Value: RawRepresentable & CaseIterable>(of type: Value.Type) -> SchemaType
    where Value.RawValue == String {
        .choice(Value.allCases.map(\.rawValue))
    }
}
