import Purser
/// A reusable byte buffer for field text with its doubled quotes undone: grown as needed, never shrunk.
package final class ScratchBuffer {
    /// The bytes.
    private(set) var base: UnsafeMutablePointer<UInt8>
    /// How many bytes fit.
    private(set) var capacity: Int

    /// Creates a buffer.
    package init(capacity: Int = 64 << 10) {
        self.capacity = max(capacity, 16)
        base = UnsafeMutablePointer<UInt8>.allocate(capacity: self.capacity)
    }

    deinit {
        base.deallocate()
    }

    /// Makes room for `count` bytes (the contents are not kept).
    package func reserve(_ count: Int) {
        guard count > capacity else { return }
        base.deallocate()
        capacity = max(count, capacity * 2)
        base = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
    }
}

/// One field of a CSV record: where its text is in the record's buffer and
/// whether it has doubled quotes (`""`) to undo.
package struct CSVField {
    /// The first byte of the field's text (inside the quotes for a quoted field).
    package var start: Int
    /// One past the last byte of its text.
    package var end: Int
    /// Whether the text holds `""` pairs that stand for one quote.
    package var escaped: Bool
}

/// One CSV record, valid only during the callback that receives it: its
/// fields over a byte buffer and the line it starts on.
package struct CSVRecord {
    /// The bytes the fields point into.
    package let bytes: UnsafeBufferPointer<UInt8>
    /// The fields, in order.
    package let fields: UnsafeBufferPointer<CSVField>
    /// The 1-based line the record starts on.
    package let line: Int

    /// How many fields the record has.
    package var count: Int { fields.count }

    /// The raw bytes of a field; `""` pairs are still doubled when `fields[index].escaped`.
    package func raw(_ index: Int) -> UnsafeBufferPointer<UInt8> {
        let field = fields[index]
        return UnsafeBufferPointer(rebasing: bytes[field.start..<field.end])
    }

    /// Calls `body` with a field's text, `""` pairs undone (in `scratch` when needed).
    @inline(__always)
    package func withText<R, E: Error>(_ index: Int, scratch: ScratchBuffer,
                               _ body: (UnsafeBufferPointer<UInt8>) throws(E) -> R) throws(E) -> R {
        let field = fields[index]
        guard field.escaped, let source = bytes.baseAddress else { return try body(raw(index)) }
        scratch.reserve(field.end - field.start)
        let out = scratch.base
        var written = 0
        var position = field.start
        while position < field.end {
            // Copy up to and including the next quote, then skip its double.
            let quote = ByteSearch.first(0x22, in: source, from: position, to: field.end)
            let span = min(quote + 1, field.end) - position
            (out + written).update(from: source + position, count: span)
            written += span
            position = quote + 2
        }
        return try body(UnsafeBufferPointer(start: out, count: written))
    }

    /// A field's text as a string (invalid UTF-8 is repaired).
    package func string(_ index: Int) -> String {
        let field = fields[index]
        guard field.escaped else { return String(decoding: raw(index), as: UTF8.self) }
        var text: [UInt8] = []
        var position = field.start
        while position < field.end {
            let byte = bytes[position]
            text.append(byte)
            position += byte == 0x22 ? 2 : 1
        }
        return String(decoding: text, as: UTF8.self)
    }
}

