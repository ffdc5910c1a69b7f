import Purser
/// Reads OpenAI organization usage: pages of `GET /v1/organization/usage/completions`
/// (`{"object": "page", "data": [buckets], "has_more", "next_page"}`), one
/// page, a JSON array of pages, or JSON lines of pages (a bucket on its own is
/// read too).
///
/// Each result of a bucket becomes one record at the bucket's `start_time`,
/// located at the line of the result object. A result aggregates
/// `num_model_requests` calls (kept in `tags.requests`): a request-count
/// budget counts it as one request. It has no cost (the policy prices it).
package final class OpenAIUsageReader: UsageLogReader {
    package let format = UsageLogFormat.openaiUsage
    /// The largest page read whole (results inside it are held to the record-size limit).
    package static let pageLimit = 64 << 20

    private var documents: JSONDocuments
    private let file: String
    /// The file's interned name, for records' locations.
    private let name: LogName
    private let batchSize: Int
    private let recordLimit: Int
    private let mapping: FieldMapping
    private var done = false

    package init(file: LogFile, options: UsageLogOptions) {
        self.documents = JSONDocuments(file: file, limit: max(options.maxRecordBytes, Self.pageLimit))
        self.file = file.path
        self.name = LogName(file.path)
        self.batchSize = options.batchSize
        self.recordLimit = options.maxRecordBytes
        self.mapping = options.mapping
    }

    package func next() throws(UsageLogError) -> RecordBatch? {
        guard !done else { return nil }
        var batch = RecordBatch()
        while batch.entryCount < batchSize {
            let more = try documents.next({ bytes, line in
                page(bytes, line: line, into: &batch)
            }, malformed: { line, message in
                batch.addMalformed(file, line, message)
            })
            if !more {
                done = true
                break
            }
        }
        return batch.isEmpty && done ? nil : batch
    }

    /// Reads a page (or a bucket) and adds a record per result.
    private func page(_ bytes: UnsafeBufferPointer<UInt8>, line: Int, into batch: inout RecordBatch) {
        var lines = LineCounter(bytes, firstLine: line)
        var scanner = JSONScanner(bytes)
        do throws(JSONError) {
            if Self.has(scanner, key: "results") {
                try bucket(&scanner, &lines, into: &batch)
                return
            }
            try scanner.beginObject()
            var first = true
            var sawData = false
            while let key = try scanner.nextKey(first: &first) {
                guard scanner.equals(key, "data") else {
                    try scanner.skipValue()
                    continue
                }
                sawData = true
                if try scanner.null() { continue }
                try scanner.beginArray()
                var firstBucket = true
                while try scanner.nextElement(first: &firstBucket) {
                    try bucket(&scanner, &lines, into: &batch)
                }
            }
            try scanner.expectEnd()
            if !sawData {
                batch.addMalformed(file, line, "the page has no \"data\"; is this a /v1/organization/usage/completions page?")
            }
        } catch {
            let at = lines.line(at: error.offset)
            batch.addMalformed(file, at, "column \(Self.column(bytes, error.offset)): \(error.message)")
        }
    }

    /// Reads a bucket: its `start_time`, then a record per entry of `results`.
    private func bucket(_ scanner: inout JSONScanner, _ lines: inout LineCounter, into batch: inout RecordBatch) throws(JSONError) {
        let bucketLine = lines.line(at: scanner.index)
        // start_time may follow results: find it first.
        var probe = scanner
        var start: Timestamp?
        var startProblem: String?
        try probe.beginObject()
        var first = true
        while let key = try probe.nextKey(first: &first) {
            if probe.equals(key, "start_time") {
                do throws(RecordProblem) {
                    start = try JSONValues.timestamp(&probe, "start_time")
                } catch {
                    startProblem = error.message
                }
            } else {
                try probe.skipValue()
            }
        }
        try scanner.beginObject()
        first = true
        while let key = try scanner.nextKey(first: &first) {
            guard scanner.equals(key, "results") else {
                try scanner.skipValue()
                continue
            }
            if try scanner.null() { continue }
            try scanner.beginArray()
            var firstResult = true
            while try scanner.nextElement(first: &firstResult) {
                _ = scanner.peek()
                let begin = scanner.index
                let line = lines.line(at: scanner.index)
                let location = RecordLocation(file: name, line: line)
                var item = scanner
                try scanner.skipValue()
                if scanner.index - begin > recordLimit {
                    batch.addMalformed(file, line, CSVRecords.tooLong(recordLimit))
                    continue
                }
                let range = UnsafeBufferPointer(rebasing: scanner.bytes[item.index..<scanner.index])
                batch.add(location, skipReason: "") { () throws(RecordProblem) in
                    guard let start else {
                        throw RecordProblem(startProblem ?? "the bucket at line \(bucketLine) has no start_time")
                    }
                    var request = try Self.result(&item, at: start)
                    if !mapping.rules.isEmpty {
                        let tags = request.tags
                        try mapping.apply(to: &request) { path in
                            let parts = path.components
                            if parts.count == 2, parts[0] == "tags" { return tags[parts[1]] }
                            return JSONValues.lookup(parts[...], in: range)
                        }
                    }
                    return request
                }
            }
        }
    }

    /// One `organization.usage.completions.result` as a request.
    ///
    /// OpenAI's `input_tokens` includes cached (and cache-write) tokens; Purser's excludes them.
    package static func result(_ scanner: inout JSONScanner, at start: Timestamp) throws(RecordProblem) -> Request {
        var input: Int64 = 0
        var cached: Int64 = 0
        var cacheWrite: Int64 = 0
        var output: Int64 = 0
        var model: String?
        var request = Request(model: "")
        request.timestamp = start
        do {
            guard scanner.peek() == UInt8(ascii: "{") else {
                throw RecordProblem("a result must be an object, found \(scanner.tokenDescription())")
            }
            try scanner.beginObject()
            var first = true
            while let key = try scanner.nextKey(first: &first) {
                if scanner.equals(key, "input_tokens") {
                    input = try JSONValues.count(&scanner, "input_tokens") ?? 0
                } else if scanner.equals(key, "input_cached_tokens") {
                    cached = try JSONValues.count(&scanner, "input_cached_tokens") ?? 0
                } else if scanner.equals(key, "input_cache_write_tokens") {
                    cacheWrite = try JSONValues.count(&scanner, "input_cache_write_tokens") ?? 0
                } else if scanner.equals(key, "output_tokens") {
                    output = try JSONValues.count(&scanner, "output_tokens") ?? 0
                } else if scanner.equals(key, "num_model_requests") {
                    if let count = try JSONValues.count(&scanner, "num_model_requests") { request.tags["requests"] = String(count) }
                } else if scanner.equals(key, "model") {
                    model = try JSONValues.name(&scanner, "model")
                } else if scanner.equals(key, "project_id") {
                    request.team = try JSONValues.name(&scanner, "project_id")
                } else if scanner.equals(key, "user_id") {
                    request.user = try JSONValues.name(&scanner, "user_id")
                } else if scanner.equals(key, "api_key_id") {
                    request.tags["api_key_id"] = try JSONValues.name(&scanner, "api_key_id")
                } else if scanner.equals(key, "batch") {
                    request.tags["batch"] = try JSONValues.name(&scanner, "batch")
                } else if scanner.equals(key, "service_tier") {
                    request.tags["service_tier"] = try JSONValues.name(&scanner, "service_tier")
                } else {
                    try scanner.skipValue()
                }
            }
        } catch {
            throw RecordProblem(from: error, prefix: "")
        }
        guard let model else {
            throw RecordProblem("the result has no model; fetch the usage with group_by=model")
        }
        request.model = model
        let uncached = input - cached - cacheWrite
        request.usage = Usage(inputTokens: max(uncached, 0), cachedInputTokens: cached, cacheWriteTokens: cacheWrite, outputTokens: output)
        return request
    }

    /// Whether the object at the scanner has a top-level key (a bucket has `results`).
    private static func has(_ scanner: JSONScanner, key name: StaticString) -> Bool {
        var probe = scanner
        do throws(JSONError) {
            try probe.beginObject()
            var first = true
            while let key = try probe.nextKey(first: &first) {
                if probe.equals(key, name) { return true }
                try probe.skipValue()
            }
        } catch {
            return false
        }
        return false
    }

    /// The 1-based column of a byte offset on its line.
    private static func column(_ bytes: UnsafeBufferPointer<UInt8>, _ offset: Int) -> Int {
        var start = min(offset, bytes.count)
        while start > 0, bytes[start - 1] != 0x0A { start -= 1 }
        return min(offset, bytes.count) - start + 1
    }
}
