/// Reads Purser's own usage log: JSON Lines of requests (SPEC §5) with a
/// required `timestamp` and, when known, the actual `cost`.
final class PurserLogReader: UsageLogReader {
    let format = UsageLogFormat.purser
    private var lines: LineChunks
    private let file: String
    private let batchSize: Int
    private let mapping: FieldMapping
    private var done = false
    private var parser = RequestParser()

    init(file: LogFile, options: UsageLogOptions) {
        self.lines = LineChunks(file: file, limit: options.maxRecordBytes)
        self.file = file.path
        self.batchSize = options.batchSize
        self.mapping = options.mapping
    }

    func next() throws(UsageLogError) -> RecordBatch? {
        guard !done else { return nil }
        var batch = RecordBatch()
        batch.records.reserveCapacity(batchSize)
        while batch.records.count + batch.malformed.count < batchSize {
            let more = try lines.next(maxLines: batchSize - batch.records.count - batch.malformed.count, { line in
                decode(line.bytes, number: line.number, into: &batch)
            }, tooLong: { number in
                batch.malformed.append(MalformedRecord(
                    location: RecordLocation(file: file, line: number),
                    message: "the record is longer than the record-size limit"))
            })
            if !more {
                done = true
                break
            }
        }
        return batch.records.isEmpty && batch.malformed.isEmpty && done ? nil : batch
    }

    private func decode(_ bytes: ArraySlice<UInt8>, number: Int, into batch: inout RecordBatch) {
        bytes.withUnsafeBufferPointer { buffer in
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
                batch.records.append(UsageRecord(request: request, location: location))
            } catch {
                let column = YAMLMark(byteOffset: error.offset, in: buffer).column
                batch.malformed.append(MalformedRecord(location: location, message: "column \(column): \(error.message)"))
            }
        }
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