/// Splits a CSV file (RFC 4180) into records in chunks, with the line each
/// record starts on, in bounded memory.
///
/// Quoted fields may hold commas, doubled quotes and line breaks; lines may
/// end in CRLF; a UTF-8 byte order mark is skipped; blank lines are ignored.
/// A record longer than the record-size limit is reported once and its
/// bytes dropped until it ends, so a 100 MB field never sits in memory;
/// once the reader has said which columns it uses (``keep(columns:names:)``),
/// the limit applies to those columns only, and a long record is streamed
/// through, the other columns' bytes dropped as they pass (a LiteLLM row with a
/// megabyte of `messages` is still counted: docs/importers.md, "Limits"). A
/// record that is not well-formed (a quote inside an unquoted field, text
/// after a closing quote, a file that ends inside quotes) is reported with
/// its line, and splitting goes on after it.
package struct CSVRecords {
    /// How many bytes are read at a time.
    package static let chunkSize = 4 << 20

    private let file: LogFile
    private let limit: Int
    /// The bytes read and not yet split, from `consumed` on.
    private var buffer: [UInt8] = []
    private var consumed = 0
    private var finished = false
    private var nextLine = 1
    private var fields: [CSVField] = []
    private var atStart = true
    /// While an over-long record is dropped: whether the drop is inside quotes.
    private var skippingQuoted: Bool?
    /// The columns the reader uses (nil until it says: then every column counts against the limit).
    private var kept: [Bool]?
    /// The header's column names, for messages.
    private var columnNames: [String] = []
    /// A record over the limit being streamed through, keeping only the columns used.
    private var long: LongRecord?

    /// Reads records of `file`; records over `limit` bytes are reported as too long, unless
    /// `columnsUsed` says from the header which columns are read: then only those are held to it.
    package init(file: LogFile, limit: Int, columnsUsed: (@Sendable (CSVHeader) -> Set<Int>)? = nil) {
        self.file = file
        self.limit = max(limit, 1)
        self.columnsUsed = columnsUsed
        fields.reserveCapacity(64)
    }

    /// Which columns a reader uses, from the header (the first record); nil: every column counts.
    private let columnsUsed: (@Sendable (CSVHeader) -> Set<Int>)?
    /// The header has not been delivered yet.
    private var awaitingHeader = true

    /// Applies the size limit to these columns only (by position; `names` for messages):
    /// the others may be any length, and are dropped as they stream past in a long record.
    private mutating func keep(columns: Set<Int>, names: [String]) {
        let count = max(names.count, (columns.max() ?? -1) + 1)
        kept = (0..<count).map { columns.contains($0) }
        columnNames = names
    }

    /// Hands a well-formed record to `body`; the first one is the header, from which the
    /// columns used are learnt (when the reader said how).
    private mutating func deliver(_ record: CSVRecord, _ body: (CSVRecord) -> Void) {
        body(record)
        guard awaitingHeader else { return }
        awaitingHeader = false
        if let columnsUsed {
            let header = CSVHeader(record)
            keep(columns: columnsUsed(header), names: header.names)
        }
    }

    /// Calls `body` with each complete record of the next chunk and `malformed`
    /// with the line and reason of each bad one; returns false at the end of the file.
    package mutating func next(_ body: (CSVRecord) -> Void, malformed: (Int, String) -> Void) throws(UsageLogError) -> Bool {
        guard !finished else { return false }
        if consumed > 0 {
            buffer.removeSubrange(0..<consumed)
            consumed = 0
        }
        let got = try file.read(appendingTo: &buffer, upTo: Self.chunkSize)
        let atEnd = got == 0 || file.isAtEnd
        var start = 0
        if atStart, !buffer.isEmpty {
            if buffer.count < 3, !atEnd, [0xEF, 0xBB, 0xBF].starts(with: buffer) {
                return true  // too few bytes to tell whether this is a byte order mark
            }
            atStart = false
            if buffer.starts(with: [0xEF, 0xBB, 0xBF]) { start = 3 }
        }
        let data = buffer
        data.withUnsafeBufferPointer { bytes in
            consumed = split(bytes, from: start, atEnd: atEnd, body, malformed)
        }
        if atEnd { finished = true }
        return got > 0 || !finished
    }

    /// Splits the records in `buffer` from `start`; returns where the unfinished record starts (the end when none).
    private mutating func split(_ buffer: UnsafeBufferPointer<UInt8>, from first: Int, atEnd: Bool, _ body: (CSVRecord) -> Void,
                                _ malformed: (Int, String) -> Void) -> Int {
        var start = first
        if long != nil {
            guard let end = streamLong(buffer, from: start, atEnd: atEnd, body, malformed) else { return buffer.count }
            start = end
        }
        if let quoted = skippingQuoted {
            let (end, newlines, stillQuoted) = Self.skip(buffer, from: start, quoted: quoted)
            nextLine += newlines
            guard let end else {
                skippingQuoted = atEnd ? nil : stillQuoted
                return buffer.count
            }
            skippingQuoted = nil
            start = end
        }
        while start < buffer.count {
            let scan = scanRecord(buffer, from: start, atEnd: atEnd)
            switch scan {
            case .incomplete:
                let rest = buffer.count - start
                if rest > limit, kept != nil {
                    // Stream it: only the columns used are kept (and held to the limit).
                    long = LongRecord(line: nextLine)
                    guard let end = streamLong(buffer, from: start, atEnd: atEnd, body, malformed) else { return buffer.count }
                    start = end
                    continue
                }
                if rest > limit {
                    malformed(nextLine, Self.tooLong(limit))
                    let (end, newlines, quoted) = Self.skip(buffer, from: start, quoted: false)
                    nextLine += newlines
                    if let end {
                        start = end
                        continue
                    }
                    skippingQuoted = quoted
                    return buffer.count
                }
                return start
            case .complete(let end, let newlines, let problem):
                let length = end - start
                let blank = fields.count == 1 && fields[0].start == fields[0].end && problem == nil
                    && length <= 2 && (length == 0 || buffer[start] == 0x0A || buffer[start] == 0x0D)
                if length > limit, kept == nil {
                    malformed(nextLine, Self.tooLong(limit))
                } else if let problem {
                    malformed(nextLine, problem)
                } else if length > limit, let kept, let (column, size) = longestKept(kept, buffer) {
                    // Only the columns used are held to the limit.
                    malformed(nextLine, tooLong(column: column, size: size))
                } else if !blank, awaitingHeader {
                    let fields = self.fields
                    fields.withUnsafeBufferPointer { fields in
                        deliver(CSVRecord(bytes: buffer, fields: fields, line: nextLine), body)
                    }
                } else if !blank {
                    fields.withUnsafeBufferPointer { fields in
                        body(CSVRecord(bytes: buffer, fields: fields, line: nextLine))
                    }
                }
                nextLine += newlines
                start = end
            }
        }
        return start
    }

    /// The message for a record over the limit, which it names with its size.
    package static func tooLong(_ limit: Int) -> String {
        "the record is longer than the record-size limit (\(limit) bytes)"
    }

    /// The message for a used column over the limit.
    private func tooLong(column: Int, size: Int) -> String {
        let name = column < columnNames.count ? "\"\(columnNames[column])\"" : "\(column + 1)"
        return "column \(name) is \(size) bytes, longer than the field-size limit (\(limit) bytes)"
    }

    /// The first used column of the scanned record (in `fields`) over the limit, and its size.
    private func longestKept(_ kept: [Bool], _ buffer: UnsafeBufferPointer<UInt8>) -> (Int, Int)? {
        for (index, field) in fields.enumerated() where index < kept.count && kept[index] && field.end - field.start > limit {
            return (index, field.end - field.start)
        }
        return nil
    }

    /// A record over the limit on its way through: the used columns' text, the others empty.
    private struct LongRecord {
        package enum State { case fieldStart, unquoted, quoted, quoteSeen, closed }
        /// The line it starts on.
        package let line: Int
        package var bytes: [UInt8] = []
        package var fields: [CSVField] = []
        package var state = State.fieldStart
        package var field = CSVField(start: 0, end: 0, escaped: false)
        /// Bytes of the current field's text (kept or not).
        package var size = 0
        package var newlines = 0
        package var problem: String?
        /// The first used column over the limit, and its size so far.
        package var over: (column: Int, size: Int)?

        package init(line: Int) {
            self.line = line
        }
    }

    /// Feeds a long record's bytes from `start`: the index past its end when it ends in the
    /// buffer (it is then delivered or reported), nil when the buffer ends first.
    private mutating func streamLong(_ buffer: UnsafeBufferPointer<UInt8>, from start: Int, atEnd: Bool,
                                     _ body: (CSVRecord) -> Void, _ malformed: (Int, String) -> Void) -> Int?
    {
        guard var record = long else { return start }
        let kept = self.kept ?? []
        let limit = self.limit
        var index = start
        var ended = false
        /// Whether the current field's bytes are kept.
        func keeping(_ record: LongRecord) -> Bool {
            let column = record.fields.count
            return column < kept.count && kept[column] && record.over == nil
        }
        func add(_ bytes: UnsafeBufferPointer<UInt8>, _ record: inout LongRecord) {
            record.size += bytes.count
            let column = record.fields.count
            guard column < kept.count, kept[column] else { return }
            if record.size > limit {
                // Held to the limit: counted from here on, not kept.
                if record.over == nil { record.over = (column, record.size) }
                if record.over?.column == column { record.over?.size = record.size }
                return
            }
            if record.over == nil { record.bytes.append(contentsOf: bytes) }
        }
        func append(_ byte: UInt8, _ record: inout LongRecord) {
            withUnsafePointer(to: byte) { add(UnsafeBufferPointer(start: $0, count: 1), &record) }
        }
        func endField(_ record: inout LongRecord, lineEnd: Bool = false) {
            if keeping(record) {
                record.field.end = record.bytes.count
                // CRLF: the CR is not part of an unquoted last field.
                if lineEnd, record.state == .unquoted, record.field.end > record.field.start, record.bytes.last == 0x0D {
                    record.bytes.removeLast()
                    record.field.end -= 1
                }
            } else {
                record.field = CSVField(start: record.bytes.count, end: record.bytes.count, escaped: false)
            }
            record.fields.append(record.field)
            record.field = CSVField(start: record.bytes.count, end: record.bytes.count, escaped: false)
            record.size = 0
            record.state = .fieldStart
        }
        /// Ends the last field at a line feed outside quotes: the record is complete.
        func endLine(_ record: inout LongRecord) {
            endField(&record, lineEnd: true)
            record.newlines += 1
            ended = true
        }
        while index < buffer.count, !ended {
            // Inside a field: up to its next delimiter at once (vectorised), the rest byte by byte.
            if record.state == .quoted || record.state == .unquoted, let base = buffer.baseAddress {
                let stop = record.state == .quoted
                    ? ByteSearch.first(0x22, in: base, from: index, to: buffer.count)
                    : ByteSearch.firstDelimiter(in: base, from: index, to: buffer.count)
                if stop > index {
                    if record.state == .quoted { record.newlines += ByteSearch.count(0x0A, in: base, from: index, to: stop) }
                    add(UnsafeBufferPointer(rebasing: buffer[index..<stop]), &record)
                    index = stop
                    continue
                }
            }
            let byte = buffer[index]
            index += 1
            switch record.state {
            case .fieldStart:
                record.field = CSVField(start: record.bytes.count, end: record.bytes.count, escaped: false)
                if byte == 0x22 {
                    record.state = .quoted
                    record.field.start = record.bytes.count
                } else if byte == 0x2C {
                    record.state = .unquoted
                    endField(&record)
                } else if byte == 0x0A {
                    record.state = .unquoted
                    endLine(&record)
                } else {
                    record.state = .unquoted
                    append(byte, &record)
                }
            case .unquoted:
                if byte == 0x2C {
                    endField(&record)
                } else if byte == 0x0A {
                    endLine(&record)
                } else {
                    if byte == 0x22 { record.problem = record.problem ?? "a quote inside unquoted field \(record.fields.count + 1)" }
                    append(byte, &record)
                }
            case .quoted:
                if byte == 0x22 {
                    record.state = .quoteSeen
                } else {
                    if byte == 0x0A { record.newlines += 1 }
                    append(byte, &record)
                }
            case .quoteSeen:
                if byte == 0x22 {
                    // `""`: kept doubled, as `CSVField.escaped` expects.
                    record.field.escaped = true
                    append(byte, &record)
                    append(byte, &record)
                    record.state = .quoted
                } else if byte == 0x2C {
                    endField(&record)
                } else if byte == 0x0A {
                    endLine(&record)
                } else {
                    if byte != 0x0D { record.problem = record.problem ?? "text after the closing quote of field \(record.fields.count + 1)" }
                    record.state = .closed
                }
            case .closed:
                if byte == 0x2C {
                    endField(&record)
                } else if byte == 0x0A {
                    endLine(&record)
                }
            }
            if record.fields.count > 1 << 16 {
                record.problem = record.problem ?? "the record has more than 65536 fields"
                record.fields.removeAll()
                record.bytes.removeAll()
            }
        }
        if !ended && atEnd {
            if record.state == .quoted { record.problem = record.problem ?? "the file ends inside a quoted field (a truncated record?)" }
            endField(&record, lineEnd: true)
            ended = true
        }
        guard ended else {
            long = record
            return nil
        }
        long = nil
        nextLine += record.newlines
        if let problem = record.problem {
            malformed(record.line, problem)
        } else if let over = record.over {
            malformed(record.line, tooLong(column: over.column, size: over.size))
        } else {
            record.bytes.withUnsafeBufferPointer { bytes in
                record.fields.withUnsafeBufferPointer { fields in
                    deliver(CSVRecord(bytes: bytes, fields: fields, line: record.line), body)
                }
            }
        }
        return index
    }

    private enum Scan {
        /// The record ends before `end` (past its line break); it spans `newlines` line breaks.
        case complete(end: Int, newlines: Int, problem: String?)
        /// The buffer ends inside the record.
        case incomplete
    }

    /// Tokenises the record at `start` into `fields`.
    private mutating func scanRecord(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, atEnd: Bool) -> Scan {
        fields.removeAll(keepingCapacity: true)
        let count = bytes.count
        var index = start
        var newlines = 0
        var problem: String?
        while true {
            var field = CSVField(start: index, end: index, escaped: false)
            if index < count, bytes[index] == 0x22 {
                // Quoted field: up to the closing quote; `""` is a quote.
                index += 1
                field.start = index
                var closed = false
                guard let base = bytes.baseAddress else { return .incomplete }
                while index < count {
                    index = ByteSearch.first(0x22, in: base, from: index, to: count)
                    if index == count { break }
                    if index + 1 < count {
                        if bytes[index + 1] == 0x22 {
                            field.escaped = true
                            index += 2
                            continue
                        }
                    } else if !atEnd {
                        return .incomplete  // a doubled quote may straddle the chunk
                    }
                    field.end = index
                    index += 1
                    closed = true
                    break
                }
                newlines += ByteSearch.count(0x0A, in: base, from: field.start, to: closed ? field.end : count)
                if !closed {
                    if !atEnd { return .incomplete }
                    fields.append(CSVField(start: field.start, end: count, escaped: field.escaped))
                    return .complete(end: count, newlines: newlines,
                                     problem: problem ?? "the file ends inside a quoted field (a truncated record?)")
                }
                if index < count, bytes[index] == 0x0D {
                    if index + 1 < count {
                        if bytes[index + 1] == 0x0A { index += 1 }
                    } else if !atEnd {
                        return .incomplete
                    } else {
                        index += 1  // a CR at the very end of the file
                    }
                }
                if index < count, bytes[index] != 0x2C, bytes[index] != 0x0A {
                    problem = problem ?? "text after the closing quote of field \(fields.count + 1)"
                    while index < count, bytes[index] != 0x2C, bytes[index] != 0x0A { index += 1 }
                }
            } else {
                // Unquoted field: up to a comma or a line break.
                guard let base = bytes.baseAddress else { return .incomplete }
                while index < count {
                    index = ByteSearch.firstDelimiter(in: base, from: index, to: count)
                    guard index < count, bytes[index] == 0x22 else { break }
                    problem = problem ?? "a quote inside unquoted field \(fields.count + 1)"
                    index += 1
                }
                field.end = index
                if field.end > field.start, bytes[field.end - 1] == 0x0D, index < count ? bytes[index] == 0x0A : atEnd {
                    field.end -= 1  // CRLF
                }
            }
            fields.append(field)
            guard index < count else {
                return atEnd ? .complete(end: count, newlines: newlines, problem: problem) : .incomplete
            }
            if bytes[index] == 0x0A {
                return .complete(end: index + 1, newlines: newlines + 1, problem: problem)
            }
            index += 1  // the comma
        }
    }

    /// Drops bytes of a record until its end: returns the index past its line
    /// break (nil when the buffer ends first), the line breaks passed, and
    /// whether the buffer ended inside quotes.
    private static func skip(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, quoted: Bool) -> (Int?, Int, Bool) {
        var quoted = quoted
        var newlines = 0
        var index = start
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 0x22 {
                quoted.toggle()
            } else if byte == 0x0A {
                newlines += 1
                if !quoted { return (index + 1, newlines, false) }
            }
            index += 1
        }
        return (nil, newlines, quoted)
    }
}

