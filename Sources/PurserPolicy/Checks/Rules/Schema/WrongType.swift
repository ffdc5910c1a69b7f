import PurserCore
import PurserYAML

extension DiagnosticCode {
    /// A value has the wrong type for its key; scalars are typed by the schema (`NO` stays a string, `0755` is not a number).
    package static let wrongType = WrongType.code
}

/// `wrong-type`: a value of the wrong kind for its key. Scalars are typed by the
/// schema, not by YAML 1.1's guesses, so the messages say why a scalar is not
/// the number or boolean it may look like.
package enum WrongType: CheckRule {
    package static let description = RuleDescription(
        id: "wrong-type", stage: .schema,
        summary: "A value has the wrong type for its key; scalars are typed by the schema (`NO` stays a string, `0755` is not a number).",
        triggering: [
            .policy(CheckCatalog.base + "budgets:\n  - {id: b, scope: org, period: month, limit: \"100\"}\n"),
            .policy(CheckCatalog.base + "budgets:\n  - {id: b, scope: org, period: month, limit: 0755}\n"),
            .policy("version: 1\nsettings: {reroute: yes}\n"),
        ],
        nonTriggering: [.policy(CheckCatalog.base + "budgets:\n  - {id: b, scope: org, period: month, limit: 100}\n")])

    /// `PATH must be EXPECTED, found FOUND`: a mapping, a list, a string, a number, a boolean.
    package static func mustBe(_ path: String, _ expected: String, found: String) -> Finding {
        finding("\(path) must be \(expected), found \(found)")
    }

    /// A number written in quotes.
    package static func quotedNumber(_ path: String, _ expected: String, shown: String) -> Finding {
        finding("\(path) must be \(expected), found the quoted string \(shown); remove the quotes")
    }

    /// A plain scalar that is not a decimal number, with why when it looks like one.
    package static func notANumber(_ path: String, _ expected: String, text: String, shown: String) -> Finding {
        let leadingZero = text.count > 1 && text.first == "0" && text.dropFirst().first?.isNumber == true
        let reason = leadingZero
            ? " (a leading zero is not allowed: YAML 1.1 would read \(text) as octal)"
            : text.contains("_") ? " (write it without '_' separators)" : ""
        return mustBe(path, expected, found: "\(shown)\(reason)")
    }

    /// `yes`, `no`, `on`, `off`, … : YAML 1.1 booleans, which are strings here.
    package static func yaml11Boolean(_ path: String, shown: String) -> Finding {
        finding("\(path) must be true or false, found \(shown) (only true and false are booleans)")
    }
}
