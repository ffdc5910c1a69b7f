import Synchronization
import PurserYAML

/// Reads Purser's own usage log: JSON Lines of requests (SPEC §5) with a
/// required `timestamp` and, when known, the actual `cost`.
final class PurserLogReader: ChunkedLogReader, @unchecked Sendable {
    // `lines` is used by one thread at a time (the caller of `nextChunk`, in order);
    // `decode(_:)` touches only immutable state and the parser pool, so any thread may run it.
    let format = UsageLogFormat.purser
    private var lines: LineChunks
    private let file: String
    private let batchSize: Int
    private let mapping: FieldMapping
    private var done = false
    private let parsers = ParserPool()

    init(file: LogFile, options: UsageLogOptions) {
        self.lines = LineChunks(file: file, limit: options.maxRecordBytes)
        self.file = file.path
        self.batchSize = options.batchSize
        self.mapping = options.mapping
    }

    func nextChunk() throws(UsageLogError) -> LogChunk? {
        guard !done else { return nil }
        guard let chunk = try lines.nextChunk(maxLines: batchSize) else {
            done = true
            return nil
        }
        return chunk
    }

    func decode(_ chunk: LogChunk) -> RecordBatch {
        var batch = RecordBatch()
        batch.records.reserveCapacity(chunk.lines.count)
        for number in chunk.tooLong {
            batch.malformed.append(MalformedRecord(
                location: RecordLocation(file: file, line: number),
                message: "the record is longer than the record-size limit"))
        }
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

    private func decode(_ buffer: UnsafeBufferPointer<UInt8>, number: Int, parser: inout RequestParser, into batch: inout RecordBatch) {
        var scanner = JSONScanner(buffer)
        guard scanner.peek() != nil else { return }  // blank line
        let location = RecordLocation(file: file, line: number)
        do throws(RequestError) {
            var request = try parser.decode(&scanner)
            do throws(JSONError) { try scanner.expectEnd() } catch { throw RequestError(error.message, at: error.offset) }
            guard request.timestamp != nil else {
                batch.malformed.append(MalformedRecord(location: location, message: "the record has no timestamp (usage logs need one)"))
                return
            }
            if !mapping.rules.isEmpty { MappingApplication.apply(mapping, to: &request) }
            batch.records.append(UsageRecord(request: consume request, location: location))
        } catch {
            let column = YAMLMark(byteOffset: error.offset, in: buffer).column
            batch.malformed.append(MalformedRecord(location: location, message: "column \(column): \(error.message)"))
        }
    }
}

/// Request parsers (each with its name cache) lent to decoding threads.
final class ParserPool: Sendable {
    private let idle = Mutex<[RequestParser]>([])

    /// Runs `body` with a parser no other thread is using.
    func with<Result>(_ body: (inout RequestParser) -> Result) -> Result {
        var parser = idle.withLock { $0.popLast() } ?? RequestParser()
        let result = body(&parser)
        idle.withLock { $0.append(parser) }
        return result
    }
}

/// `--map` for records that are already requests: a path names another request field or a tag.
enum MappingApplication {
    static func apply(_ mapping: FieldMapping, to request: inout Request) {
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
