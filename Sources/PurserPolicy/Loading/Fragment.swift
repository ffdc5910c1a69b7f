import PurserCore
import PurserYAML
/// One YAML document of a policy set, decoded but not yet merged with the others.
package struct Fragment {
    package let file: String
    package let documentIndex: Int
    package let location: SourceLocation
    package var settings: Settings?
    package var priceSources: Located<[Located<String>]>?
    package var models: [ModelDraft] = []
    package var environments: [EnvironmentDefinition] = []
    package var teams: [TeamDefinition] = []
    package var budgets: [BudgetDefinition] = []
    package var regionsAllowed: Located<[Located<String>]>?
    package var regionFallbacks: [RegionFallback] = []
    package var regionAliases: [RegionAlias] = []
    package var rules: [RuleDefinition] = []
    package var exceptions: [ExceptionDefinition] = []
}

/// A model as written; its price and provider may still come from a price source.
package struct ModelDraft {
    package let name: Located<String>
    package let provider: Located<String>?
    package let tier: Located<String>?
    package let price: Price?
    package let priceKey: Located<String>?
    package let regions: [Located<String>]?
    package let aliases: [Located<String>]
    package let fallbacks: [Located<String>]
    package let description: String?
}
