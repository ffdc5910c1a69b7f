import PurserCore

/// Whether an environment approves a model: its models list (names, aliases,
/// globs), its tiers, and its exclude list.
package enum EnvironmentApproval {
    package static func approves(_ environment: EnvironmentDefinition, model: ModelDefinition, settings: Settings) -> Bool {
        if let patterns = environment.models, !patterns.contains(where: { matches($0.value, model) }) { return false }
        if let tiers = environment.tiers, !tiers.contains(where: { $0.value == model.tier.value }) { return false }
        if environment.exclude.contains(where: { matches($0.value, model) }) { return false }
        return true
    }

    package static func matches(_ pattern: String, _ model: ModelDefinition) -> Bool {
        if TextMatching.isGlob(pattern) {
            return TextMatching.glob(pattern, matches: model.name) || model.aliases.contains { TextMatching.glob(pattern, matches: $0.value) }
        }
        return pattern == model.name || model.aliases.contains { $0.value == pattern }
    }

    /// An environment's model lists split into plain names (a set) and
    /// globs, so that approving many models does not compare each one with
    /// every entry. Same answers as ``approves(_:model:settings:)``.
    package struct Index {
        package let environment: EnvironmentDefinition
        package let names: Set<String>?
        package let globs: [String]
        package let excludedNames: Set<String>
        package let excludedGlobs: [String]

        package init(_ environment: EnvironmentDefinition) {
            self.environment = environment
            let patterns = environment.models?.map(\.value)
            names = patterns.map { Set($0.filter { !TextMatching.isGlob($0) }) }
            globs = patterns?.filter(TextMatching.isGlob) ?? []
            let excluded = environment.exclude.map(\.value)
            excludedNames = Set(excluded.filter { !TextMatching.isGlob($0) })
            excludedGlobs = excluded.filter(TextMatching.isGlob)
        }

        package func approves(_ model: ModelDefinition, settings: Settings) -> Bool {
            if let names, !Self.matches(names, globs, model) { return false }
            if let tiers = environment.tiers, !tiers.contains(where: { $0.value == model.tier.value }) { return false }
            if Self.matches(excludedNames, excludedGlobs, model) { return false }
            return true
        }

        private static func matches(_ names: Set<String>, _ globs: [String], _ model: ModelDefinition) -> Bool {
            names.contains(model.name) || model.aliases.contains { names.contains($0.value) }
                || globs.contains { EnvironmentApproval.matches($0, model) }
        }
    }
}
