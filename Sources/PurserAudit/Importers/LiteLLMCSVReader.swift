import Purser
/// Reads the CSV export of LiteLLM's `LiteLLM_SpendLogs` table: a header
/// row, then one row per call; `metadata` and `request_tags` hold JSON.
///
/// Splitting the file into records is done in order (`nextChunk`); turning
/// records into requests (`decode`) may run on several threads at once.
package final class LiteLLMCSVReader: ChunkedLogReader, @unchecked Sendable {
    // `records`, `header`, `columns` and `done` change only in `nextChunk` (one
    // caller at a time, in order); `header` and `columns` are set by the first
    // chunk, before any chunk holding data is handed to `decode`.
    package let format = UsageLogFormat.litellm
    private var records: CSVRecords
    private let file: String
    /// The file's interned name, for records' locations.
    private let name: LogName
    private let batchSize: Int
    private let mapping: FieldMapping
    private var header: CSVHeader?
    private var columns = Columns()
    private var done = false

    /// Where the columns the importer reads are.
    private struct Columns {
        package var requestID: Int?
        package var spend: Int?
        package var prompt: Int?
        package var completion: Int?
        package var start: Int?
        package var model: Int?
        package var modelGroup: Int?
        package var provider: Int?
        package var apiBase: Int?
        package var user: Int?
        package var endUser: Int?
        package var teamID: Int?
        package var status: Int?
        package var metadata: Int?
        package var requestTags: Int?

        package init() {}

        package init(_ header: CSVHeader) {
            requestID = header.index("request_id", "id")
            spend = header.index("spend", "response_cost")
            prompt = header.index("prompt_tokens")
            completion = header.index("completion_tokens")
            start = header.index("startTime", "start_time")
            model = header.index("model")
            modelGroup = header.index("model_group")
            provider = header.index("custom_llm_provider")
            apiBase = header.index("api_base")
            user = header.index("user")
            endUser = header.index("end_user")
            teamID = header.index("team_id")
            status = header.index("status")
            metadata = header.index("metadata")
            requestTags = header.index("request_tags")
        }

        /// The positions read, `--map` paths' columns included: only these are held to the record-size limit
        /// (a megabyte of `messages` streams past; docs/importers.md, "Limits").
        package static func used(_ header: CSVHeader, mapping: FieldMapping) -> Set<Int> {
            let columns = Columns(header)
            var used = Set([columns.requestID, columns.spend, columns.prompt, columns.completion, columns.start, columns.model,
                            columns.modelGroup, columns.provider, columns.apiBase, columns.user, columns.endUser, columns.teamID,
                            columns.status, columns.metadata, columns.requestTags].compactMap { $0 })
            for rule in mapping.rules {
                if let column = header.index(rule.path.components[0]) { used.insert(column) }
            }
            return used
        }
    }

    package init(file: LogFile, options: UsageLogOptions) {
        let mapping = options.mapping
        self.records = CSVRecords(file: file, limit: options.maxRecordBytes) { header in Columns.used(header, mapping: mapping) }
        self.file = file.path
        self.name = LogName(file.path)
        self.batchSize = options.batchSize
        self.mapping = options.mapping
    }

    package func nextChunk() throws(UsageLogError) -> LogChunk? {
        guard !done else { return nil }
        var chunk = LogChunk()
        var failure: UsageLogError?
        while chunk.csvRecords.count + chunk.problems.count < batchSize, failure == nil {
            let more = try records.next({ record in
                if header == nil {
                    failure = readHeader(record)
                } else {
                    chunk.append(record)
                }
            }, malformed: { line, message in
                if header == nil, failure == nil {
                    failure = UsageLogError("line \(line): the CSV header cannot be read: \(message)", file: file)
                } else {
                    chunk.problems.append(MalformedRecord(location: RecordLocation(file: name, line: line), message: message))
                }
            })
            if !more {
                done = true
                break
            }
        }
        if let failure { throw failure }
        return chunk.csvRecords.isEmpty && chunk.problems.isEmpty && done ? nil : chunk
    }

    package func decode(_ chunk: LogChunk) -> RecordBatch {
        var batch = RecordBatch()
        batch.records.reserveCapacity(chunk.csvRecords.count)
        batch.malformed = chunk.problems
        let scratch = ScratchBuffer()
        var names = NameCache()
        chunk.forEachCSVRecord { record in decode(record, scratch: scratch, names: &names, into: &batch) }
        if !chunk.problems.isEmpty { batch.malformed.sort { $0.location < $1.location } }
        return batch
    }

    private func readHeader(_ record: CSVRecord) -> UsageLogError? {
        let header = CSVHeader(record)
        self.header = header
        columns = Columns(header)
        guard columns.start != nil else {
            return UsageLogError("the CSV header has no startTime column; is this a LiteLLM_SpendLogs export?", file: file)
        }
        guard columns.model != nil || columns.modelGroup != nil else {
            return UsageLogError("the CSV header has no model column; is this a LiteLLM_SpendLogs export?", file: file)
        }
        return nil
    }

    private func decode(_ record: CSVRecord, scratch: ScratchBuffer, names: inout NameCache, into batch: inout RecordBatch) {
        let location = RecordLocation(file: name, line: record.line)
        guard let header, record.count == header.names.count else {
            batch.malformed.append(MalformedRecord(location: location, message:
                "the record has \(record.count) field\(record.count == 1 ? "" : "s"); the header has \(header?.names.count ?? 0)"))
            return
        }
        batch.add(location, skipReason: LiteLLMMapping.skippedFailure) { () throws(RecordProblem) in
            guard var request = try LiteLLMMapping.request(try entry(record, scratch: scratch, names: &names)) else { return nil }
            if !mapping.rules.isEmpty {
                let tags = request.tags.dictionary
                try mapping.apply(to: &request) { path throws(RecordProblem) in
                    try value(path, record, header, tags, scratch: scratch)
                }
            }
            return request
        }
    }

    private func entry(_ record: CSVRecord, scratch: ScratchBuffer, names: inout NameCache) throws(RecordProblem) -> LiteLLMEntry {
        var entry = LiteLLMEntry()
        let columns = self.columns
        // Names repeat from line to line: taken from the cache (request ids, which do not, are not cached).
        func name(_ column: Int?, _ field: String) throws(RecordProblem) -> String? {
            guard let column else { return nil }
            return try record.withText(column, scratch: scratch) { bytes throws(RecordProblem) in
                try ImportValues.name(bytes, field, cache: &names)
            }
        }
        entry.requestID = try columns.requestID.flatMap { column throws(RecordProblem) in
            try record.withText(column, scratch: scratch) { bytes throws(RecordProblem) in try ImportValues.name(bytes, "request_id") }
        }
        if let column = columns.spend {
            let raw = record.raw(column)
            if !ImportValues.isBlank(raw) {
                guard let spend = ImportValues.usd(raw) else {
                    throw RecordProblem("spend must be an amount of USD, found \(ImportValues.shown(raw))")
                }
                entry.spend = spend
            }
        }
        if let column = columns.prompt { entry.promptTokens = try ImportValues.tokens(record.raw(column), "prompt_tokens") ?? 0 }
        if let column = columns.completion {
            entry.completionTokens = try ImportValues.tokens(record.raw(column), "completion_tokens") ?? 0
        }
        if let column = columns.start {
            let raw = record.raw(column)
            if !ImportValues.isBlank(raw) {
                guard let time = ImportValues.timestamp(raw) else {
                    throw RecordProblem("startTime \(ImportValues.shown(raw)) is not a time like 2026-11-22 10:00:00.123456")
                }
                entry.startTime = time
            }
        }
        entry.model = try name(columns.model, "model")
        entry.modelGroup = try name(columns.modelGroup, "model_group")
        entry.provider = try name(columns.provider, "custom_llm_provider")
        entry.apiBase = try name(columns.apiBase, "api_base")
        entry.user = try name(columns.user, "user")
        entry.endUser = try name(columns.endUser, "end_user")
        entry.teamID = try name(columns.teamID, "team_id")
        entry.status = try name(columns.status, "status")
        if let column = columns.metadata {
            entry.metadata = try record.withText(column, scratch: scratch) { bytes throws(RecordProblem) in
                var scanner = JSONScanner(bytes)
                guard scanner.peek() != nil else { return LiteLLMMetadata() }
                let metadata = try LiteLLMMetadata.read(&scanner)
                do throws(JSONError) { try scanner.expectEnd() } catch { throw RecordProblem("metadata: \(error.message)") }
                return metadata
            }
        }
        if let column = columns.requestTags {
            entry.requestTags = try record.withText(column, scratch: scratch) { bytes throws(RecordProblem) in
                try Self.tags(bytes)
            }
        }
        return entry
    }

    /// `request_tags` as JSON (`["env:prod"]`), or leniently as `{a,b}` or `a,b`; nil when blank.
    private static func tags(_ bytes: UnsafeBufferPointer<UInt8>) throws(RecordProblem) -> Tags? {
        let trimmed = ImportValues.trimmed(bytes)
        guard let first = trimmed.first else { return nil }
        var tags = Tags()
        if first == UInt8(ascii: "[") || first == UInt8(ascii: "\"") || ImportValues.isNullWord(trimmed) {
            var scanner = JSONScanner(bytes)
            let found = try JSONValues.tags(&scanner, "request_tags", into: &tags)
            do throws(JSONError) { try scanner.expectEnd() } catch { throw RecordProblem("request_tags: \(error.message)") }
            return found ? tags : nil
        }
        var text = String(decoding: trimmed, as: UTF8.self)
        if text.hasPrefix("{"), text.hasSuffix("}") { text = String(text.dropFirst().dropLast()) }
        try TagList.add(text.split(separator: ",").map { String($0).trimmingSpaces }.filter { !$0.isEmpty }, to: &tags)
        return tags
    }

    /// The value at a `--map` path: a column, a key inside a JSON column (`metadata.KEY`), or a request tag (`tags.KEY`).
    private func value(_ path: FieldPath, _ record: CSVRecord, _ header: CSVHeader, _ tags: [String: String],
                       scratch: ScratchBuffer) throws(RecordProblem) -> String? {
        let parts = path.components
        if parts.count == 2, parts[0] == "tags", header.index("tags") == nil { return tags[parts[1]] }
        guard let column = header.index(parts[0]) else { return nil }
        return try record.withText(column, scratch: scratch) { bytes throws(RecordProblem) in
            if parts.count == 1 { return try ImportValues.name(bytes, path.description) }
            return JSONValues.lookup(parts.dropFirst(), in: bytes)
        }
    }
}
