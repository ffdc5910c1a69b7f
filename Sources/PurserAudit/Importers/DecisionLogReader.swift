import Purser

/// Reads Purser's decision logs (`purser serve --decision-log`; docs/decision-log.md) as usage
/// (docs/importers.md, "Decision logs (decision-log)"): each allowed `authorize` is a call that was made, its
/// record the logged request at the model and region the decision chose, its time the request's
/// `timestamp` or else the line's `time`. When the decision was settled (the first settle the
/// ledger counted, in any file of the audit), the settled cost, and the settle's usage when it has
/// one, replace the estimate; a decision released and never settled is no call. Every other line
/// (denials, dry runs, settles, releases, checkpoints, restarts) is skipped and counted by reason.
package final class DecisionLogReader: ChunkedLogReader, Sendable {
    // `decode(_:)` reads immutable state (the index too) and the parser pool; `chunks` is cut by
    // one thread at a time.
    package let format = UsageLogFormat.decisionLog
    private let chunks: LineChunkQueue
    /// The file's interned name, for records' locations.
    private let name: LogName
    private let maxRecordBytes: Int
    private let mapping: FieldMapping
    /// The settles and releases of every decision log of the audit (of this file alone, read on
    /// its own).
    private let index: DecisionLogIndex
    private let parsers = ParserPool()

    /// Reads `file`, the start of `source`; without an index in `options` this file's own settles are read first.
    package init(file: LogFile, source: LogSource, options: UsageLogOptions) throws(UsageLogError) {
        chunks = LineChunkQueue(file: file, options: options)
        name = LogName(file.path)
        maxRecordBytes = options.maxRecordBytes
        mapping = options.mapping
        if let index = options.decisionLogIndex {
            self.index = index
        } else {
            index = try DecisionLogIndex.read([source], options: options)
        }
    }

    package func nextChunk() throws(UsageLogError) -> LogChunk? {
        try chunks.next()
    }

    package func decode(_ chunk: LogChunk) -> RecordBatch {
        var batch = RecordBatch()
        batch.records.reserveCapacity(chunk.lines.count)
        batch.malformed = chunk.tooLongRecords(in: name, limit: maxRecordBytes)
        parsers.with { parser in
            chunk.bytes.withUnsafeBufferPointer { buffer in
                for line in chunk.lines {
                    decode(UnsafeBufferPointer(rebasing: buffer[line.start..<line.end]), number: line.number, parser: &parser, into: &batch)
                }
            }
        }
        if !chunk.tooLong.isEmpty { batch.malformed.sort { $0.location < $1.location } }
        return batch
    }

    /// Why lines are not replayed (the report's `summary.skipped`; docs/importers.md, "Decision logs (decision-log)").
    package enum Skip {
        static let denied = "decision-log: authorize denied (no call was made)"
        static let released = "decision-log: authorize released and never settled (the call was not made)"
        static let repeated = "decision-log: authorize repeated (its decision id is counted once)"
        static let settle = "decision-log: settle (its cost replaces its authorization's estimate)"
        static let settleRepeated = "decision-log: settle the ledger did not count (already_settled, denied)"
        static let settleOrphan = "decision-log: settle of a decision not authorized in the logs read (its spend is not counted)"
        static let release = "decision-log: release (not spend)"
        static let evaluate = "decision-log: evaluate (a dry run, not spend)"
        static let invalidRequest = "decision-log: invalid-request (refused, not spend)"
        static let checkpoint = "decision-log: checkpoint"
        static let restart = "decision-log: restart"
    }

    /// The message of an allowed decision that `purser eval --decision-log` wrote: no request to replay.
    package static let decisionOnly = "an allowed decision written by purser eval --decision-log: its data is the decision alone, "
        + "without the request, so the call cannot be replayed as usage; audit the requests eval read instead"

    private func decode(_ buffer: UnsafeBufferPointer<UInt8>, number: Int, parser: inout RequestParser, into batch: inout RecordBatch) {
        var blank = JSONScanner(buffer)
        guard blank.peek() != nil else { return }  // blank line
        let location = RecordLocation(file: name, line: number)
        do throws(JSONError) {
            let entry = try DecisionLogEntry.parse(buffer)
            guard var data = entry.dataScanner(buffer) else {
                batch.skipped[Skip.checkpoint, default: 0] += 1
                return
            }
            let skip: String
            switch entry.event {
            case .authorize:
                let logged = try LoggedAuthorization.read(&data, parser: &parser, decodingRequest: true)
                guard let reason = add(logged, at: location, time: entry.time, into: &batch) else { return }
                skip = reason
            case .settle: skip = index.reason(for: try LoggedSettlement.read(&data), at: location)
            case .release:
                _ = try LoggedRelease.read(&data)
                skip = Skip.release
            case .evaluate: skip = Skip.evaluate
            case .invalidRequest: skip = Skip.invalidRequest
            case .checkpoint: skip = Skip.checkpoint
            case .restart: skip = Skip.restart
            case .other(let event): skip = "decision-log: \(event)"
            }
            batch.skipped[skip, default: 0] += 1
        } catch {
            batch.malformed.append(MalformedRecord(location: location, message: error.problem.message))
        }
    }

    /// Adds the record of an authorization (or, for one purser eval wrote, a malformed entry) and
    /// returns nil, or returns why it is skipped.
    private func add(_ logged: LoggedAuthorization, at location: RecordLocation, time: Timestamp, into batch: inout RecordBatch) -> String? {
        if logged.decisionOnly {
            guard logged.allowed else { return Skip.denied }
            batch.malformed.append(MalformedRecord(location: location, message: Self.decisionOnly))
            return nil
        }
        guard logged.allowed, let id = logged.id, let model = logged.model, var request = logged.request else { return Skip.denied }
        guard index.isFirstAuthorization(id, at: location) else { return Skip.repeated }
        let settlement = index.settlement(id)
        if settlement == nil, index.isReleased(id) { return Skip.released }
        if request.timestamp == nil { request.timestamp = time }
        if request.id == nil { request.id = id.description }
        request.model = model
        request.region = logged.region
        if let settlement {
            request.cost = settlement.cost
            if let usage = settlement.usage { request.usage = usage }
        }
        if !mapping.rules.isEmpty { MappingApplication.apply(mapping, to: &request) }
        batch.records.append(UsageRecord(request: request, location: location))
        return nil
    }
}

