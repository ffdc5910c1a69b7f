import PurserCore

extension DiagnosticCode {
    /// A model, alias, environment, team, budget, rule or exception is defined twice (in one file or across files); both places are named.
    package static let duplicateDefinition = DuplicateDefinition.code
}

/// `duplicate-definition`: a name defined twice, or a one-fragment section written
/// in two fragments; found while the fragments are merged (``PolicyAssembler``).
package enum DuplicateDefinition: CheckRule {
    package static let description = RuleDescription(
        id: "duplicate-definition", stage: .schema,
        summary: "A model, alias, environment, team, budget, rule or exception is defined twice (in one file or across files); both places are named.",
        triggering: [
            .files([("policies/a.yaml", .text(CheckCatalog.base)), ("policies/b.yaml", .text("version: 1\nenvironments:\n  dev: {}\n"))], check: "policies"),
        ],
        nonTriggering: [
            .files([("policies/a.yaml", .text(CheckCatalog.base)), ("policies/b.yaml", .text("version: 1\nenvironments:\n  qa: {}\n"))], check: "policies"),
        ])

    /// `what` defined at two places, reported at the later one and naming the earlier.
    /// With a `kind` ("section"), `what` is a section that one fragment only may hold.
    package static func diagnostic(_ what: String, _ kind: String, at location: SourceLocation, first: SourceLocation) -> Diagnostic {
        let (later, earlier) = location < first ? (first, location) : (location, first)
        let noun = kind.isEmpty ? what : "the \(what) \(kind)"
        let message = kind.isEmpty
            ? "\(noun) is defined twice: here and at \(earlier)"
            : "\(noun) may appear in one fragment only; it is also at \(earlier)"
        return finding(message).at(later)
    }
}
