/// One line of `purser check`'s text output,
/// `FILE:LINE:COL: error|warning: MESSAGE [code]`, taken apart.
struct DiagnosticLine: Equatable, CustomStringConvertible {
    let file: String
    let line: Int
    let column: Int
    let severity: String
    let message: String
    let code: String

    /// Parses a line whose file part is exactly `file`; nil when the line
    /// does not have the fixed form for that file.
    init?(_ text: Substring, file: String) {
        guard text.hasPrefix(file + ":") else { return nil }
        let rest = text.dropFirst(file.count + 1)
        guard let match = rest.wholeMatch(of: /(\d+):(\d+): (error|warning): (.+) \[([a-z0-9-]+)\]/),
              let line = Int(match.1), let column = Int(match.2)
        else { return nil }
        self.file = file
        self.line = line
        self.column = column
        self.severity = String(match.3)
        self.message = String(match.4)
        self.code = String(match.5)
    }

    var description: String { "\(file):\(line):\(column): \(severity): \(message) [\(code)]" }
}

extension Purser.Result {
    /// The diagnostics on standard output for one file, in order.
    func diagnostics(for file: String) -> [DiagnosticLine] {
        lines.compactMap { DiagnosticLine($0, file: file) }
    }
}
