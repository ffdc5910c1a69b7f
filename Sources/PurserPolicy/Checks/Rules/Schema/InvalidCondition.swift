import PurserCore

extension DiagnosticCode {
    /// A `when`/`unless` names an unknown attribute or operator, or an operator that does not fit the attribute.
    package static let invalidCondition = InvalidCondition.code
}

/// `invalid-condition`: a condition the decoder cannot type (``ConditionDecoder``).
/// Unknown attributes and operators are errors, never silently false.
package enum InvalidCondition: CheckRule {
    package static let description = RuleDescription(
        id: "invalid-condition", stage: .schema,
        summary: "A `when`/`unless` names an unknown attribute or operator, or an operator that does not fit the attribute.",
        triggering: [
            .policy(CheckCatalog.base + "rules:\n  - {id: r, when: {enviroment: dev}}\n"),
            .policy(CheckCatalog.base + "rules:\n  - {id: r, when: {input_tokens: {greater: 5}}}\n"),
        ],
        nonTriggering: [.policy(CheckCatalog.base + "rules:\n  - {id: r, when: {environment: dev, input_tokens: {gt: 5}}}\n")])

    package static func unknownAttribute(_ path: String, _ name: String) -> Finding {
        let known = Condition.Attribute.names
        let suggestion = TextMatching.didYouMean(name, among: known.filter { $0 != "tags.KEY" })
        let list = suggestion.isEmpty ? "; attributes are \(known.joined(separator: ", "))" : suggestion
        return finding("\(path): unknown attribute \"\(name)\"\(list)")
    }

    package static func unknownOperator(_ path: String, _ name: String) -> Finding {
        let names = Condition.Matcher.Operator.allCases.filter { $0 != .equals }.map(\.rawValue)
        return finding("\(path): unknown operator \"\(name)\"\(TextMatching.didYouMean(name, among: names)); operators are \(names.joined(separator: ", "))")
    }

    package static func needsList(_ path: String, found: String) -> Finding {
        finding("\(path) needs a list, found \(found)")
    }

    package static func globOnNumber(_ path: String, _ attribute: Condition.Attribute) -> Finding {
        finding("\(path): glob applies to names, not to the number \(attribute)")
    }

    package static func notOrdered(_ path: String, _ op: String, _ attribute: Condition.Attribute) -> Finding {
        finding("\(path): \(op) compares numbers, tiers or weekdays, not \(attribute)")
    }

    package static func emptyOperatorMap(_ path: String) -> Finding {
        finding("\(path) has an empty operator map; write a value, a list, or operators like {gt: 10}")
    }

    package static func notAWeekday(_ path: String, _ text: String) -> Finding {
        finding("\(path): \"\(text)\" is not a weekday; use \(ConditionDecoder.weekdays.joined(separator: ", "))")
    }
}
