import PurserCore
import PurserYAML

extension DiagnosticCode {
    /// Aliases expand to more than 10,000 nodes in a document (a "billion laughs"), or name no anchor.
    package static let yamlAlias = YAMLAlias.code
}

/// `yaml-alias`, raised by the YAML reader (its message is the reader's). The reader counts the nodes aliases expand to, and refuses an alias with no anchor.
package enum YAMLAlias: YAMLReaderRule {
    package static let readerKind = YAMLError.Kind.aliasExpansion

    package static let description = RuleDescription(
        id: "yaml-alias", stage: .input,
        summary: "Aliases expand to more than 10,000 nodes in a document (a \"billion laughs\"), or name no anchor.",
        triggering: [
            .policy("""
                version: 1
                a: &a [x, x, x, x, x, x, x, x, x, x]
                b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
                c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
                d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
                e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]

                """),
            .policy("version: 1\nmodels: *undefined\n"),
        ],
        nonTriggering: [
            .policy(CheckCatalog.base.replacingOccurrences(of: "  dev: {}\n", with: "  dev: {models: &cheap [gpt-5-mini]}\n  qa: {models: *cheap}\n")),
        ])
}