/// A CSV header: column names and where each is.
package struct CSVHeader {
    /// The names, in order, trimmed of spaces.
    package let names: [String]
    private let positions: [String: Int]

    /// Reads the header from a record.
    package init(_ record: CSVRecord) {
        var names: [String] = []
        var positions: [String: Int] = [:]
        for index in 0..<record.count {
            let name = record.string(index).trimmingSpaces
            names.append(name)
            if positions[name] == nil { positions[name] = index }
        }
        self.names = names
        self.positions = positions
    }

    /// The position of the first column with one of these names (exactly, then ignoring case).
    package func index(_ candidates: String...) -> Int? {
        index(of: candidates)
    }

    /// The position of the first column with one of these names (exactly, then ignoring case).
    package func index(of candidates: [String]) -> Int? {
        for name in candidates {
            if let position = positions[name] { return position }
        }
        for name in candidates {
            let lowered = name.lowercased()
            if let position = names.firstIndex(where: { $0.lowercased() == lowered }) { return position }
        }
        return nil
    }
}

extension CSVHeader {
    /// Why a record cannot be read against the header (nil when it has a field per column).
    package static func widthProblem(_ record: CSVRecord, header: CSVHeader?) -> String? {
        guard let header, record.count == header.names.count else {
            return "the record has \(record.count) field\(record.count == 1 ? "" : "s"); the header has \(header?.names.count ?? 0)"
        }
        return nil
    }

