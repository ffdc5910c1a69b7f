import Purser
/// Recognises a usage-log format from its first bytes.
package enum LogFormatDetection {
    /// The first byte that is not a byte order mark or white space, if any.
    package static func firstByte(_ head: [UInt8]) -> UInt8? {
        var start = head.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        while start < head.count, head[start] == 0x20 || head[start] == 0x0A || head[start] == 0x0D || head[start] == 0x09 { start += 1 }
        return start < head.count ? head[start] : nil
    }

    /// The format of a log from its first bytes:
    ///
    /// - JSON (a value, JSON lines, or an array): the first object's top-level
    ///   keys decide. `"object": "page"` or `"bucket"` (or `data` with
    ///   `has_more`, or `results` with `start_time`, or `data` whose first
    ///   element is a bucket) is an OpenAI usage or costs page; `startTime`,
    ///   `call_type`, or `request_id` with `spend` is a LiteLLM spend log, and
    ///   so is an object whose `data` starts with such a row or that has `data`
    ///   and `total_pages` (a `/spend/logs/v2` page), or `users`, `models` and
    ///   `spend` (the summarized `/spend/logs`, which the reader rejects);
    ///   `model` with `timestamp` is Purser's own JSONL; `v`, `seq` and `event`
    ///   (with `prev` or `data`) is a decision log. When the first line
    ///   tells nothing, the next few lines are tried.
    /// - CSV: the header row decides. `ChargePeriodStart` or `BilledCost` is
    ///   FOCUS; `request_id` with `startTime` or `spend` is a LiteLLM export.
    package static func detect(_ head: [UInt8]) -> UsageLogFormat? {
        guard let first = firstByte(head) else { return nil }
        if first == UInt8(ascii: "{") || first == UInt8(ascii: "[") { return detectJSON(head) }
        return detectCSV(head)
    }

    private static func detectJSON(_ head: [UInt8]) -> UsageLogFormat? {
        head.withUnsafeBufferPointer { buffer in
            var start = buffer.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
            for _ in 0..<8 {
                if let format = classify(buffer, from: start) { return format }
                // The next line that starts an object.
                guard let newline = buffer[start...].firstIndex(of: 0x0A) else { return nil }
                start = newline + 1
            }
            return nil
        }
    }

    /// Classifies the object (or the first object of the array) at `start` by its top-level keys.
    private static func classify(_ buffer: UnsafeBufferPointer<UInt8>, from start: Int) -> UsageLogFormat? {
        var scanner = JSONScanner(buffer, from: start)
        if scanner.peek() == UInt8(ascii: "[") {
            do throws(JSONError) { try scanner.beginArray() } catch { return nil }
        }
        guard scanner.peek() == UInt8(ascii: "{") else { return nil }
        var inner: UsageLogFormat?
        let (keys, objectValue) = topLevelKeys(&scanner) { name, scanner in
            // A page may start with a long `data`: look at its first element, an
            // OpenAI bucket or a LiteLLM spend-log row.
            guard name == "data" else { return false }
            var probe = scanner
            do throws(JSONError) {
                try probe.beginArray()
                guard probe.peek() == UInt8(ascii: "{") else { return false }
            } catch {
                return false
            }
            let (keys, object) = topLevelKeys(&probe) { _, _ in false }
            if object == "bucket" || keys.contains("results") || keys.contains("start_time") {
                inner = .openaiUsage
            } else if isLiteLLMRow(keys) {
                inner = .litellm
            }
            return inner != nil
        }
        // A decision log line: {"v":1,"seq":N,"time":…,"event":…,"data":{…},"prev":…} (docs/decision-log.md).
        if keys.isSuperset(of: ["v", "seq", "event"]), keys.contains("prev") || keys.contains("data") { return .decisionLog }
        if let inner { return inner }
        if let objectValue, openAIObjects.contains(objectValue) { return .openaiUsage }
        if keys.contains("data") && keys.contains("has_more") || keys.contains("results") && keys.contains("start_time") {
            return .openaiUsage
        }
        // A /spend/logs/v2 page (possibly with no rows), a spend-log row, or a day of the summarized /spend/logs.
        if keys.contains("data") && keys.contains("total_pages") || isLiteLLMRow(keys)
            || keys.contains("users") && keys.contains("models") && keys.contains("spend") {
            return .litellm
        }
        if keys.contains("model") && keys.contains("timestamp") { return .purser }
        return nil
    }

    /// The `object` values of OpenAI organization pages, buckets and results.
    private static let openAIObjects: Set<String> = [
        "page", "bucket", "organization.usage.completions.result", "organization.usage.embeddings.result",
        "organization.costs.result",
    ]

    /// Whether top-level keys are those of a LiteLLM spend-log row.
    private static func isLiteLLMRow(_ keys: Set<String>) -> Bool {
        keys.contains("startTime") || keys.contains("call_type") || keys.contains("request_id") && keys.contains("spend")
    }

    /// How a LiteLLM log is written.
    package enum LiteLLMLayout {
        /// The body of a spend-log endpoint: a JSON array, a `/spend/logs/v2`
        /// page, or pretty-printed JSON (a value that does not end on its first line).
        case body
        /// JSON lines: one row per line.
        case lines
        /// The CSV export.
        case csv
    }

    /// The layout of a LiteLLM log from its first bytes: an array, an object
    /// alone on its first line (`{` then a newline: pretty-printed) or an object
    /// with a top-level `data` is a body; another object starts JSON lines.
    package static func liteLLMLayout(_ head: [UInt8]) -> LiteLLMLayout {
        var start = head.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        while start < head.count, head[start] == 0x20 || head[start] == 0x0A || head[start] == 0x0D || head[start] == 0x09 { start += 1 }
        guard start < head.count else { return .csv }
        if head[start] == UInt8(ascii: "[") { return .body }
        guard head[start] == UInt8(ascii: "{") else { return .csv }
        var next = start + 1
        while next < head.count, head[next] == 0x20 || head[next] == 0x09 || head[next] == 0x0D { next += 1 }
        if next < head.count, head[next] == 0x0A { return .body }
        let hasData = head.withUnsafeBufferPointer { buffer in
            var scanner = JSONScanner(buffer, from: start)
            return topLevelKeys(&scanner) { name, _ in name == "data" }.0.contains("data")
        }
        return hasData ? .body : .lines
    }

    /// The line of the first object of a LiteLLM body when it is a day of the
    /// summarized `GET /spend/logs` (`users`, `models`, `spend`, no `request_id`); nil otherwise.
    package static func daySummaryLine(_ head: [UInt8]) -> Int? {
        head.withUnsafeBufferPointer { buffer -> Int? in
            var scanner = JSONScanner(buffer, from: buffer.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0)
            if scanner.peek() == UInt8(ascii: "[") {
                do throws(JSONError) { try scanner.beginArray() } catch { return nil }
            }
            guard scanner.peek() == UInt8(ascii: "{") else { return nil }
            let begin = scanner.index
            let (keys, _) = topLevelKeys(&scanner) { _, _ in false }
            guard keys.contains("users") || keys.contains("models"), keys.contains("spend"), !keys.contains("request_id") else {
                return nil
            }
            var lines = LineCounter(buffer, firstLine: 1)
            return lines.line(at: begin)
        }
    }

    /// The keys of the object at the scanner (and its `object` value), as far as
    /// the head goes; `stop` may end the walk at a key (it sees the scanner at the key's value).
    private static func topLevelKeys(_ scanner: inout JSONScanner, stop: (String, JSONScanner) -> Bool) -> (Set<String>, String?) {
        var keys: Set<String> = []
        var objectValue: String?
        do throws(JSONError) {
            try scanner.beginObject()
            var first = true
            while let key = try scanner.nextKey(first: &first) {
                let name = try scanner.decodeString(key)
                keys.insert(name)
                if stop(name, scanner) { break }
                if name == "object", scanner.peek() == UInt8(ascii: "\"") {
                    objectValue = try scanner.string()
                } else {
                    try scanner.skipValue()
                }
            }
        } catch {
            // A head cut inside a large value still tells its first keys.
        }
        return (keys, objectValue)
    }

    private static func detectCSV(_ head: [UInt8]) -> UsageLogFormat? {
        var start = head.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        while start < head.count, head[start] == 0x0A || head[start] == 0x0D { start += 1 }
        let line = head[start...].prefix { $0 != 0x0A && $0 != 0x0D }
        let columns = Set(String(decoding: line, as: UTF8.self).split(separator: ",", omittingEmptySubsequences: false).map {
            String($0.filter { $0 != "\"" }).trimmingSpaces
        })
        if columns.contains("ChargePeriodStart") || columns.contains("BilledCost") { return .focus }
        if columns.contains("request_id") && (columns.contains("startTime") || columns.contains("start_time") || columns.contains("spend")) {
            return .litellm
        }
        return nil
    }
}