/// What the lines of the decision logs of an audit say about each decision id, read before
/// any of them is replayed: the first allowed authorization of each id, the first settle the
/// ledger counted, and the releases (docs/importers.md, "Decision logs (decision-log)"). A settle may be in a
/// later file than its authorization (the log starts a file a day). Holds about 100 bytes per
/// decision. Lines that cannot be read are left to the reader, which reports them.
package final class DecisionLogIndex: Sendable {
    /// A settle the ledger counted.
    package struct Settlement: Sendable {
        /// The settled cost (nil when unpriced).
        package let cost: USD?
        /// The settle's usage, when its body had one.
        package let usage: Usage?
        /// The settle line.
        package let location: RecordLocation
    }

    private let authorizations: [DecisionID: RecordLocation]
    private let settlements: [DecisionID: Settlement]
    private let released: Set<DecisionID>

    private init(authorizations: [DecisionID: RecordLocation], settlements: [DecisionID: Settlement], released: Set<DecisionID>) {
        self.authorizations = authorizations
        self.settlements = settlements
        self.released = released
    }

    /// Whether `location` is the first allowed authorization of `id` in the logs.
    package func isFirstAuthorization(_ id: DecisionID, at location: RecordLocation) -> Bool {
        authorizations[id].map { $0 == location } ?? true
    }

    /// The settle that counts for `id`, if any.
    package func settlement(_ id: DecisionID) -> Settlement? { settlements[id] }

    /// Whether a release dropped the reservation of `id`.
    package func isReleased(_ id: DecisionID) -> Bool { released.contains(id) }

    /// Why the settle at `location` is not a record of its own.
    package func reason(for settle: LoggedSettlement, at location: RecordLocation) -> String {
        guard let id = settle.id, authorizations[id] != nil else { return DecisionLogReader.Skip.settleOrphan }
        return settlements[id]?.location == location ? DecisionLogReader.Skip.settle : DecisionLogReader.Skip.settleRepeated
    }

    /// Reads the decision logs among `sources` (those `options.format` names, or that `auto`
    /// detects), in the order given; nil when there is none.
    package static func forAudit(_ sources: [LogSource], options: UsageLogOptions) throws(UsageLogError) -> DecisionLogIndex? {
        var logs: [LogSource] = []
        for source in sources {
            switch options.format {
            case .decisionLog: logs.append(source)
            case .auto:
                if LogFormatDetection.detect(try LogFile(source).peek(UsageLogs.detectionBytes)) == .decisionLog { logs.append(source) }
            default: break
            }
        }
        return logs.isEmpty ? nil : try read(logs, options: options)
    }

    /// Reads the settles, releases and authorizations of `sources`, in the order given.
    package static func read(_ sources: [LogSource], options: UsageLogOptions) throws(UsageLogError) -> DecisionLogIndex {
        var authorizations: [DecisionID: RecordLocation] = [:]
        var settlements: [DecisionID: Settlement] = [:]
        var released: Set<DecisionID> = []
        var parser = RequestParser()
        for source in sources {
            let name = LogName(source.name)
            var lines = LineChunks(file: try LogFile(source), limit: options.maxRecordBytes)
            while try lines.next(maxLines: 4096, { line in
                line.bytes.withUnsafeBufferPointer { buffer in
                    guard let entry = try? DecisionLogEntry.parse(buffer), var data = entry.dataScanner(buffer) else { return }
                    let location = RecordLocation(file: name, line: line.number)
                    switch entry.event {
                    case .authorize:
                        guard let logged = try? LoggedAuthorization.read(&data, parser: &parser, decodingRequest: false),
                              logged.allowed, !logged.decisionOnly, let id = logged.id, authorizations[id] == nil
                        else { return }
                        authorizations[id] = location
                    case .settle:
                        guard let settle = try? LoggedSettlement.read(&data), settle.counted, let id = settle.id, settlements[id] == nil
                        else { return }
                        settlements[id] = Settlement(cost: settle.cost, usage: settle.usage, location: location)
                    case .release:
                        guard let release = try? LoggedRelease.read(&data), release.released, let id = release.id else { return }
                        released.insert(id)
                    default: return
                    }
                }
            }, tooLong: { _ in }) {}
        }
        return DecisionLogIndex(authorizations: authorizations, settlements: settlements, released: released)
    }
}