    /// The value at a `--map` path in a record: a column (`COLUMN`), or a key inside a JSON column
    /// (`COLUMN.KEY…`); nil when the header has no such column.
    package func mappedValue(_ path: FieldPath, in record: CSVRecord, scratch: ScratchBuffer) throws(RecordProblem) -> String? {
        let parts = path.components
        guard let column = index(parts[0]) else { return nil }
        return try record.withText(column, scratch: scratch) { bytes throws(RecordProblem) in
            if parts.count == 1 { return try ImportValues.name(bytes, path.description) }
            return JSONValues.lookup(parts.dropFirst(), in: bytes)
        }
    }
}

/// Where an importer's columns are in a CSV log, found by name from its header.
package protocol CSVColumns: Sendable {
    /// The columns of `header`.
    init(_ header: CSVHeader)
    /// The position of every column the importer reads (nil for one the header lacks).
    var positions: [Int?] { get }
    /// Why the header is not one the importer reads (nil when it is).
    var headerProblem: String? { get }
}

extension CSVColumns {
    /// The positions read, `--map` paths' columns included: only these are held to the record-size limit
    /// (a megabyte of LiteLLM `messages` streams past; docs/importers.md, "Limits").
    package static func used(_ header: CSVHeader, mapping: FieldMapping) -> Set<Int> {
        var used = Set(Self(header).positions.compactMap { $0 })
        for rule in mapping.rules {
            if let column = header.index(rule.path.components[0]) { used.insert(column) }
        }
        if let cost = mapping.costPath?.components[0] {
            for name in [cost, "x_\(cost)InUsd"] {
                if let column = header.index(name) { used.insert(column) }
            }
        }
        return used
    }
}

