import Purser
/// Reads the bodies of LiteLLM's spend-log endpoints (docs/importers.md,
/// "LiteLLM API bodies"): the legacy `GET /spend/logs` (a JSON array of
/// `LiteLLM_SpendLogs` rows), `GET /spend/logs/v2` pages (`{"data": [rows],
/// "total", "page", "page_size", "total_pages"}`), pretty-printed or not, one
/// body or several in a file, and rows pretty-printed one after another.
///
/// Each row goes through the same decoding as a JSON line
/// (``LiteLLMJSONReader/request(_:mapping:)``) and is located at the line of
/// its opening brace. The per-day summary `/spend/logs` returns without
/// `summarize=false` has no rows: the file is rejected, saying so.
package final class LiteLLMPageReader: UsageLogReader {
    package let format = UsageLogFormat.litellm

    private var documents: JSONDocuments
    private let file: String
    /// The file's interned name, for records' locations.
    private let name: LogName
    private let batchSize: Int
    private let recordLimit: Int
    private let mapping: FieldMapping
    private var done = false
    /// Set when the file turns out not to hold rows.
    private var failure: UsageLogError?

    package init(file: LogFile, options: UsageLogOptions) {
        self.documents = JSONDocuments(file: file, limit: max(options.maxRecordBytes, OpenAIUsageReader.pageLimit))
        self.file = file.path
        self.name = LogName(file.path)
        self.batchSize = options.batchSize
        self.recordLimit = options.maxRecordBytes
        self.mapping = options.mapping
    }

    package func next() throws(UsageLogError) -> RecordBatch? {
        guard !done else { return nil }
        var batch = RecordBatch()
        do throws(UsageLogError) {
            done = try !documents.fill(&batch, size: batchSize, file: file, { bytes, line, batch in
                document(bytes, line: line, into: &batch)
            }, check: { () throws(UsageLogError) in
                if let failure { throw failure }
            })
        } catch {
            done = true
            throw error
        }
        return batch.isEmpty && done ? nil : batch
    }

    /// Reads one top-level value: a page (an object with `data`) or a row.
    private func document(_ bytes: UnsafeBufferPointer<UInt8>, line: Int, into batch: inout RecordBatch) {
        guard failure == nil else { return }
        var lines = LineCounter(bytes, firstLine: line)
        var scanner = JSONScanner(bytes)
        do throws(JSONError) {
            guard JSONValues.hasKey(scanner, "data") else {
                // A row (an element of the legacy array): checked whole first, so that a syntax error has its line.
                var probe = scanner
                try probe.skipValue()
                try probe.expectEnd()
                row(bytes, line: line, into: &batch)
                return
            }
            try scanner.beginObject()
            var first = true
            while let key = try scanner.nextKey(first: &first) {
                guard scanner.equals(key, "data") else {
                    try scanner.skipValue()
                    continue
                }
                if try scanner.null() { continue }
                guard scanner.peek() == UInt8(ascii: "[") else {
                    throw scanner.error("\"data\" must be a list of spend-log rows, found \(scanner.tokenDescription())")
                }
                try scanner.beginArray()
                var firstRow = true
                while try scanner.nextElement(first: &firstRow) {
                    _ = scanner.peek()
                    let begin = scanner.index
                    let rowLine = lines.line(at: begin)
                    try scanner.skipValue()
                    row(UnsafeBufferPointer(rebasing: bytes[begin..<scanner.index]), line: rowLine, into: &batch)
                    if failure != nil { return }
                }
            }
            try scanner.expectEnd()
        } catch {
            let at = lines.line(at: error.offset)
            batch.addMalformed(file, at, "column \(LineCounter.column(bytes, error.offset)): \(error.message)")
        }
    }

    /// Reads one spend-log row (valid JSON) into a record, a skip or a malformed entry.
    private func row(_ bytes: UnsafeBufferPointer<UInt8>, line: Int, into batch: inout RecordBatch) {
        guard bytes.count <= recordLimit else {
            batch.addMalformed(file, line, CSVRecords.tooLong(recordLimit))
            return
        }
        let location = RecordLocation(file: name, line: line)
        do throws(RecordProblem) {
            var scanner = JSONScanner(bytes)
            if let request = try LiteLLMJSONReader.request(&scanner, mapping: mapping) {
                batch.records.append(UsageRecord(request: request, location: location))
            } else {
                batch.skipped[LiteLLMMapping.skippedFailure, default: 0] += 1
            }
        } catch {
            if Self.isDaySummary(JSONScanner(bytes)) {
                failure = Self.summaryError(file: file, line: line)
                return
            }
            batch.malformed.append(MalformedRecord(location: location, message: error.message))
        }
    }

    /// Whether the object at the scanner is one day of the summarized `/spend/logs`
    /// body: `users`, `models` and `spend` by day, and no `request_id`.
    package static func isDaySummary(_ scanner: JSONScanner) -> Bool {
        (JSONValues.hasKey(scanner, "users") || JSONValues.hasKey(scanner, "models")) && !JSONValues.hasKey(scanner, "request_id")
    }

    /// The error for a summarized body, located at its first day.
    package static func summaryError(file: String, line: Int) -> UsageLogError {
        UsageLogError("line \(line): this is the summarized body of LiteLLM's GET /spend/logs (spend per day with its users "
            + "and models), not spend-log rows; ask for rows with summarize=false, or use GET /spend/logs/v2", file: file)
    }
}
