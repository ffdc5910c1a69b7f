import Purser
/// Reads the CSV export of LiteLLM's `LiteLLM_SpendLogs` table: a header
/// row, then one row per call; `metadata` and `request_tags` hold JSON.
///
/// Splitting the file into records is done in order (`nextChunk`); turning
/// records into requests (`decode`) may run on several threads at once.
package final class LiteLLMCSVReader: ChunkedLogReader, @unchecked Sendable {
    // `@unchecked`: `records`, `header` and `columns` change only in `nextChunk`, which one thread
    // at a time calls (in order, under the source's lock; `splitter` checks it in debug builds);
    // `header` and `columns` are set by the first chunk, before any chunk holding data is handed
    // to `decode` (which asserts it), and never again.
    package let format = UsageLogFormat.litellm
    private var records: HeaderedCSV<Columns>
    private let file: String
    /// The file's interned name, for records' locations.
    private let name: LogName
    private let batchSize: Int
    private let mapping: FieldMapping
    private var header: CSVHeader?
    private var columns = Columns()
    private let splitter = ThreadOwner()

    /// Where the columns the importer reads are.
    private struct Columns: CSVColumns {
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

        package var positions: [Int?] {
            [requestID, spend, prompt, completion, start, model, modelGroup, provider, apiBase, user, endUser, teamID, status,
             metadata, requestTags]
        }

        package var headerProblem: String? {
            if start == nil { return "the CSV header has no startTime column; is this a LiteLLM_SpendLogs export?" }
            if model == nil && modelGroup == nil { return "the CSV header has no model column; is this a LiteLLM_SpendLogs export?" }
            return nil
        }
    }

    package init(file: LogFile, options: UsageLogOptions) {
        self.records = HeaderedCSV(file: file, limit: options.maxRecordBytes, mapping: options.mapping)
        self.file = file.path
        self.name = LogName(file.path)
        self.batchSize = options.batchSize
        self.mapping = options.mapping
    }

    package func nextChunk() throws(UsageLogError) -> LogChunk? {
        let use = splitter.enter()
        defer { splitter.exit(use) }
        guard !records.isAtEnd else { return nil }
        var chunk = LogChunk()
        let (name, batchSize) = (name, batchSize)
        try records.next(until: { chunk.csvRecords.count + chunk.problems.count >= batchSize }, header: { header, columns in
            (self.header, self.columns) = (header, columns)
        }, { record in
            chunk.append(record)
        }, malformed: { line, message in
            chunk.problems.append(MalformedRecord(location: RecordLocation(file: name, line: line), message: message))
        })
        return chunk.csvRecords.isEmpty && chunk.problems.isEmpty && records.isAtEnd ? nil : chunk
    }

    package func decode(_ chunk: LogChunk) -> RecordBatch {
        assert(chunk.csvRecords.isEmpty || header != nil, "a CSV chunk was decoded before its header was read")
        var batch = RecordBatch()
        batch.records.reserveCapacity(chunk.csvRecords.count)
        batch.malformed = chunk.problems
        let scratch = ScratchBuffer()
        var names = NameCache()
        chunk.forEachCSVRecord { record in decode(record, scratch: scratch, names: &names, into: &batch) }
        if !chunk.problems.isEmpty { batch.malformed.sort { $0.location < $1.location } }
        return batch
    }

    private func decode(_ record: CSVRecord, scratch: ScratchBuffer, names: inout NameCache, into batch: inout RecordBatch) {
        let location = RecordLocation(file: name, line: record.line)
        if let problem = CSVHeader.widthProblem(record, header: header) {
            batch.malformed.append(MalformedRecord(location: location, message: problem))
            return
        }
        guard let header else { return }
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
        return try header.mappedValue(path, in: record, scratch: scratch)
    }
}
