/// One YAML document of a policy set, decoded but not yet merged with the others.
struct Fragment {
    let file: String
    let documentIndex: Int
    let location: SourceLocation
    var settings: Settings?
    var priceSources: Located<[Located<String>]>?
    var models: [ModelDraft] = []
    var environments: [EnvironmentDefinition] = []
    var teams: [TeamDefinition] = []
    var budgets: [BudgetDefinition] = []
    var regionsAllowed: Located<[Located<String>]>?
    var regionFallbacks: [RegionFallback] = []
    var rules: [RuleDefinition] = []
    var exceptions: [ExceptionDefinition] = []
}

/// A model as written; its price and provider may still come from a price source.
struct ModelDraft {
    let name: Located<String>
    let provider: Located<String>?
    let tier: Located<String>?
    let price: Price?
    let priceKey: Located<String>?
    let regions: [Located<String>]?
    let aliases: [Located<String>]
    let fallbacks: [Located<String>]
    let description: String?
}
