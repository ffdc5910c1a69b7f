import Purser

/// A log file read in large chunks, with the first bytes available for format detection.
///
/// Reads a ``LogSource`` from its start with `pread` (readers of one source never share an
/// offset), up to the length it had when it was opened; gzip is decompressed as it is read;
/// a leading UTF-8 byte order mark is skipped (docs/audit-reports.md, "Input").
public final class LogFile {
    /// The path, as given.
    public let path: String
    private let source: LogSource
    private var offset: Int64
    private let inflater: GzipInflater?
    private var buffered: [UInt8] = []
    private var reachedEnd = false

    /// Opens a file for reading (a non-regular file is copied to a temporary file first).
    public convenience init(_ path: String) throws(UsageLogError) {
        try self.init(try LogSource.open(path))
    }

    /// Reads a log source from its start.
    public init(_ source: LogSource) throws(UsageLogError) {
        self.source = source
        path = source.name
        offset = source.start
        inflater = source.compression == .gzip ? try GzipInflater(name: source.name) : nil
        let head = try readRaw(3)
        buffered = head == [0xEF, 0xBB, 0xBF] ? [] : head
    }

    /// The first `count` bytes (fewer for a short file), without consuming them.
    public func peek(_ count: Int) throws(UsageLogError) -> [UInt8] {
        while buffered.count < count, !reachedEnd {
            buffered.append(contentsOf: try readRaw(count - buffered.count))
        }
        return Array(buffered.prefix(count))
    }

    /// The next bytes (up to about `count`), or an empty array at the end.
    public func read(_ count: Int) throws(UsageLogError) -> [UInt8] {
        if !buffered.isEmpty {
            let result = buffered
            buffered = []
            return result
        }
        return try readRaw(count)
    }

