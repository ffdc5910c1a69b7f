import Purser
import Dispatch
import Synchronization

/// A source of usage records in time order, batch by batch.
package protocol RecordSource: AnyObject {
    /// The next batch (sorted by time, and not earlier than the previous batch), or nil at the end.
    func next() throws(AuditError) -> RecordBatch?
    /// Stops any background work.
    func cancel()
}

/// Why an audit could not run.
public struct AuditError: Error, Sendable, CustomStringConvertible {
    /// What failed.
    public let message: String

    /// Whether a file's records are out of time order by more than a batch (``disorder``):
    /// the audit then sorts its input and replays it, rather than failing.
    package let isDisorder: Bool

    /// Creates an error.
    public init(_ message: String) {
        self.init(message, isDisorder: false)
    }

    private init(_ message: String, isDisorder: Bool) {
        self.message = message
        self.isDisorder = isDisorder
    }

    public var description: String { message }

    /// A file's records are out of time order by more than a batch: sort the input and replay.
    package static let disorder = AuditError("records out of time order", isDisorder: true)
}

/// Sorts a batch by time (stable: ties keep file order).
package enum BatchOrder {
    package static func sort(_ records: inout [UsageRecord]) {
        var sorted = true
        for index in records.indices.dropFirst() where records[index].timestamp < records[index - 1].timestamp {
            sorted = false
            break
        }
        if !sorted {
            let order = records.indices.sorted { (records[$0].timestamp, $0) < (records[$1].timestamp, $1) }
            permute(&records, order)
        }
    }

    /// Puts `records[order[i]]` at `i`, moving records by swaps (copying one would retain its names).
    private static func permute(_ records: inout [UsageRecord], _ order: [Int]) {
        var placed = [Bool](repeating: false, count: order.count)
        records.withUnsafeMutableBufferPointer { records in
            for start in order.indices where !placed[start] {
                // Follow the cycle through `start`: each step brings the record that belongs at `position`.
                var position = start
                placed[position] = true
                while order[position] != start {
                    records.swapAt(position, order[position])
                    position = order[position]
                    placed[position] = true
                }
            }
        }
    }
}

