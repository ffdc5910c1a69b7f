import PurserCore
import PurserYAML

/// What one `purser check` code is, after SwiftLint's `RuleDescription`: its id,
/// severity and stage, one line on what it means, and policies that raise it and
/// that do not. The examples run as tests and generate `docs/checks.md`.
package struct RuleDescription: Sendable {
    /// The code: id, default severity, and whether it is an input error (exit 2).
    package let code: DiagnosticCode
    /// Where in the pipeline it is found.
    package let stage: CheckCatalog.Stage
    /// One line on what it means.
    package let summary: String
    /// Policies (file sets) that raise it.
    package let triggering: [CheckCatalog.Example]
    /// Policies that do not raise it (and raise nothing else either).
    package let nonTriggering: [CheckCatalog.Example]

    /// A code of the input stage is an input error (exit 2); the others are not.
    package init(id: String, severity: Diagnostic.Severity = .error, stage: CheckCatalog.Stage, summary: String,
                 triggering: [CheckCatalog.Example], nonTriggering: [CheckCatalog.Example])
    {
        self.code = DiagnosticCode(id, severity, inputError: stage == .input)
        self.stage = stage
        self.summary = summary
        self.triggering = triggering
        self.nonTriggering = nonTriggering
    }
}

/// One diagnostic code of `purser check`. Each code is one type, in one file under
/// `Checks/Rules/<stage>/`, holding its ``RuleDescription`` and the logic that raises
/// it (or builds its messages for the reader and decoder); ``CheckCatalog/rules``
/// lists every one.
package protocol CheckRule: Sendable {
    /// The code, its summary and its examples.
    static var description: RuleDescription { get }
    /// Whether the rule checks an assembled policy set (a ``PolicySetRule``).
    static var checksPolicySet: Bool { get }
    /// Runs the rule on an assembled policy set (a ``PolicySetRule``'s `validate`; nothing for others).
    static func check(_ context: inout ValidationContext)
    /// The YAML reader's error kind the rule's code stands for (a ``YAMLReaderRule``'s; nil for others).
    static var yamlErrorKind: YAMLError.Kind? { get }
}

// The catalog asks each rule these through the protocol instead of casting it to
// `PolicySetRule` or `YAMLReaderRule`: a cast to an existential metatype searches the
// process's conformance records, which cost `purser check` about 7.5 million
// instructions at start (callgrind), more than checking the shipped policies.
extension CheckRule {
    package static var checksPolicySet: Bool { false }
    package static func check(_ context: inout ValidationContext) {}
    package static var yamlErrorKind: YAMLError.Kind? { nil }
}

extension CheckRule {
    /// The code this rule raises.
    package static var code: DiagnosticCode { description.code }

    /// A diagnostic of this code, not yet located (the code's default severity unless given).
    package static func finding(_ message: String, severity: Diagnostic.Severity? = nil) -> Finding {
        Finding(code: code, severity: severity ?? code.defaultSeverity, message: message)
    }
}

/// A check of an assembled policy set, run by ``PolicyValidator``: the meaning
/// checks, and the part of `invalid-value` that needs the whole set.
package protocol PolicySetRule: CheckRule {
    /// Reports this rule's findings on the policy in `context`.
    static func validate(_ context: inout ValidationContext)
}

extension PolicySetRule {
    package static var checksPolicySet: Bool { true }
    package static func check(_ context: inout ValidationContext) { validate(&context) }
}

/// A code the YAML reader raises (its message is the reader's).
package protocol YAMLReaderRule: CheckRule {
    /// The reader's error kind that maps to this code.
    static var readerKind: YAMLError.Kind { get }
}

extension YAMLReaderRule {
    package static var yamlErrorKind: YAMLError.Kind? { readerKind }
}

/// A diagnostic before it is placed: its code, severity and message, built by
/// the code's rule so that each message is written in one file.
package struct Finding: Sendable, Hashable {
    package let code: DiagnosticCode
    package let severity: Diagnostic.Severity
    package let message: String

    /// The finding at a place.
    package func at(_ location: SourceLocation) -> Diagnostic {
        Diagnostic(code, severity, message, at: location)
    }
}