    /// Appends up to `count` more bytes to `buffer` (none at the end) and
    /// returns how many: a reader that keeps one buffer saves an allocation and a copy per chunk.
    public func read(appendingTo buffer: inout [UInt8], upTo count: Int) throws(UsageLogError) -> Int {
        if !buffered.isEmpty {
            let taken = buffered.count
            buffer.append(contentsOf: buffered)
            buffered = []
            return taken
        }
        guard !reachedEnd, count > 0 else { return 0 }
        let old = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: count))
        var filled = 0
        var failure: UsageLogError?
        buffer.withUnsafeMutableBytes { raw in
            guard let base = raw.baseAddress else { return }
            do throws(UsageLogError) {
                filled = try fill(base + old, count)
            } catch {
                failure = error
            }
        }
        buffer.removeLast(count - filled)
        if let failure { throw failure }
        return filled
    }

    /// Whether the end of the file was reached.
    public var isAtEnd: Bool { reachedEnd && buffered.isEmpty }

    private func readRaw(_ count: Int) throws(UsageLogError) -> [UInt8] {
        guard !reachedEnd else { return [] }
        var result = [UInt8](repeating: 0, count: count)
        var filled = 0
        var failure: UsageLogError?
        result.withUnsafeMutableBytes { raw in
            guard let base = raw.baseAddress else { return }
            do throws(UsageLogError) {
                filled = try fill(base, count)
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        result.removeLast(count - filled)
        return result
    }

    /// Fills up to `count` bytes at `target`, decompressing when the source is gzip; fewer only at the end.
    private func fill(_ target: UnsafeMutableRawPointer, _ count: Int) throws(UsageLogError) -> Int {
        if let inflater {
            let got = try inflater.decompress(into: target, count: count) { buffer, wanted throws(UsageLogError) in
                try readSource(buffer, wanted)
            }
            if got < count { reachedEnd = true }
            return got
        }
        let got = try readSource(target, count)
        if got < count { reachedEnd = true }
        return got
    }

    /// Reads up to `count` bytes of the source at the current offset (fewer only at its end).
    private func readSource(_ target: UnsafeMutableRawPointer, _ count: Int) throws(UsageLogError) -> Int {
        var wanted = count
        if let length = source.length { wanted = Int(min(Int64(wanted), max(0, length - offset))) }
        guard wanted > 0 else { return 0 }
        do throws(SystemError) {
            let filled = try SystemCalls.preadFully(source.descriptor, into: UnsafeMutableRawBufferPointer(start: target, count: wanted), at: offset)
            offset += Int64(filled)
            return filled
        } catch {
            throw UsageLogError(error.message, file: path)
        }
    }
}

/// Splits a log file into lines with their 1-based numbers, reading it in
/// chunks, never holding more than one chunk and one record: a line longer
/// than the record-size limit is reported and skipped, not kept.
public struct LineChunks {
    /// One line: its bytes (without the newline) and its number.
    public typealias Line = (bytes: ArraySlice<UInt8>, number: Int)

    private let file: LogFile
    private let limit: Int
    /// The chunk being split, and where the next line starts in it.
    private var data: [UInt8] = []
    private var position = 0
    private var nextLine = 1
    private var skipping = false
    private var atEnd = false
    /// The size of the last chunk (see `nextChunk`).
    private var lastChunkBytes = 0

    /// Reads lines of `file`; lines over `limit` bytes are reported as too long.
    public init(file: LogFile, limit: Int) {
        self.file = file
        self.limit = limit
    }

    /// Calls `body` with up to `maxLines` complete lines (and `tooLong` for each
    /// over-long line); returns false once the file is exhausted.
    public mutating func next(maxLines: Int = Int.max, _ body: (Line) -> Void, tooLong: (Int) -> Void) throws(UsageLogError) -> Bool {
        var delivered = 0
        while delivered < maxLines {
            if let newline = newline(from: position) {
                emit(data[position..<newline], body, tooLong)
                position = newline + 1
                delivered += 1
                continue
            }
            if atEnd {
                // The last line has no newline (a truncated log, often): still read it.
                if position < data.count {
                    emit(data[position...], body, tooLong)
                    position = data.count
                    delivered += 1
                }
                return delivered > 0
            }
            try refill(tooLong)
        }
        return true
    }

    /// Up to `maxLines` complete lines copied into one chunk that another thread can decode;
    /// nil once the file is exhausted. Over-long lines are listed by number, not copied.
    public mutating func nextChunk(maxLines: Int) throws(UsageLogError) -> LogChunk? {
        var chunk = LogChunk()
        // Sized like the last chunk: growing the arrays line by line would copy them again and again.
        chunk.bytes.reserveCapacity(lastChunkBytes + lastChunkBytes / 8 + 4096)
        chunk.lines.reserveCapacity(min(maxLines, 1 << 16))
        defer { lastChunkBytes = chunk.bytes.count }
        var more = true
        var taken = 0
        while taken < maxLines {
            // Whole lines already in the buffer are copied in one block.
            let run = takeRun(maxLines: maxLines - taken, into: &chunk)
            taken += run
            if run > 0 { continue }
            // Anything else (the end of the buffer, an over-long line, a skipped tail): line by line.
            more = try next(maxLines: 1, { line in
                let start = chunk.bytes.count
                chunk.bytes.append(contentsOf: line.bytes)
                chunk.lines.append(LogChunk.Line(start: start, end: chunk.bytes.count, number: line.number))
            }, tooLong: { number in
                chunk.tooLong.append(number)
            })
            guard more else { break }
            taken += 1
        }
        return more || !chunk.lines.isEmpty || !chunk.tooLong.isEmpty ? chunk : nil
    }

    /// Takes up to `maxLines` complete lines within the record-size limit from the buffer into
    /// `chunk`, copying their bytes at once; the number taken (0 when the next line is not such a line).
    private mutating func takeRun(maxLines: Int, into chunk: inout LogChunk) -> Int {
        guard !skipping, position < data.count else { return 0 }
        let (limit, first) = (limit, position)
        var (position, line, taken) = (first, nextLine, 0)
        let base = chunk.bytes.count
        data.withUnsafeBufferPointer { buffer in
            guard let start = buffer.baseAddress else { return }
            while taken < maxLines, position < buffer.count,
                  let newline = ByteSearch.find(0x0A, in: start, from: position, to: buffer.count)
            {
                var end = newline
                if end > position, buffer[end - 1] == 0x0D { end -= 1 }
                guard end - position <= limit else { break }
                chunk.lines.append(LogChunk.Line(start: base + position - first, end: base + end - first, number: line))
                (position, line, taken) = (newline + 1, line + 1, taken + 1)
            }
            if taken > 0 { chunk.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[first..<position])) }
        }
        (self.position, nextLine) = (position, line)
        return taken
    }

    /// The index of the next newline at or after `start` in the chunk being split (memchr: vectorised).
    private func newline(from start: Int) -> Int? {
        guard start < data.count else { return nil }
        return data.withUnsafeBufferPointer { buffer -> Int? in
            guard let base = buffer.baseAddress else { return nil }
            return ByteSearch.find(0x0A, in: base, from: start, to: buffer.count)
        }
    }

    private mutating func emit(_ bytes: ArraySlice<UInt8>, _ body: (Line) -> Void, _ tooLong: (Int) -> Void) {
        defer { nextLine += 1 }
        if skipping {
            skipping = false
            return
        }
        var line = bytes
        if line.last == 0x0D { line = line.dropLast() }
        if line.count > limit { tooLong(nextLine) } else { body((line, nextLine)) }
    }

    /// Moves the unsplit tail to the front and reads the next chunk after it.
    private mutating func refill(_ tooLong: (Int) -> Void) throws(UsageLogError) {
        let tail = data.count - position
        if tail > limit {
            // Part of an over-long line: report it once and drop bytes until its end.
            if !skipping { tooLong(nextLine) }
            skipping = true
            data.removeAll(keepingCapacity: true)
        } else if position > 0 {
            data.withUnsafeMutableBufferPointer { buffer in
                guard let base = buffer.baseAddress else { return }
                base.update(from: base + position, count: tail)
            }
            data.removeLast(position)
        }
        position = 0
        let got = try file.read(appendingTo: &data, upTo: 4 << 20)
        if got == 0 || file.isAtEnd { atEnd = true }
    }
}

