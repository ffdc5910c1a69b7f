import Purser
import Synchronization
import PurserYAML

/// Reads Purser's own usage log: JSON Lines of requests with a required `timestamp`
/// and, when known, the actual `cost` (docs/wire-formats.md, "Usage records").
package final class PurserLogReader: ChunkedLogReader, Sendable {
    // `decode(_:)` touches only immutable state and the parser pool, so any thread may run it;
    // `chunks` is cut by one thread at a time.
    package let format = UsageLogFormat.purser
    private let chunks: LineChunkQueue
    /// The file's interned name, for records' locations.
    private let name: LogName
    private let mapping: FieldMapping
    private let parsers = ParserPool()
    /// The record-size limit (for messages).
    private let maxRecordBytes: Int

    package init(file: LogFile, options: UsageLogOptions) {
        self.chunks = LineChunkQueue(file: file, options: options)
        self.maxRecordBytes = options.maxRecordBytes
        self.name = LogName(file.path)
        self.mapping = options.mapping
    }

    package func nextChunk() throws(UsageLogError) -> LogChunk? {
        try chunks.next()
    }

    package func decode(_ chunk: LogChunk) -> RecordBatch {
        decode(chunk, preparing: nil)
    }

    package func decode(_ chunk: LogChunk, preparing: ShapedPreparation?) -> RecordBatch {
        // `--map` rewrites names after decoding: such records are decoded in full.
        let preparing = mapping.rules.isEmpty ? preparing : nil
        var batch = RecordBatch()
        if let preparing {
            let lines = chunk.lines.count
            // A margin of half a counter per record: the records left to prepare after decoding
            // append to the same array, which would otherwise be copied to grow.
            batch.counters.reserveCapacity(lines * preparing.countersPerRecord / 256 + lines / 2 + 16)
        }
        batch.records.reserveCapacity(chunk.lines.count)
        batch.malformed = chunk.tooLongRecords(in: name, limit: maxRecordBytes)
        parsers.with { parser in
            chunk.bytes.withUnsafeBufferPointer { buffer in
                // Bound once, not per line (a binding per line retains and releases them).
                if let preparing {
                    let tables = preparing.plans.shapes
                    var clock = Evaluator.LocalClock.Span()
                    for line in chunk.lines {
                        let bytes = UnsafeBufferPointer(rebasing: buffer[line.start..<line.end])
                        decodeShaped(bytes, number: line.number, preparing, tables, clock: &clock, parser: &parser, into: &batch)
                    }
                } else {
                    for line in chunk.lines {
                        decode(UnsafeBufferPointer(rebasing: buffer[line.start..<line.end]), number: line.number, parser: &parser, into: &batch)
                    }
                }
            }
        }
        if !chunk.tooLong.isEmpty { batch.malformed.sort { $0.location < $1.location } }
        return batch
    }

    /// Decodes a line by its names (see ``RecordShape``): a record its plan decides is appended
    /// prepared, any other with its request; a line with a name not seen yet is decoded in full
    /// (which validates the name, or reports the line) and its names are remembered.
    private func decodeShaped(_ buffer: UnsafeBufferPointer<UInt8>, number: Int, _ preparing: ShapedPreparation,
                              _ tables: ShapeTables, clock: inout Evaluator.LocalClock.Span, parser: inout RequestParser,
                              into batch: inout RecordBatch) {
        var shapeKey = ShapeKey(tables.shapes.scratch)
        var userKey = ShapeKey(tables.users.scratch)
        var tagsKey = ShapeKey(tables.tags.scratch)
        var scanner = JSONScanner(buffer)
        guard scanner.peek() != nil else { return }  // blank line
        guard let scanned = ShapedLine.scan(&scanner, keys: tables.keys, shape: &shapeKey, user: &userKey, tags: &tagsKey,
                                            hours: &parser.hours),
              let timestamp = scanned.timestamp
        else {
            return decode(buffer, number: number, parser: &parser, into: &batch)
        }
        let shapeHash = shapeKey.hash
        let userHash = userKey.hash
        let tagsHash = tagsKey.hash
        var shape = tables.shapes.entry(shapeKey, hash: shapeHash)
        var user = tables.users.entry(userKey, hash: userHash)
        var tags = tables.tags.entry(tagsKey, hash: tagsHash)
        if shape == nil || user == nil || tags == nil {
            guard let request = decodeRequest(buffer, number: number, parser: &parser, into: &batch) else { return }
            let evaluator = preparing.evaluator
            if shape == nil, !tables.shapes.isFull {
                var template = request
                (template.id, template.timestamp, template.usage, template.cost, template.user, template.tags) = (nil, nil, Usage(), nil, nil, [:])
                shape = tables.shapes.insert(RecordShape(key: shapeKey.bytes, hash: shapeHash, template: template,
                                                         names: evaluator.shapeNames(template, tests: preparing.tests), owner: tables.owner))
            }
            if user == nil, !tables.users.isFull {
                let tests = evaluator.textTests(Request(model: "", user: request.user), preparing.tests.userEntries)
                user = tables.users.insert(ShapedUser(key: userKey.bytes, hash: userHash, user: request.user, tests: tests))
            }
            if tags == nil, !tables.tags.isFull {
                let tests = evaluator.textTests(Request(model: "", tags: request.tags), preparing.tests.tagEntries)
                tags = tables.tags.insert(ShapedTags(key: tagsKey.bytes, hash: tagsHash, tags: request.tags, tests: tests,
                                                     scopeTags: preparing.tests.scopeTags))
            }
            guard shape != nil, user != nil, tags != nil else {
                // A table is full: this line's names are not remembered.
                batch.records.append(UsageRecord(request: request, location: RecordLocation(file: name, line: number)))
                return
            }
        }
        guard let shape, let user, let tags else { return }
        let shaped = ShapedRequest(shape: shape, user: user, tags: tags, numbers: scanned.numbers)
        let location = RecordLocation(file: name, line: number)
        // The entries are lent, not retained (the tables keep them).
        let planned = shaped.withEntries { shape, user, tags -> PlannedRecord? in
            guard let names = shape.names else { return nil }
            return preparing.evaluator.shapedRecord(shape, names, user: user, tags: tags, shaped.numbers, at: timestamp,
                                                    clock: &clock, plans: preparing.plans, tests: preparing.tests, counters: &batch.counters)
        }
        if let planned {
            batch.records.append(UsageRecord(planned: planned, request: .shaped(shaped), timestamp: timestamp, location: location))
        } else {
            batch.records.append(UsageRecord(request: shaped.request(at: timestamp), location: location))
        }
    }

    private func decode(_ buffer: UnsafeBufferPointer<UInt8>, number: Int, parser: inout RequestParser, into batch: inout RecordBatch) {
        guard let request = decodeRequest(buffer, number: number, parser: &parser, into: &batch) else { return }
        batch.records.append(UsageRecord(request: consume request, location: RecordLocation(file: name, line: number)))
    }

    /// The request of a line, or nil for a blank line or one it reports as malformed.
    private func decodeRequest(_ buffer: UnsafeBufferPointer<UInt8>, number: Int, parser: inout RequestParser,
                               into batch: inout RecordBatch) -> Request? {
        var scanner = JSONScanner(buffer)
        guard scanner.peek() != nil else { return nil }  // blank line
        let location = RecordLocation(file: name, line: number)
        do throws(RequestError) {
            var request = try parser.decode(&scanner)
            do throws(JSONError) { try scanner.expectEnd() } catch { throw RequestError(error.message, at: error.offset) }
            guard request.timestamp != nil else {
                batch.malformed.append(MalformedRecord(location: location, message: "the record has no timestamp (usage logs need one)"))
                return nil
            }
            if !mapping.rules.isEmpty { MappingApplication.apply(mapping, to: &request) }
            return request
        } catch {
            let column = YAMLMark(byteOffset: error.offset, in: buffer).column
            batch.malformed.append(MalformedRecord(location: location, message: "column \(column): \(error.message)"))
            return nil
        }
    }
}

