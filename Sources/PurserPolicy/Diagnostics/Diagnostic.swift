import PurserCore
import PurserYAML

/// One finding of `purser check` (or of loading a policy), located in a file.
public struct Diagnostic: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// How serious a finding is.
    public enum Severity: String, Sendable, Hashable, Comparable {
        case warning
        case error

        public static func < (lhs: Severity, rhs: Severity) -> Bool {
            lhs == .warning && rhs == .error
        }
    }

    /// The stable id of the check that raised it.
    public let code: DiagnosticCode
    /// Error or warning.
    public let severity: Severity
    /// What is wrong, in one sentence, and how to fix it where that is known.
    public let message: String
    /// Where it is wrong.
    public let location: SourceLocation

    /// Creates a diagnostic with the code's default severity.
    package init(_ code: DiagnosticCode, _ message: String, at location: SourceLocation) {
        self.init(code, code.defaultSeverity, message, at: location)
    }

    /// Creates a diagnostic with an explicit severity.
    package init(_ code: DiagnosticCode, _ severity: Severity, _ message: String, at location: SourceLocation) {
        self.code = code
        self.severity = severity
        self.message = message
        self.location = location
    }

    /// Sorted by file, line, column, then code and message.
    public static func < (lhs: Diagnostic, rhs: Diagnostic) -> Bool {
        if lhs.location != rhs.location { return lhs.location < rhs.location }
        if lhs.code != rhs.code { return lhs.code.id < rhs.code.id }
        return lhs.message < rhs.message
    }

    /// The fixed text form: `FILE:LINE:COL: error|warning: MESSAGE [code]`, on one line, with
    /// control and bidi characters (from names or file names) replaced (``TerminalText``).
    public var description: String {
        TerminalText.sanitized("\(location): \(severity.rawValue): \(message) [\(code.id)]")
    }
}

/// The stable identifier of a check, such as `unknown-key` or `duplicate-key`.
///
/// Ids are part of Purser's contract: CI annotations, SARIF `ruleId`s and
/// suppressions refer to them. docs/checks.md describes each one.
public struct DiagnosticCode: Sendable, Hashable, CustomStringConvertible {
    /// The id, e.g. `unknown-key`.
    public let id: String
    /// The severity a diagnostic with this code has unless stated otherwise.
    package let defaultSeverity: Diagnostic.Severity
    /// Whether the code means the input could not be read at all (exit 2),
    /// rather than a readable policy that is wrong (exit 1).
    package let isInputError: Bool

    package init(_ id: String, _ severity: Diagnostic.Severity = .error, inputError: Bool = false) {
        self.id = id
        self.defaultSeverity = severity
        self.isInputError = inputError
    }

    public var description: String { id }

    public static func == (lhs: DiagnosticCode, rhs: DiagnosticCode) -> Bool { lhs.id == rhs.id }
    public func hash(into hasher: inout Hasher) { hasher.combine(id) }
}

// Each code's static (`DiagnosticCode.unknownKey`, …) is declared in its rule's file
// under Checks/Rules/, next to its description and logic.
extension DiagnosticCode {
    /// Every code, in catalog order.
    package static let all: [DiagnosticCode] = CheckCatalog.rules.map { $0.code }

    /// The code a YAML reader error maps to.
    package static func forYAML(_ kind: YAMLError.Kind) -> DiagnosticCode {
        CheckCatalog.yamlCodes[kind] ?? .yamlSyntax
    }
}
