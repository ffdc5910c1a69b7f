import CYAML

/// Reads YAML into located node trees with libyaml's event API, enforcing
/// the input hardening of docs/policy-language.md, "Input limits".
///
/// ```swift
/// let documents = try YAMLReader().read(Array("a: 1\n".utf8), file: "a.yaml")
/// documents[0].root.mapping?[0].key.scalar  // "a"
/// ```
///
/// The reader never guesses types: every scalar stays text with its style,
/// and the policy decoder types it by the schema.
public struct YAMLReader: Sendable {
    /// The hardening limits. The defaults are those of docs/policy-language.md, "Input limits".
    public struct Limits: Sendable, Hashable {
        /// Largest input in bytes (16 MiB).
        public var maxBytes: Int = 16 * 1024 * 1024
        /// Deepest nesting of sequences and mappings (64).
        public var maxDepth: Int = 64
        /// Most nodes that aliases may expand to in one document (10,000).
        public var maxAliasNodes: Int = 10_000

        /// The limits of docs/policy-language.md, "Input limits".
        public init() {}
    }

    /// The limits this reader enforces.
    public let limits: Limits

    /// Creates a reader with the given limits.
    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Reads every document of a YAML stream.
    ///
    /// - Parameters:
    ///   - bytes: The raw input; it must be UTF-8.
    ///   - file: The name put into each ``YAMLDocument``.
    /// - Throws: ``YAMLError`` at the first problem, located.
    public func read(_ bytes: [UInt8], file: String) throws(YAMLError) -> [YAMLDocument] {
        guard bytes.count <= limits.maxBytes else {
            throw YAMLError(
                .tooLarge,
                "the file is \(bytes.count) bytes; the limit is \(byteCount(limits.maxBytes))",
                at: YAMLMark(line: 1, column: 1))
        }
        let result: Result<[YAMLDocument], YAMLError> = bytes.withUnsafeBufferPointer { whole in
            // A leading UTF-8 byte order mark (as Windows editors write) is not content: skipped,
            // so columns on the first line are those an editor shows.
            let hasBOM = whole.count >= 3 && whole[0] == 0xEF && whole[1] == 0xBB && whole[2] == 0xBF
            let buffer = hasBOM ? UnsafeBufferPointer(rebasing: whole[3...]) : whole
            if let problem = InputValidation.firstProblem(in: buffer) { return .failure(problem) }
            var builder = TreeBuilder(file: file, limits: limits, input: buffer)
            do throws(YAMLError) {
                return .success(try builder.run())
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Reads a string as YAML (a convenience for tests and examples).
    public func read(_ text: String, file: String) throws(YAMLError) -> [YAMLDocument] {
        try read(Array(text.utf8), file: file)
    }
}

/// Drives libyaml's parser and assembles nodes on an explicit stack.
private struct TreeBuilder {
    /// A collection under construction.
    struct Frame {
        let isMapping: Bool
        let mark: YAMLMark
        let anchor: String?
        var items: [YAMLNode] = []
        var pairs: [YAMLNode.Pair] = []
        var pendingKey: YAMLNode?
        var keyIndex: [String: YAMLMark] = [:]
        /// Nodes in this subtree, itself included (for alias accounting).
        var size = 1
    }

    let file: String
    let limits: YAMLReader.Limits
    let input: UnsafeBufferPointer<UInt8>
    var stack: [Frame] = []
    var anchors: [String: (node: YAMLNode, size: Int)] = [:]
    var aliasNodes = 0
    var documents: [YAMLDocument] = []
    var root: YAMLNode?

    init(file: String, limits: YAMLReader.Limits, input: UnsafeBufferPointer<UInt8>) {
        self.file = file
        self.limits = limits
        self.input = input
    }

    mutating func run() throws(YAMLError) -> [YAMLDocument] {
        let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        defer { parser.deallocate() }
        guard yaml_parser_initialize(parser) == 1 else {
            throw YAMLError(.syntax, "libyaml could not initialise a parser", at: YAMLMark(line: 1, column: 1))
        }
        defer { yaml_parser_delete(parser) }
        yaml_parser_set_input_string(parser, input.baseAddress ?? emptyInput, input.count)
        yaml_parser_set_encoding(parser, YAML_UTF8_ENCODING)

        var event = yaml_event_t()
        while true {
            guard yaml_parser_parse(parser, &event) == 1 else {
                throw parserError(parser)
            }
            let type = event.type
            do throws(YAMLError) {
                try handle(&event)
            } catch {
                yaml_event_delete(&event)
                throw error
            }
            yaml_event_delete(&event)
            if type == YAML_STREAM_END_EVENT { break }
        }
        return documents
    }

    private mutating func handle(_ event: inout yaml_event_t) throws(YAMLError) {
        let mark = YAMLMark(line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1)
        switch event.type {
        case YAML_DOCUMENT_START_EVENT:
            anchors.removeAll(keepingCapacity: true)
            aliasNodes = 0
            root = nil
        case YAML_DOCUMENT_END_EVENT:
            let node = root ?? YAMLNode(.scalar("", .plain), mark: mark)
            documents.append(YAMLDocument(file: file, root: node, index: documents.count))
            root = nil
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            try checkTag(scalar.tag, at: mark)
            let text = string(scalar.value, count: scalar.length)
            let style: YAMLScalarStyle
            switch scalar.style {
            case YAML_SINGLE_QUOTED_SCALAR_STYLE: style = .singleQuoted
            case YAML_DOUBLE_QUOTED_SCALAR_STYLE: style = .doubleQuoted
            case YAML_LITERAL_SCALAR_STYLE: style = .literal
            case YAML_FOLDED_SCALAR_STYLE: style = .folded
            default: style = .plain
            }
            // `!!str 5` is explicitly a string: type it as if it were quoted.
            let typed = style == .plain && scalar.tag != nil ? .doubleQuoted : style
            let node = YAMLNode(.scalar(text, typed), mark: mark)
            try complete(node, size: 1, anchor: scalar.anchor.map { string($0) })
        case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
            let isMapping = event.type == YAML_MAPPING_START_EVENT
            let tag = isMapping ? event.data.mapping_start.tag : event.data.sequence_start.tag
            let anchor = isMapping ? event.data.mapping_start.anchor : event.data.sequence_start.anchor
            try checkTag(tag, at: mark)
            guard stack.count < limits.maxDepth else {
                throw YAMLError(
                    .nestingTooDeep,
                    "nesting is deeper than \(limits.maxDepth) levels", at: mark)
            }
            stack.append(Frame(isMapping: isMapping, mark: mark, anchor: anchor.map { string($0) }))
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            guard let frame = stack.popLast() else { return }
            if frame.isMapping, let key = frame.pendingKey {
                // libyaml always emits a value, but keep the tree honest regardless.
                throw YAMLError(.syntax, "the key \"\(excerpt(key.scalar ?? ""))\" has no value", at: key.mark)
            }
            let content: YAMLNode.Content = frame.isMapping ? .mapping(frame.pairs) : .sequence(frame.items)
            try complete(YAMLNode(content, mark: frame.mark), size: frame.size, anchor: frame.anchor)
        case YAML_ALIAS_EVENT:
            let name = string(event.data.alias.anchor)
            guard let target = anchors[name] else {
                throw YAMLError(.aliasExpansion, "the alias *\(excerpt(name)) names no anchor defined before it", at: mark)
            }
            aliasNodes += target.size
            guard aliasNodes <= limits.maxAliasNodes else {
                throw YAMLError(
                    .aliasExpansion,
                    "aliases expand to more than \(limits.maxAliasNodes) nodes in this document", at: mark)
            }
            try complete(YAMLNode(target.node.content, mark: mark), size: target.size, anchor: nil)
        default:
            break
        }
    }

    /// Attaches a finished node to its parent (or makes it the root).
    private mutating func complete(_ node: YAMLNode, size: Int, anchor: String?) throws(YAMLError) {
        if let anchor { anchors[anchor] = (node, size) }
        guard !stack.isEmpty else {
            root = node
            return
        }
        let top = stack.count - 1
        stack[top].size += size
        guard stack[top].isMapping else {
            stack[top].items.append(node)
            return
        }
        guard let key = stack[top].pendingKey else {
            try checkKey(node, in: top)
            stack[top].pendingKey = node
            return
        }
        stack[top].pairs.append(YAMLNode.Pair(key: key, value: node))
        stack[top].pendingKey = nil
    }

    /// Rejects non-scalar keys, merge keys and duplicates.
    private mutating func checkKey(_ key: YAMLNode, in top: Int) throws(YAMLError) {
        guard case .scalar(let text, let style) = key.content else {
            throw YAMLError(.complexKey, "mapping keys must be scalars, not \(key.kindDescription)", at: key.mark)
        }
        if text == "<<" && style == .plain {
            throw YAMLError(
                .mergeKey, "merge keys (<<) are not supported; write the keys out in full", at: key.mark)
        }
        // Small mappings: a linear scan. Large ones: an index built once.
        if stack[top].keyIndex.isEmpty && stack[top].pairs.count < 16 {
            for pair in stack[top].pairs where pair.key.scalar == text {
                throw duplicate(text, at: key.mark, first: pair.key.mark)
            }
            return
        }
        if stack[top].keyIndex.isEmpty {
            for pair in stack[top].pairs {
                if let name = pair.key.scalar { stack[top].keyIndex[name] = pair.key.mark }
            }
        }
        if let first = stack[top].keyIndex.updateValue(key.mark, forKey: text) {
            throw duplicate(text, at: key.mark, first: first)
        }
    }

    private func duplicate(_ key: String, at mark: YAMLMark, first: YAMLMark) -> YAMLError {
        YAMLError(
            .duplicateKey,
            "duplicate key \"\(excerpt(key))\" (first defined at line \(first.line), column \(first.column))", at: mark)
    }

    /// Only the core tags for strings, sequences and mappings are allowed.
    private func checkTag(_ tag: UnsafeMutablePointer<yaml_char_t>?, at mark: YAMLMark) throws(YAMLError) {
        guard let tag else { return }
        let name = string(tag)
        switch name {
        case "tag:yaml.org,2002:str", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map":
            return
        default:
            let shown = name.hasPrefix("tag:yaml.org,2002:") ? "!!" + name.dropFirst(18) : name
            throw YAMLError(
                .customTag,
                "the tag \(shown) is not allowed; Purser types values by the policy schema", at: mark)
        }
    }

    private func parserError(_ parser: UnsafeMutablePointer<yaml_parser_t>) -> YAMLError {
        let state = parser.pointee
        let problem = state.problem.map { String(cString: $0) } ?? "unknown error"
        if state.error == YAML_READER_ERROR {
            let offset = Int(state.problem_offset)
            let at = input.isEmpty ? YAMLMark(line: 1, column: 1) : InputValidation.mark(at: offset, in: input)
            return YAMLError(.invalidEncoding, problem, at: at)
        }
        if state.error == YAML_MEMORY_ERROR {
            return YAMLError(.syntax, "libyaml ran out of memory", at: YAMLMark(line: 1, column: 1))
        }
        var message = problem
        if let context = state.context.map({ String(cString: $0) }) {
            message = "\(context): \(problem)"
            let contextMark = state.context_mark
            if contextMark.line != state.problem_mark.line || contextMark.column != state.problem_mark.column {
                message += " (started at line \(contextMark.line + 1), column \(contextMark.column + 1))"
            }
        }
        let at = YAMLMark(line: Int(state.problem_mark.line) + 1, column: Int(state.problem_mark.column) + 1)
        return YAMLError(.syntax, message, at: at)
    }

    private func string(_ pointer: UnsafeMutablePointer<yaml_char_t>) -> String {
        String(cString: pointer)
    }

    private func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?, count: Int) -> String {
        guard let pointer, count > 0 else { return "" }
        return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
    }
}

/// A size limit as messages give it: `16777216 bytes (16 MiB)`, from the limit in force
/// (the YAML reader's, a policy file's, a price source's), never a hard-coded figure.
package func byteCount(_ bytes: Int) -> String {
    let mebibyte = 1 << 20
    return bytes >= mebibyte && bytes % mebibyte == 0 ? "\(bytes) bytes (\(bytes / mebibyte) MiB)" : "\(bytes) bytes"
}

/// Text from the input as a message quotes it: at most `limit` characters, so a key of megabytes
/// is not repeated whole (docs/policy-language.md, "Input limits"). Every message of the
/// reader, the policy decoder and the request decoder cuts through this one function.
package func excerpt(_ text: String, limit: Int = 40) -> String {
    guard text.utf8.count > limit else { return text }
    return text.count > limit ? String(text.prefix(limit - 3)) + "…" : text
}

/// A valid pointer for empty input (libyaml reads zero bytes from it). `nonisolated(unsafe)`
/// because a pointer is not Sendable: it is allocated once, never written after and never freed,
/// so any thread may pass it.
nonisolated(unsafe) private let emptyInput: UnsafePointer<UInt8> = {
    let pointer = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
    pointer.initialize(to: 0)
    return UnsafePointer(pointer)
}()

extension YAMLReader {
    /// Parses input with libyaml's event API and builds nothing: the floor
    /// that the reader's throughput is measured against. Returns the number
    /// of events.
    public static func countEvents(_ bytes: [UInt8]) throws(YAMLError) -> Int {
        let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        defer { parser.deallocate() }
        guard yaml_parser_initialize(parser) == 1 else {
            throw YAMLError(.syntax, "libyaml could not initialise a parser", at: YAMLMark(line: 1, column: 1))
        }
        defer { yaml_parser_delete(parser) }
        return try bytes.withUnsafeBufferPointer { buffer throws(YAMLError) -> Int in
            yaml_parser_set_input_string(parser, buffer.baseAddress ?? emptyInput, buffer.count)
            var event = yaml_event_t()
            var count = 0
            while true {
                guard yaml_parser_parse(parser, &event) == 1 else {
                    throw YAMLError(.syntax, parser.pointee.problem.map { String(cString: $0) } ?? "parse error", at: YAMLMark(line: 1, column: 1))
                }
                let done = event.type == YAML_STREAM_END_EVENT
                yaml_event_delete(&event)
                count += 1
                if done { return count }
            }
        }
    }
}
