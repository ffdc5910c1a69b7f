/// Why the decision log could not be opened, written or read: a key file, the directory, a
/// write that failed (a full disk), an invalid event or payload. Tampering found by the
/// verifier is not an error but a ``DecisionLogProblem`` in its report.
public struct DecisionLogError: Error, Sendable, CustomStringConvertible {
    /// What failed, naming the file.
    public let message: String

    /// Creates an error.
    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
