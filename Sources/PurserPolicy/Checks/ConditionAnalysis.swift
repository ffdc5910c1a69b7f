import PurserYAML
import PurserCore
/// Static analysis of conditions: whether a `when` can ever hold, given the
/// policy's catalog (tiers of models, providers, the hour and weekday ranges).
package struct ConditionAnalysis {
    package let policy: PolicySet
    /// Each model's tier and provider, by canonical name.
    private let catalog: [String: (tier: String, provider: String)]
    /// Canonical model names by alias.
    private let aliases: [String: String]

    /// Prepares the analysis of a policy's conditions (build it once per policy).
    package init(policy: PolicySet) {
        self.policy = policy
        var catalog: [String: (tier: String, provider: String)] = [:]
        var aliases: [String: String] = [:]
        for model in policy.models {
            catalog[model.name] = (model.tier.value, model.provider)
            for alias in model.aliases where aliases[alias.value] == nil { aliases[alias.value] = model.name }
        }
        self.catalog = catalog
        self.aliases = aliases
    }

    /// Why the condition can never hold, or nil when it can (or we cannot tell).
    package func contradiction(in condition: Condition) -> String? {
        var modelSet: Set<String>?
        var tierSet: Set<String>?
        var providerSet: Set<String>?
        for clause in condition.clauses {
            if let reason = contradiction(in: clause) { return reason }
            let values = finiteValues(clause)
            switch clause.attribute {
            case .model: modelSet = values.map { Set($0.map { canonicalModel($0) }) }
            case .tier: tierSet = values
            case .provider: providerSet = values
            default: break
            }
        }
        // Cross-attribute: the models named must have a tier and provider named.
        if let models = modelSet {
            let candidates = models.compactMap { catalog[$0] }
            if let tiers = tierSet, !candidates.isEmpty, !candidates.contains(where: { tiers.contains($0.tier) }) {
                return "no model it names (\(models.sorted().joined(separator: ", "))) has a tier in \(tiers.sorted().joined(separator: ", "))"
            }
            if let providers = providerSet, !candidates.isEmpty, !candidates.contains(where: { providers.contains($0.provider) }) {
                return "no model it names (\(models.sorted().joined(separator: ", "))) is from \(providers.sorted().joined(separator: ", "))"
            }
        }
        return nil
    }

    private func canonicalModel(_ name: String) -> String {
        catalog[name] != nil ? name : aliases[name] ?? name
    }

    /// The values a text clause allows, when it pins them to a finite set.
    private func finiteValues(_ clause: Condition.Clause) -> Set<String>? {
        var allowed: Set<String>?
        for matcher in clause.matchers {
            let texts = matcher.operands.compactMap { operand -> String? in
                if case .text(let text) = operand.value { return text }
                return nil
            }
            switch matcher.op {
            case .equals, .in:
                allowed = allowed.map { $0.intersection(texts) } ?? Set(texts)
            case .notIn:
                allowed = allowed.map { $0.subtracting(texts) }
            default:
                break
            }
        }
        return allowed
    }

    private func contradiction(in clause: Condition.Clause) -> String? {
        let name = clause.attribute.description
        var exists: Bool?
        for matcher in clause.matchers where matcher.op == .exists {
            if case .flag(let flag) = matcher.operands.first?.value { exists = flag }
        }
        let valueMatchers = clause.matchers.filter { $0.op != .exists && $0.op != .notIn }
        if exists == false && !valueMatchers.isEmpty {
            return "\(name) must not exist and also match a value"
        }
        for matcher in clause.matchers where (matcher.op == .in) && matcher.operands.isEmpty {
            return "\(name) must be in an empty list"
        }
        if clause.attribute.isNumeric {
            return numericContradiction(clause)
        }
        if clause.attribute == .tier || clause.attribute == .weekday {
            return orderedTextContradiction(clause)
        }
        if let values = finiteValues(clause), values.isEmpty {
            return "no value of \(name) satisfies all of its matchers"
        }
        return nil
    }

    /// Intersects the ranges and sets of a numeric clause.
    private func numericContradiction(_ clause: Condition.Clause) -> String? {
        var low = Int64.min
        var high = Int64.max
        if clause.attribute == .hour {
            low = 0
            high = 23
        }
        var set: Set<Int64>?
        var excluded: Set<Int64> = []
        for matcher in clause.matchers {
            let values = matcher.operands.compactMap { operand -> Int64? in
                if case .integer(let value) = operand.value { return value }
                return nil
            }
            switch matcher.op {
            case .gt: if let v = values.first, v < Int64.max { low = max(low, v + 1) } else { return "\(clause.attribute) must be above the largest number" }
            case .gte: if let v = values.first { low = max(low, v) }
            case .lt: if let v = values.first, v > Int64.min { high = min(high, v - 1) }
            case .lte: if let v = values.first { high = min(high, v) }
            case .equals, .in: set = set.map { $0.intersection(values) } ?? Set(values)
            case .notIn: excluded.formUnion(values)
            default: break
            }
        }
        if let set {
            let remaining = set.subtracting(excluded).filter { $0 >= low && $0 <= high }
            if remaining.isEmpty { return "no value of \(clause.attribute) satisfies all of its matchers" }
        } else if low > high {
            return "\(clause.attribute) cannot be both \(describeBound(low, lower: true, clause.attribute)) and \(describeBound(high, lower: false, clause.attribute))"
        } else if clause.attribute == .hour, (low...high).allSatisfy({ excluded.contains($0) }) {
            return "every hour is excluded"
        }
        return nil
    }

    private func describeBound(_ value: Int64, lower: Bool, _ attribute: Condition.Attribute) -> String {
        let shown = attribute == .cost ? USD(nanos: value).description : String(value)
        return lower ? "at least \(shown)" : "at most \(shown)"
    }

    /// Tiers and weekdays compare by their order.
    private func orderedTextContradiction(_ clause: Condition.Clause) -> String? {
        let order = clause.attribute == .tier ? policy.settings.tiers.map(\.value) : ConditionDecoder.weekdays
        var allowed = Set(order.indices)
        for matcher in clause.matchers {
            let ranks = matcher.operands.compactMap { operand -> Int? in
                if case .text(let text) = operand.value { return order.firstIndex(of: text) }
                return nil
            }
            guard ranks.count == matcher.operands.count else { continue }  // undefined names are reported elsewhere
            switch matcher.op {
            case .equals, .in: allowed.formIntersection(ranks)
            case .notIn: allowed.subtract(ranks)
            case .gt: if let r = ranks.first { allowed = allowed.filter { $0 > r } }
            case .gte: if let r = ranks.first { allowed = allowed.filter { $0 >= r } }
            case .lt: if let r = ranks.first { allowed = allowed.filter { $0 < r } }
            case .lte: if let r = ranks.first { allowed = allowed.filter { $0 <= r } }
            case .glob: allowed = allowed.filter { index in
                matcher.operands.contains { operand in
                    if case .text(let pattern) = operand.value { return TextMatching.glob(pattern, matches: order[index]) }
                    return false
                }
            }
            case .exists: break
            }
        }
        return allowed.isEmpty ? "no \(clause.attribute) satisfies all of its matchers" : nil
    }
}
