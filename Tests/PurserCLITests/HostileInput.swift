import Testing

/// A hostile input for `purser check`: how to make it in a scratch
/// directory, what to check, and the located error it must produce.
struct HostileInput: Sendable, CustomTestStringConvertible {
    /// A short name shown in test results.
    let name: String
    /// The path given to `purser check`, relative to the scratch directory.
    let argument: String
    /// The file the diagnostic must name (defaults to the argument).
    let file: String
    /// The diagnostic code it must carry.
    let code: String
    /// Where the diagnostic may plausibly point.
    let lines: ClosedRange<Int>
    let columns: ClosedRange<Int>
    /// Creates the input.
    let make: @Sendable (TemporaryDirectory) throws -> Void

    init(_ name: String, check argument: String, file: String? = nil, code: String,
         line lines: ClosedRange<Int>, column columns: ClosedRange<Int> = 1...1,
         make: @escaping @Sendable (TemporaryDirectory) throws -> Void)
    {
        self.name = name
        self.argument = argument
        self.file = file ?? argument
        self.code = code
        self.lines = lines
        self.columns = columns
        self.make = make
    }

    var testDescription: String { name }

    /// A YAML file made of text.
    static func yaml(_ name: String, code: String, line: ClosedRange<Int>, column: ClosedRange<Int> = 1...1,
                     _ text: String) -> HostileInput
    {
        HostileInput(name, check: "policy.yaml", code: code, line: line, column: column) { try $0.write("policy.yaml", text) }
    }

    /// A YAML file made of raw bytes.
    static func bytes(_ name: String, code: String, line: ClosedRange<Int>, column: ClosedRange<Int> = 1...1,
                      _ bytes: [UInt8]) -> HostileInput
    {
        HostileInput(name, check: "policy.yaml", code: code, line: line, column: column) {
            try $0.write("policy.yaml", bytes: bytes)
        }
    }
}
