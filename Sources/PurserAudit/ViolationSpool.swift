import Purser
import Dispatch
import Synchronization

/// Violations on disk, as JSON Lines (docs/wire-formats.md, "Audit violations"), so
/// that a replay of millions of records keeps memory flat however many violations it finds.
///
/// The replay thread gathers violations in batches of ``batchSize``; a full batch
/// is encoded and written by a background queue while the replay fills a second
/// one (two batches at most, so memory stays bounded): in an audit in which most
/// records break policy, encoding was a quarter of the replay thread's work,
/// which the other core now does. A write that fails (a full disk) is kept as
/// ``failure``; the audit reports it instead of a report that silently misses
/// violations.
package final class ViolationSpool: @unchecked Sendable {
    // `@unchecked`: `batch` and `count` belong to the thread that appends (the replay, one thread
    // at a time: `appender` checks it in debug builds), and the spool is read after the replay;
    // `encoded` belongs to the writing queue; `spare` and `failed` are shared with the writing
    // queue, behind their locks.
    package let path: String
    private let fd: Int32
    /// Whether the spool closes `fd` when it goes (not a file it was lent: ``AuditOptions/violationsFile``).
    private let ownsDescriptor: Bool
    private let appender = ThreadOwner()
    /// The batch being gathered (the appender's).
    private var batch = BatchBox()
    /// The writing queue's buffer: only that queue uses it.
    private let encoded = WriterBox(JSONWriter(capacity: ViolationSpool.bufferSize + 4096))
    package private(set) var count = 0
    /// Violations counted but not kept (``AuditOptions/violationsKept``).
    package private(set) var dropped = 0
    private let writing = DispatchQueue(label: "purser.violation-spool")
    /// Batches the writing queue has emptied, for the appender to fill again.
    private let spare = Mutex<[BatchBox]>([])
    /// One permit per batch that may be out with the writing queue.
    private let permits = DispatchSemaphore(value: 1)
    private let failed = Mutex<String?>(nil)

    /// Bytes the writing queue gathers before it writes them.
    package static let bufferSize = 1 << 20
    /// Violations gathered before they are handed to the writing queue.
    package static let batchSize = 1024

    /// The writing queue's buffer. (`@unchecked`: a `JSONWriter` is not Sendable; only the
    /// writing queue, which runs one block at a time, touches it.)
    private final class WriterBox: @unchecked Sendable {
        package var writer: JSONWriter
        package init(_ writer: JSONWriter) { self.writer = writer }
    }

    /// A batch on its way to the writing queue and back. (`@unchecked`: one thread at a time has
    /// the box: the appender fills it, the writing queue empties it, and the appender takes it
    /// back through `spare`.)
    private final class BatchBox: @unchecked Sendable {
        package var items: [AuditViolation] = []
        package init() { items.reserveCapacity(ViolationSpool.batchSize) }
    }

    /// A spool in a new anonymous temporary file of `directory`: unlinked as soon as it is
    /// created, so that no exit leaves it behind (docs/audit-reports.md, "Input").
    package init(directory: String) throws(UsageLogError) {
        fd = try TemporaryFile.anonymous(in: directory)
        path = directory + "/(violation spool)"
        ownsDescriptor = true
    }

    /// A spool writing to an open descriptor, which it closes when `closes` (tests: `/dev/full`);
    /// one it does not close is the `--format jsonl` report itself (``AuditOptions/violationsFile``).
    package init(descriptor: Int32, path: String, closes: Bool = true) {
        fd = descriptor
        self.path = path
        ownsDescriptor = closes
    }

    deinit {
        // Nothing is left to write here: each write in flight holds the spool.
        if fd >= 0, ownsDescriptor { try? SystemCalls.close(fd) }
    }

    /// Why writing the spool failed, if it did: the violations after it are missing.
    package var failure: String? { failed.withLock { $0 } }

    /// Appends one violation line.
    package func append(_ item: AuditViolation) {
        let use = appender.enter()
        defer { appender.exit(use) }
        batch.items.append(item)
        count += 1
        if batch.items.count >= Self.batchSize { handOff() }
    }

    /// Counts a violation without keeping it.
    package func drop() {
        let use = appender.enter()
        defer { appender.exit(use) }
        dropped += 1
    }

    /// Drops everything written (a replay that restarts).
    package func reset() {
        let use = appender.enter()
        defer { appender.exit(use) }
        writing.sync { [self] in encoded.writer.reset() }
        batch.items.removeAll(keepingCapacity: true)
        count = 0
        dropped = 0
        failed.withLock { $0 = nil }
        try? SystemCalls.truncate(fd)
    }

    /// Writes everything appended so far and waits until it is on file.
    package func flush() {
        let use = appender.enter()
        defer { appender.exit(use) }
        if !batch.items.isEmpty { handOff() }
        writing.sync { [self] in write() }
    }

    /// Gives the filled batch to the writing queue and goes on with an empty one; waits while
    /// the other batch is still out.
    private func handOff() {
        permits.wait()
        let full = batch
        batch = spare.withLock { $0.popLast() } ?? BatchBox()
        writing.async { [self] in
            for item in full.items {
                ViolationSpool.encode(item, into: &encoded.writer)
                encoded.writer.newline()
            }
            full.items.removeAll(keepingCapacity: true)
            if encoded.writer.count >= Self.bufferSize { write() }
            spare.withLock { $0.append(full) }
            permits.signal()
        }
    }

    /// Writes what the writing queue has encoded (on that queue).
    private func write() {
        guard encoded.writer.count > 0 else { return }
        encoded.writer.withBytes { bytes in
            do throws(SystemError) {
                try SystemCalls.writeAll(fd, bytes)
            } catch {
                // The first failure tells what went wrong; later ones follow from it.
                failed.withLock { $0 = $0 ?? "cannot write the violation spool \(path): \(error.message)" }
            }
        }
        encoded.writer.reset()
    }

    /// One violation in the `--format jsonl` shape.
    package static func encode(_ item: AuditViolation, into json: inout JSONWriter) {
        let violation = item.violation
        json.object { json in
            json.field("rule", violation.rule)
            json.field("kind", violation.kind.rawValue)
            json.field("effect", violation.effect.rawValue)
            json.field("severity", violation.severity.rawValue)
            json.field("message", violation.message)
            if let source = violation.source {
                json.field("source", file: source.file, line: source.line, column: source.column)
            } else {
                json.field("source", nil as String?)
            }
            json.field("waived_by", violation.waivedBy)
            json.field("request_id", item.requestID)
            json.field("timestamp", timestamp: item.timestamp)
            json.field("team", item.team)
            json.field("environment", item.environment)
            json.field("model", item.model)
            json.field("region", item.region)
            json.key("cost")
            if let cost = item.cost { json.usd(cost) } else { json.null() }
            json.field("input", file: item.input.file, line: item.input.line)
            json.key("reroute")
            if let reroute = item.reroute {
                json.object { json in
                    json.field("model", reroute.model)
                    json.field("region", reroute.region)
                    json.key("cost")
                    if let cost = reroute.cost { json.usd(cost) } else { json.null() }
                }
            } else {
                json.null()
            }
        }
    }

    /// Reads the spool back in chunks of whole lines.
    ///
    /// Throws when the spool could not be written whole (see ``failure``).
    package func forEachChunk(_ body: ([UInt8]) throws -> Void) throws {
        let use = appender.enter()
        defer { appender.exit(use) }
        flush()
        if let failure { throw AuditError(failure) }
        guard fd >= 0 else { return }
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var offset: Int64 = 0
        while true {
            // Read by offset: the spool's file has no name to open again.
            guard let got = try? SystemCalls.pread(fd, into: &chunk, at: offset), got > 0 else { break }
            offset += Int64(got)
            pending.append(contentsOf: chunk[0..<got])
            if let newline = pending.lastIndex(of: 0x0A) {
                try body(Array(pending[...newline]))
                pending.removeFirst(newline + 1)
            }
        }
        if !pending.isEmpty { try body(pending) }
    }

    /// Reads every violation back.
    package func forEach(_ body: (AuditViolation) throws -> Void) throws {
        try forEachChunk { chunk in
            var start = 0
            while start < chunk.count {
                let end = chunk[start...].firstIndex(of: 0x0A) ?? chunk.count
                if end > start, let item = ViolationSpool.decode(chunk[start..<end]) { try body(item) }
                start = end + 1
            }
        }
    }

    /// Parses one spool line (it was written by `encode`, so it is trusted).
    package static func decode(_ line: ArraySlice<UInt8>) -> AuditViolation? {
        line.withUnsafeBufferPointer { buffer -> AuditViolation? in
            var scanner = JSONScanner(buffer)
            var fields: [String: String] = [:]
            var reroute: AuditViolation.Reroute?
            do throws(JSONError) {
                try scanner.beginObject()
                var first = true
                while let key = try scanner.nextKey(first: &first) {
                    let name = try scanner.decodeString(key)
                    if name == "reroute", scanner.peek() == UInt8(ascii: "{") {
                        var inner: [String: String] = [:]
                        try scanner.beginObject()
                        var innerFirst = true
                        while let innerKey = try scanner.nextKey(first: &innerFirst) {
                            inner[try scanner.decodeString(innerKey)] = try scalar(&scanner)
                        }
                        reroute = AuditViolation.Reroute(model: inner["model"] ?? "", region: inner["region"], cost: inner["cost"].flatMap { USD($0) })
                    } else {
                        fields[name] = try scalar(&scanner)
                    }
                }
            } catch {
                return nil
            }
            guard let rule = fields["rule"], let kind = fields["kind"].flatMap(ViolationKind.init(rawValue:)),
                  let effect = fields["effect"].flatMap(ViolationEffect.init(rawValue:)),
                  let severity = fields["severity"].flatMap(Severity.init(rawValue:)),
                  let timestamp = fields["timestamp"].flatMap({ Timestamp(rfc3339: $0) }),
                  let input = fields["input"], let colon = input.lastIndex(of: ":"), let line = Int(input[input.index(after: colon)...])
            else { return nil }
            let source = fields["source"].flatMap(SourceLocation.init(parsing:))
            return AuditViolation(
                violation: Violation(rule: rule, kind: kind, effect: effect, severity: severity, message: fields["message"] ?? "",
                                     source: source, waivedBy: fields["waived_by"]),
                requestID: fields["request_id"], timestamp: timestamp, team: fields["team"], environment: fields["environment"],
                model: fields["model"] ?? "", region: fields["region"], cost: fields["cost"].flatMap { USD($0) },
                input: RecordLocation(file: String(input[..<colon]), line: line), reroute: reroute)
        }
    }

    /// A string, number or null as text (nil for null).
    private static func scalar(_ scanner: inout JSONScanner) throws(JSONError) -> String? {
        if try scanner.null() { return nil }
        if scanner.peek() == UInt8(ascii: "\"") { return try scanner.string() }
        return try scanner.numberText()
    }
}

extension SourceLocation {
    /// Parses `file:line:col`.
    package init?(parsing text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 3, let line = Int(parts[parts.count - 2]), let column = Int(parts[parts.count - 1]) else { return nil }
        self.init(file: parts[0..<(parts.count - 2)].joined(separator: ":"), line: line, column: column)
    }
}
