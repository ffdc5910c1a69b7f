import PurserCore
import PurserYAML

/// A place in a policy file: the file as given, 1-based line and column.
public struct SourceLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The file path, as it was given or found (relative paths stay relative).
    public let file: String
    /// The 1-based line.
    public let line: Int
    /// The 1-based column.
    public let column: Int

    /// Creates a location.
    package init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// The start of a file, for problems that concern the whole file.
    package init(file: String) {
        self.init(file: file, line: 1, column: 1)
    }

    /// The location of a mark in a file.
    package init(file: String, mark: YAMLMark) {
        self.init(file: file, line: mark.line, column: mark.column)
    }

    public static func < (lhs: SourceLocation, rhs: SourceLocation) -> Bool {
        (lhs.file, lhs.line, lhs.column) < (rhs.file, rhs.line, rhs.column)
    }

    /// `file:line:col`, the form editors and CI annotations understand.
    public var description: String { "\(file):\(line):\(column)" }
}

/// A value read from a policy, with the place it was written.
package struct Located<Value: Sendable & Hashable>: Sendable, Hashable {
    /// The value.
    package let value: Value
    /// Where it was written.
    package let location: SourceLocation

    /// Pairs a value with its location.
    package init(_ value: Value, at location: SourceLocation) {
        self.value = value
        self.location = location
    }
}
