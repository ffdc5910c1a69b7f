import Purser
/// Reads LiteLLM spend logs written as JSON lines: one `LiteLLM_SpendLogs`
/// row (or `StandardLoggingPayload`) per line. `metadata` and `request_tags`
/// may be JSON values or strings holding JSON, as LiteLLM writes them both ways.
package final class LiteLLMJSONReader: UsageLogReader {
    package let format = UsageLogFormat.litellm
    private var lines: LineChunks
    private let file: String
    /// The file's interned name, for records' locations.
    private let name: LogName
    private let batchSize: Int
    private let mapping: FieldMapping
    private var done = false

    /// The record-size limit (for messages).
    private let limit: Int

    package init(file: LogFile, options: UsageLogOptions) {
        self.lines = LineChunks(file: file, limit: options.maxRecordBytes)
        self.limit = options.maxRecordBytes
        self.file = file.path
        self.name = LogName(file.path)
        self.batchSize = options.batchSize
        self.mapping = options.mapping
    }

    package func next() throws(UsageLogError) -> RecordBatch? {
        guard !done else { return nil }
        var batch = RecordBatch()
        batch.records.reserveCapacity(batchSize)
        while batch.entryCount < batchSize {
            let more = try lines.next({ line in
                decode(line.bytes, number: line.number, into: &batch)
            }, tooLong: { number in
                batch.addMalformed(file, number, CSVRecords.tooLong(limit))
            })
            if !more {
                done = true
                break
            }
        }
        return batch.isEmpty && done ? nil : batch
    }

    private func decode(_ bytes: ArraySlice<UInt8>, number: Int, into batch: inout RecordBatch) {
        let bytes = number == 1 && bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? bytes.dropFirst(3) : bytes
        JSONScanner.scan(bytes) { scanner in
            guard scanner.peek() != nil else { return }  // blank line
            batch.add(RecordLocation(file: name, line: number), skipReason: LiteLLMMapping.skippedFailure) { () throws(RecordProblem) in
                try Self.request(&scanner, mapping: mapping)
            }
        }
    }

    /// The request for the spend-log object that fills the scanner's bytes (nil when
    /// the row is skipped), with the `--map` rules applied.
    package static func request(_ scanner: inout JSONScanner, mapping: FieldMapping) throws(RecordProblem) -> Request? {
        let bytes = scanner.bytes
        let entry = try Self.entry(&scanner)
        guard var request = try LiteLLMMapping.request(entry) else { return nil }
        if !mapping.rules.isEmpty {
            let tags = request.tags
            try mapping.apply(to: &request) { path in
                let parts = path.components
                if parts.count == 2, parts[0] == "tags" { return tags[parts[1]] }
                return JSONValues.lookup(parts[...], in: bytes)
            }
        }
        return request
    }

    /// Reads one spend-log object; unknown keys are skipped.
    package static func entry(_ scanner: inout JSONScanner) throws(RecordProblem) -> LiteLLMEntry {
        var entry = LiteLLMEntry()
        do {
            guard scanner.peek() == UInt8(ascii: "{") else {
                throw RecordProblem("a LiteLLM spend-log line must be a JSON object, found \(scanner.tokenDescription())")
            }
            try scanner.beginObject()
            var first = true
            while let key = try scanner.nextKey(first: &first) {
                if scanner.equals(key, "request_id") || scanner.equals(key, "id") {
                    entry.requestID = try JSONValues.name(&scanner, "request_id") ?? entry.requestID
                } else if scanner.equals(key, "spend") || scanner.equals(key, "response_cost") {
                    entry.spend = try JSONValues.usd(&scanner, "spend") ?? entry.spend
                } else if scanner.equals(key, "prompt_tokens") {
                    entry.promptTokens = try JSONValues.count(&scanner, "prompt_tokens") ?? 0
                } else if scanner.equals(key, "completion_tokens") {
                    entry.completionTokens = try JSONValues.count(&scanner, "completion_tokens") ?? 0
                } else if scanner.equals(key, "startTime") || scanner.equals(key, "start_time") {
                    entry.startTime = try JSONValues.timestamp(&scanner, "startTime")
                } else if scanner.equals(key, "model") {
                    entry.model = try JSONValues.name(&scanner, "model")
                } else if scanner.equals(key, "model_group") {
                    entry.modelGroup = try JSONValues.name(&scanner, "model_group")
                } else if scanner.equals(key, "api_base") {
                    entry.apiBase = try JSONValues.name(&scanner, "api_base")
                } else if scanner.equals(key, "custom_llm_provider") {
                    entry.provider = try JSONValues.name(&scanner, "custom_llm_provider")
                } else if scanner.equals(key, "user") {
                    entry.user = try JSONValues.name(&scanner, "user")
                } else if scanner.equals(key, "end_user") {
                    entry.endUser = try JSONValues.name(&scanner, "end_user")
                } else if scanner.equals(key, "team_id") {
                    entry.teamID = try JSONValues.name(&scanner, "team_id")
                } else if scanner.equals(key, "status") {
                    entry.status = try JSONValues.name(&scanner, "status")
                } else if scanner.equals(key, "metadata") {
                    entry.metadata = try LiteLLMMetadata.read(&scanner)
                } else if scanner.equals(key, "request_tags") {
                    var tags = Tags()
                    if try JSONValues.tags(&scanner, "request_tags", into: &tags) { entry.requestTags = tags }
                } else {
                    try scanner.skipValue()
                }
            }
            try scanner.expectEnd()
        } catch let error as JSONError {
            throw error.problem
        } catch {
            throw RecordProblem(from: error, prefix: "")
        }
        return entry
    }
}