/// Merges sorted sources by time (ties: source order, then file order).
///
/// Records stay in their batches: `advance(run:)` picks the next ones and
/// `withRun` lends them out, so the replay never copies a record, and
/// finished batches are freed on a background thread.
package struct Merger {
    private var sources: [any RecordSource]
    private var heads: [RecordBatch]
    private var positions: [Int]
    private var exhausted: [Bool]
    /// The current run: its source, its first record's position and its length.
    private var current = (source: -1, position: 0, count: 0)
    /// Malformed entries seen, handed to the caller as they come.
    package private(set) var pendingMalformed: [MalformedRecord] = []
    /// Entries the readers left out on purpose, by reason.
    package private(set) var skipped: [String: Int] = [:]
    /// What the readers noticed.
    package private(set) var notes = ImportNotes()

    package init(_ sources: [any RecordSource]) {
        self.sources = sources
        heads = Array(repeating: RecordBatch(), count: sources.count)
        positions = Array(repeating: 0, count: sources.count)
        exhausted = Array(repeating: false, count: sources.count)
    }

    /// Takes the malformed entries collected so far.
    package mutating func takeMalformed() -> [MalformedRecord] {
        defer { pendingMalformed.removeAll(keepingCapacity: true) }
        return pendingMalformed
    }

    /// Moves to the next record in time order; false when every source is done.
    package mutating func advance() throws(AuditError) -> Bool {
        try advance(run: false)
    }

    /// Moves to the next run of records in time order: with one log the rest of its current
    /// batch, else the next record; false when every source is done.
    package mutating func advance(run: Bool) throws(AuditError) -> Bool {
        if current.source >= 0 { positions[current.source] += current.count }
        if sources.count == 1 {
            // One log: no comparisons.
            guard try fill(0) else { return false }
            current = (0, positions[0], run ? heads[0].records.count - positions[0] : 1)
            return true
        }
        var best = -1
        var bestTime = Timestamp(nanoseconds: Int64.max)
        for index in sources.indices {
            if !(try fill(index)) { continue }
            let time = heads[index].records[positions[index]].timestamp
            if best < 0 || time < bestTime {
                best = index
                bestTime = time
            }
        }
        guard best >= 0 else {
            current = (-1, 0, 0)
            return false
        }
        current = (best, positions[best], 1)
        return true
    }

    /// Lends the current record (after `advance()` returned true) to `body`.
    @inline(__always)
    package func withCurrent<Result>(_ body: (UnsafePointer<UsageRecord>) -> Result) -> Result {
        heads[current.source].records.withUnsafeBufferPointer { records in
            body(records.baseAddress.unsafelyUnwrapped + current.position)
        }
    }

    /// Lends the current run (after `advance(run:)` returned true) and its batch's counters
    /// (see ``PlannedRecord``) to `body`: the records are read in place, batch by batch.
    @inline(__always)
    package func withRun<Result>(_ body: (UnsafeBufferPointer<UsageRecord>, UnsafeBufferPointer<ReplayCounter>) -> Result) -> Result {
        heads[current.source].counters.withUnsafeBufferPointer { counters in
            heads[current.source].records.withUnsafeBufferPointer { records in
                body(UnsafeBufferPointer(rebasing: records[current.position..<(current.position + current.count)]), counters)
            }
        }
    }

    /// The next record in time order, copied out, or nil when every source is done.
    package mutating func next() throws(AuditError) -> UsageRecord? {
        guard try advance() else { return nil }
        return withCurrent { $0.pointee }
    }

    /// Makes sure source `index` has a record ready; false when it is exhausted.
    private mutating func fill(_ index: Int) throws(AuditError) -> Bool {
        while true {
            if positions[index] < heads[index].records.count { return true }
            if exhausted[index] { return false }
            let finished = heads[index]
            heads[index] = RecordBatch()
            if !finished.records.isEmpty { BackgroundRelease.release(finished) }
            positions[index] = 0
            guard let batch = try sources[index].next() else {
                exhausted[index] = true
                return false
            }
            pendingMalformed.append(contentsOf: batch.malformed)
            if !batch.skipped.isEmpty { skipped.merge(batch.skipped, uniquingKeysWith: +) }
            if !batch.notes.isEmpty { notes.merge(batch.notes) }
            heads[index] = batch
        }
    }

    package func cancel() {
        for source in sources { source.cancel() }
    }
}