/// The chunks of a log's lines, for a reader that decodes them on several threads: cut in file
/// order by one caller at a time (under its source's lock; `splitter` checks it in debug builds).
package final class LineChunkQueue: @unchecked Sendable {
    // `@unchecked`: `lines` and `done` change only in `next`, which one thread at a time calls.
    private var lines: LineChunks
    private var done = false
    private let maxLines: Int
    private let splitter = ThreadOwner()

    /// Cuts `file` into chunks of `options.batchSize` lines, each held to `options.maxRecordBytes`.
    package init(file: LogFile, options: UsageLogOptions) {
        lines = LineChunks(file: file, limit: options.maxRecordBytes)
        maxLines = options.batchSize
    }

    /// The next chunk, or nil at the end of the file.
    package func next() throws(UsageLogError) -> LogChunk? {
        let use = splitter.enter()
        defer { splitter.exit(use) }
        guard !done else { return nil }
        guard let chunk = try lines.nextChunk(maxLines: maxLines) else {
            done = true
            return nil
        }
        return chunk
    }
}

/// Whole lines of a log, copied out of the reader's buffer so that another
/// thread can decode them while the reader cuts the next chunk.
public struct LogChunk: Sendable {
    /// Where one line is in `bytes` (newline and carriage return removed), and its 1-based number.
    public struct Line: Sendable {
        public let start: Int
        public let end: Int
        public let number: Int
    }

    /// The lines' bytes, back to back.
    public var bytes: [UInt8] = []
    /// The lines, in file order.
    public var lines: [Line] = []
    /// Numbers of the lines over the record-size limit (not copied).
    public var tooLong: [Int] = []

    /// CSV records (for readers that split CSV): their fields, over `bytes`.
    package var csvFields: [CSVField] = []
    /// Each CSV record's first field in `csvFields`, field count and line.
    package var csvRecords: [(firstField: Int, fieldCount: Int, line: Int)] = []
    /// Entries found malformed while splitting.
    package var problems: [MalformedRecord] = []

    /// An empty chunk.
    public init() {}

    /// Copies a CSV record's bytes and fields in.
    package mutating func append(_ record: CSVRecord) {
        guard let first = record.fields.first, let last = record.fields.last else { return }
        let offset = bytes.count - first.start
        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: record.bytes[first.start..<last.end]))
        csvRecords.append((firstField: csvFields.count, fieldCount: record.fields.count, line: record.line))
        for field in record.fields {
            csvFields.append(CSVField(start: field.start + offset, end: field.end + offset, escaped: field.escaped))
        }
    }

    /// The lines over the record-size limit `limit`, as malformed records of the file `name`.
    package func tooLongRecords(in name: LogName, limit: Int) -> [MalformedRecord] {
        tooLong.map { MalformedRecord(location: RecordLocation(file: name, line: $0), message: CSVRecords.tooLong(limit)) }
    }

    /// Calls `body` with each CSV record, in order.
    package func forEachCSVRecord(_ body: (CSVRecord) -> Void) {
        bytes.withUnsafeBufferPointer { bytes in
            csvFields.withUnsafeBufferPointer { fields in
                for record in csvRecords {
                    let slice = UnsafeBufferPointer(rebasing: fields[record.firstField..<(record.firstField + record.fieldCount)])
                    body(CSVRecord(bytes: bytes, fields: slice, line: record.line))
                }
            }
        }
    }
}

extension String {
    package func replacingFirst(_ prefix: String, with replacement: String) -> String {
        hasPrefix(prefix) ? replacement + dropFirst(prefix.count) : self
    }
}
