/// A position in a YAML source: 1-based line and column.
///
/// Columns count Unicode scalars, as libyaml does, so they match what an
/// editor shows for the line.
public struct YAMLMark: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The 1-based line number.
    public let line: Int
    /// The 1-based column number.
    public let column: Int

    /// Creates a mark at a 1-based line and column.
    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public static func < (lhs: YAMLMark, rhs: YAMLMark) -> Bool {
        (lhs.line, lhs.column) < (rhs.line, rhs.column)
    }

    public var description: String { "\(line):\(column)" }

    /// The line and column of a byte offset in UTF-8 text.
    package init(byteOffset offset: Int, in bytes: [UInt8]) {
        self = bytes.withUnsafeBufferPointer { YAMLMark(byteOffset: offset, in: $0) }
    }

    /// The line and column of a byte offset in UTF-8 text.
    public init(byteOffset offset: Int, in bytes: UnsafeBufferPointer<UInt8>) {
        var line = 1
        var column = 1
        var index = 0
        let end = min(max(offset, 0), bytes.count)
        while index < end {
            let byte = bytes[index]
            if byte == 0x0A {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
            index += 1
        }
        self.init(line: line, column: column)
    }
}

/// How a scalar was written. Typing is schema-directed, so the style matters:
/// only plain scalars can be numbers, booleans or null.
public enum YAMLScalarStyle: Sendable, Hashable {
    case plain
    case singleQuoted
    case doubleQuoted
    case literal
    case folded

    /// Whether the scalar was written without quotes or block indicators.
    public var isPlain: Bool { self == .plain }
}

/// One node of a YAML document, with the mark of its first character.
///
/// Aliases are expanded by the reader, so a tree never contains references;
/// the expansion is capped (see ``YAMLReader/Limits``).
public struct YAMLNode: Sendable {
    /// A key and its value in a mapping, in document order.
    public struct Pair: Sendable {
        /// The key node; always a scalar.
        public let key: YAMLNode
        /// The value node.
        public let value: YAMLNode
    }

    /// What the node holds.
    public enum Content: Sendable {
        /// A scalar's text and the style it was written in.
        case scalar(String, YAMLScalarStyle)
        /// A sequence's items in order.
        case sequence([YAMLNode])
        /// A mapping's pairs in document order; keys are unique.
        case mapping([Pair])
    }

    /// What the node holds.
    public let content: Content
    /// Where the node starts.
    public let mark: YAMLMark

    /// Creates a node.
    public init(_ content: Content, mark: YAMLMark) {
        self.content = content
        self.mark = mark
    }

    /// The scalar text, if this node is a scalar.
    public var scalar: String? {
        if case .scalar(let text, _) = content { return text }
        return nil
    }

    /// The scalar style, if this node is a scalar.
    public var scalarStyle: YAMLScalarStyle? {
        if case .scalar(_, let style) = content { return style }
        return nil
    }

    /// The pairs, if this node is a mapping.
    public var mapping: [Pair]? {
        if case .mapping(let pairs) = content { return pairs }
        return nil
    }

    /// The items, if this node is a sequence.
    public var sequence: [YAMLNode]? {
        if case .sequence(let items) = content { return items }
        return nil
    }

    /// Whether the node is a plain `null`, `~`, `Null`, `NULL` or empty scalar.
    public var isNull: Bool {
        guard case .scalar(let text, .plain) = content else { return false }
        switch text {
        case "", "~", "null", "Null", "NULL": return true
        default: return false
        }
    }

    /// A short name of the node's kind for messages: "a mapping", "a list", "a string"…
    public var kindDescription: String {
        switch content {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar(let text, let style):
            if isNull { return "null" }
            if style.isPlain {
                if text == "true" || text == "false" { return "a boolean" }
                if text.first.map({ $0.isNumber || $0 == "-" || $0 == "+" || $0 == "." }) == true,
                   Double(text) != nil
                {
                    return "a number"
                }
            }
            return "a string"
        }
    }
}

/// One document of a YAML stream.
public struct YAMLDocument: Sendable {
    /// The file the document came from, as given to the reader.
    public let file: String
    /// The document's root node.
    public let root: YAMLNode
    /// The 0-based index of the document in its stream.
    public let index: Int
}