/// A CSV log whose first row names its columns (LiteLLM, FOCUS): the header is read and
/// checked once, then records go to the importer batch by batch. A record that cannot be
/// read before the header fails the log, as does a header the importer does not read.
package struct HeaderedCSV<Columns: CSVColumns> {
    private var records: CSVRecords
    private let file: String
    private var hasHeader = false
    /// Whether the log is exhausted.
    package private(set) var isAtEnd = false

    /// Reads `file`, holding the columns `Columns` reads (and those `mapping` names) to the record-size limit.
    package init(file: LogFile, limit: Int, mapping: FieldMapping) {
        records = CSVRecords(file: file, limit: limit) { header in Columns.used(header, mapping: mapping) }
        self.file = file.path
    }

    /// Splits chunks until `full()` or the end of the log: the header goes to `header` with its
    /// columns, each record after it to `body`, each malformed one (line, reason) to `malformed`.
    /// Throws for a header that cannot be read or that the columns refuse.
    package mutating func next(until full: () -> Bool, header: (CSVHeader, Columns) -> Void, _ body: (CSVRecord) -> Void,
                               malformed: (Int, String) -> Void) throws(UsageLogError) {
        let file = self.file
        var hasHeader = self.hasHeader
        defer { self.hasHeader = hasHeader }
        var failure: UsageLogError?
        while !full(), failure == nil {
            let more = try records.next({ record in
                guard hasHeader else {
                    let names = CSVHeader(record)
                    let columns = Columns(names)
                    hasHeader = true
                    header(names, columns)
                    failure = columns.headerProblem.map { UsageLogError($0, file: file) }
                    return
                }
                body(record)
            }, malformed: { line, message in
                if !hasHeader, failure == nil {
                    failure = UsageLogError("line \(line): the CSV header cannot be read: \(message)", file: file)
                } else {
                    malformed(line, message)
                }
            })
            if !more {
                isAtEnd = true
                break
            }
        }
        if let failure { throw failure }
    }
}

extension String {
    /// The string without leading and trailing spaces and tabs.
    package var trimmingSpaces: String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" { scalars = scalars.dropFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars = scalars.dropLast() }
        return String(scalars)
    }
}
