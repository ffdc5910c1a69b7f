import PurserCore
import PurserYAML

/// Decodes `when` / `unless` maps (docs/policy-language.md, "Conditions: when and unless"),
/// typing operands by attribute.
/// Unknown attributes and operators are errors, never silently false.
package struct ConditionDecoder {
    package let context: DecodingContext

    package static let weekdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

    /// The type of an attribute's operands (`purser schema` describes conditions with it too).
    package static func operandType(_ attribute: Condition.Attribute) -> SchemaType {
        switch attribute {
        case .inputTokens, .cachedInputTokens, .cacheWriteTokens, .outputTokens, .totalTokens: return .wholeNumber(0...Int64.max)
        case .cost: return .usd(max: .max)
        case .hour: return .wholeNumber(0...23)
        case .weekday: return .weekday
        default: return .text
        }
    }

    /// Whether an operator applies to an attribute: `glob` to names, comparisons to ordered attributes.
    package static func accepts(_ op: Condition.Matcher.Operator, on attribute: Condition.Attribute) -> Bool {
        switch op {
        case .glob: return !attribute.isNumeric
        case .gt, .gte, .lt, .lte: return attribute.isOrdered
        case .equals, .in, .notIn, .exists: return true
        }
    }

    package func decode(_ node: YAMLNode, _ path: String) -> Condition? {
        if node.isNull { return Condition(clauses: [], location: context.location(node)) }
        guard let pairs = node.mapping else {
            context.report(WrongType.mustBe(path, "a mapping of attribute: matcher", found: node.kindDescription), at: node)
            return nil
        }
        var clauses: [Condition.Clause] = []
        for pair in pairs {
            let name = pair.key.scalar ?? ""
            guard let attribute = Condition.Attribute(name) else {
                context.report(InvalidCondition.unknownAttribute(path, name), at: pair.key)
                continue
            }
            if let matchers = matchers(pair.value, attribute, "\(path).\(name)") {
                clauses.append(Condition.Clause(attribute: attribute, matchers: matchers, location: context.location(pair.key)))
            }
        }
        return Condition(clauses: clauses, location: context.location(node))
    }

    private func matchers(_ node: YAMLNode, _ attribute: Condition.Attribute, _ path: String) -> [Condition.Matcher]? {
        let location = context.location(node)
        switch node.content {
        case .scalar:
            guard let operand = operand(node, attribute, path) else { return nil }
            return [Condition.Matcher(op: .equals, operands: [operand], location: location)]
        case .sequence(let items):
            let operands = items.compactMap { operand($0, attribute, path) }
            guard operands.count == items.count else { return nil }
            return [Condition.Matcher(op: .in, operands: operands, location: location)]
        case .mapping(let pairs):
            var result: [Condition.Matcher] = []
            for pair in pairs {
                let name = pair.key.scalar ?? ""
                let opPath = "\(path).\(name)"
                guard let op = Condition.Matcher.Operator(rawValue: name), op != .equals else {
                    context.report(InvalidCondition.unknownOperator(path, name), at: pair.key)
                    continue
                }
                let opLocation = context.location(pair.key)
                switch op {
                case .in, .notIn:
                    guard let items = pair.value.sequence else {
                        context.report(InvalidCondition.needsList(opPath, found: pair.value.kindDescription), at: pair.value)
                        continue
                    }
                    let operands = items.compactMap { operand($0, attribute, opPath) }
                    if operands.count == items.count {
                        result.append(Condition.Matcher(op: op, operands: operands, location: opLocation))
                    }
                case .glob:
                    guard ConditionDecoder.accepts(op, on: attribute) else {
                        context.report(InvalidCondition.globOnNumber(opPath, attribute), at: pair.key)
                        continue
                    }
                    if let text = context.string(pair.value, opPath) {
                        result.append(Condition.Matcher(op: op, operands: [Located(.text(text), at: context.location(pair.value))], location: opLocation))
                    }
                case .gt, .gte, .lt, .lte:
                    guard ConditionDecoder.accepts(op, on: attribute) else {
                        context.report(InvalidCondition.notOrdered(opPath, name, attribute), at: pair.key)
                        continue
                    }
                    if let operand = operand(pair.value, attribute, opPath) {
                        result.append(Condition.Matcher(op: op, operands: [operand], location: opLocation))
                    }
                case .exists:
                    if let flag = context.bool(pair.value, opPath) {
                        result.append(Condition.Matcher(op: op, operands: [Located(.flag(flag), at: context.location(pair.value))], location: opLocation))
                    }
                case .equals:
                    continue
                }
            }
            if pairs.isEmpty {
                context.report(InvalidCondition.emptyOperatorMap(path), at: node)
                return nil
            }
            return result
        }
    }

    /// An operand typed by the attribute: a count, an amount, an hour, a weekday or a name.
    private func operand(_ node: YAMLNode, _ attribute: Condition.Attribute, _ path: String) -> Located<Condition.Operand>? {
        let location = context.location(node)
        switch ConditionDecoder.operandType(attribute) {
        case .wholeNumber(let range):
            return context.integer(node, path, in: range).map { Located(.integer($0), at: location) }
        case .usd(let max):
            return context.usd(node, path, max: max).map { Located(.integer($0.nanos), at: location) }
        case .weekday:
            guard let text = context.string(node, path) else { return nil }
            let day = text.lowercased()
            guard ConditionDecoder.weekdays.contains(day) else {
                context.report(InvalidCondition.notAWeekday(path, text), at: node)
                return nil
            }
            return Located(.text(day), at: location)
        default:
            guard let text = context.string(node, path) else { return nil }
            return Located(.text(text), at: location)
        }
    }
}