/// Request parsers (each with its name cache) lent to decoding threads.
package final class ParserPool: Sendable {
    private let idle = Mutex<[RequestParser]>([])

    /// Runs `body` with a parser no other thread is using.
    package func with<Result>(_ body: (inout RequestParser) -> Result) -> Result {
        var parser = idle.withLock { $0.popLast() } ?? RequestParser()
        let result = body(&parser)
        idle.withLock { $0.append(parser) }
        return result
    }
}

/// `--map` for records that are already requests: a path names another request field or a tag.
package enum MappingApplication {
    package static func apply(_ mapping: FieldMapping, to request: inout Request) {
        for (field, path) in mapping.rules {
            guard let value = value(path, in: request) else { continue }
            switch field {
            case .team: request.team = value
            case .environment: request.environment = value
            case .user: request.user = value
            case .model: request.model = value
            case .region: request.region = value
            case .id: request.id = value
            case .tag(let key): request.tags[key] = value
            }
        }
    }

    private static func value(_ path: FieldPath, in request: Request) -> String? {
        let parts = path.components
        if parts.count == 2, parts[0] == "tags" { return request.tags[parts[1]] }
        guard parts.count == 1 else { return nil }
        switch parts[0] {
        case "team": return request.team
        case "environment": return request.environment
        case "user": return request.user
        case "model": return request.model
        case "region": return request.region
        case "id": return request.id
        default: return request.tags[parts[0]]
        }
    }
}