/// Sorts logs that are out of time order, beyond memory: records are cut into
/// sorted runs written to temporary files, which are then merged. The run files
/// are unlinked as soon as they are created (read back through their descriptors),
/// so an interrupted sort leaves nothing behind (docs/audit-reports.md, "Input").
package final class ExternalSort {
    private var runs: [LogSource] = []
    private let directory: String
    private let runSize: Int

    package init(directory: String, runSize: Int) {
        self.directory = directory
        self.runSize = runSize
    }

    /// Entries the readers left out on purpose, by reason (after `split`).
    package private(set) var skipped: [String: Int] = [:]
    /// What the readers noticed (after `split`).
    package private(set) var notes = ImportNotes()

    /// Reads every file and writes its records as sorted runs; returns the malformed entries.
    package func split(_ files: [LogSource], options: UsageLogOptions, progress: (Int) -> Void) throws(AuditError) -> [MalformedRecord] {
        var malformed: [MalformedRecord] = []
        var buffer: [UsageRecord] = []
        buffer.reserveCapacity(runSize)
        var count = 0
        for file in files {
            let reader: any UsageLogReader
            do throws(UsageLogError) {
                reader = try UsageLogs.open(file, options: options)
            } catch {
                throw AuditError(error.description)
            }
            while let batch = try Self.next(reader) {
                malformed.append(contentsOf: batch.malformed)
                skipped.merge(batch.skipped, uniquingKeysWith: +)
                notes.merge(batch.notes)
                for record in batch.records {
                    buffer.append(record)
                    if buffer.count >= runSize {
                        try writeRun(&buffer)
                        count += runSize
                        progress(count)
                    }
                }
            }
        }
        if !buffer.isEmpty { try writeRun(&buffer) }
        return malformed
    }

    private static func next(_ reader: any UsageLogReader) throws(AuditError) -> RecordBatch? {
        do throws(UsageLogError) {
            return try reader.next()
        } catch {
            throw AuditError(error.description)
        }
    }

    /// Sources reading the runs back, each in time order.
    package func sources() throws(AuditError) -> [any RecordSource] {
        var result: [any RecordSource] = []
        for run in runs { result.append(try RunSource(run)) }
        return result
    }

    private func writeRun(_ buffer: inout [UsageRecord]) throws(AuditError) {
        BatchOrder.sort(&buffer)
        let fd: Int32
        do throws(UsageLogError) {
            fd = try TemporaryFile.anonymous(in: directory)
        } catch {
            throw AuditError("cannot create a temporary file in \(directory): \(error.message)")
        }
        runs.append(LogSource(run: fd))
        var json = JSONWriter()
        for record in buffer {
            // <file name length> \t <file> \t <line>[a] \t <request json>: the framing is raw bytes,
            // outside the JSON structure, so the request object is written as the line's first value.
            // `a` after the line marks an aggregate (``Request/isAggregate``), which the wire format does not carry.
            let request = record.request
            let frame = String(record.location.file.utf8.count) + "\t" + record.location.file + "\t" + String(record.location.line)
                + (request.isAggregate ? "a\t" : "\t")
            json.appendRaw(Array(frame.utf8))
            RequestEncoder.encode(request, into: &json)
            json.newline()
            if json.count > 1 << 20 {
                try Self.write(fd, json)
                json.reset()
            }
        }
        try Self.write(fd, json)
        buffer.removeAll(keepingCapacity: true)
    }

    private static func write(_ fd: Int32, _ json: JSONWriter) throws(AuditError) {
        do throws(SystemError) {
            try SystemCalls.writeAll(fd, json.bytes)
        } catch {
            throw AuditError("cannot write a sort run: \(error.message)")
        }
    }
}

/// Reads a sorted run back.
package final class RunSource: RecordSource {
    private var lines: LineChunks
    private var done = false

    package init(_ run: LogSource) throws(AuditError) {
        do throws(UsageLogError) {
            lines = LineChunks(file: try LogFile(run), limit: Int.max)
        } catch {
            throw AuditError(error.description)
        }
    }

    package func next() throws(AuditError) -> RecordBatch? {
        guard !done else { return nil }
        var batch = RecordBatch()
        do throws(UsageLogError) {
            let more = try lines.next(maxLines: 4096, { line in
                if let record = Self.decode(line.bytes) { batch.records.append(record) }
            }, tooLong: { _ in })
            if !more { done = true }
        } catch {
            throw AuditError(error.description)
        }
        return batch.records.isEmpty && done ? nil : batch
    }

    package func cancel() {}

    /// `<file name length>\t<file>\t<line>[a]\t<request json>` (`a`: an aggregate)
    package static func decode(_ bytes: ArraySlice<UInt8>) -> UsageRecord? {
        guard let tab = bytes.firstIndex(of: 0x09), let length = Int(String(decoding: bytes[bytes.startIndex..<tab], as: UTF8.self)) else { return nil }
        let fileStart = tab + 1
        let fileEnd = fileStart + length
        guard fileEnd < bytes.endIndex, bytes[fileEnd] == 0x09 else { return nil }
        let file = String(decoding: bytes[fileStart..<fileEnd], as: UTF8.self)
        guard let lineTab = bytes[(fileEnd + 1)...].firstIndex(of: 0x09) else { return nil }
        var lineText = bytes[(fileEnd + 1)..<lineTab]
        let aggregate = lineText.last == UInt8(ascii: "a")
        if aggregate { lineText = lineText.dropLast() }
        guard let line = Int(String(decoding: lineText, as: UTF8.self)),
              var request = try? RequestDecoder.decode(Array(bytes[(lineTab + 1)...]))
        else { return nil }
        request.isAggregate = aggregate
        return UsageRecord(request: request, location: RecordLocation(file: file, line: line))
    }
}

