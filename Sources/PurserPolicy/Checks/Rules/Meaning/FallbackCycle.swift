import PurserCore

extension DiagnosticCode {
    /// Model fallbacks loop (a → b → a), or a model or region falls back to itself.
    package static let fallbackCycle = FallbackCycle.code
}

/// `fallback-cycle`: rerouting must end. A model or region that lists itself, and
/// model fallbacks that loop back through other models.
package enum FallbackCycle: PolicySetRule {
    package static let description = RuleDescription(
        id: "fallback-cycle", stage: .meaning,
        summary: "Model fallbacks loop (a → b → a), or a model or region falls back to itself.",
        triggering: [
            .policy(CheckCatalog.fallbackPair(loop: true)),
            .policy("version: 1\nregions:\n  allowed: [us-east-1]\n  fallbacks: {us-east-1: [us-east-1]}\n"),
        ],
        nonTriggering: [.policy(CheckCatalog.fallbackPair())])

    package static func validate(_ context: inout ValidationContext) {
        let policy = context.policy
        for model in policy.models {
            for fallback in model.fallbacks where context.isSelfFallback(fallback, of: model) {
                context.report(finding("models.\(model.name).fallbacks lists the model itself"), at: fallback.location)
            }
        }
        for fallback in policy.regions.fallbacks {
            for target in fallback.targets where target.value == fallback.region.value {
                context.report(finding("regions.fallbacks.\(fallback.region.value) lists the region itself"), at: target.location)
            }
        }
        reportCycles(&context)
    }

    /// Cycles: a → b → … → a through model fallbacks. The depth-first search keeps
    /// its path on an explicit stack: a policy may chain hundreds of thousands of
    /// fallbacks, too deep for recursion.
    private static func reportCycles(_ context: inout ValidationContext) {
        let models = context.models
        var state: [String: Int] = [:]  // 1 on the current path, 2 done
        var reported: Set<String> = []
        for model in context.policy.models where state[model.name] == nil {
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
                let target = context.canonical(fallbacks[top.next].value)
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
                // The first cycle found from this model ends its search.
                for entry in path { state[entry.name] = 2 }
                break
            }
            if let loop = cycle {
                let key = Set(loop).sorted().joined(separator: ",")
                if reported.insert(key).inserted, let first = models[loop[0]] {
                    let location = first.fallbacks.first { context.canonical($0.value) == loop[1] }?.location ?? first.location
                    context.report(finding("model fallbacks form a cycle: \(loop.joined(separator: " → "))"), at: location)
                }
            }
        }
    }
}
