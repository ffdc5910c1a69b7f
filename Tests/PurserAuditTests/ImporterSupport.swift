import Foundation
import Testing
import PurserAudit
import Purser
import PurserTestSupport

/// Everything a reader produced for one file.
struct Imported {
    var records: [UsageRecord] = []
    var malformed: [MalformedRecord] = []
    var skipped: [String: Int] = [:]

    /// The malformed entries' lines.
    var malformedLines: [Int] { malformed.map(\.location.line) }
    /// The records' lines.
    var lines: [Int] { records.map(\.location.line) }
}

/// Writes `content` to a file in a fresh temporary directory and reads it with `UsageLogs.open`.
func importLog(_ content: String, name: String = "log", format: UsageLogFormat = .auto, maps: [String] = [],
               maxRecordBytes: Int = 1 << 20, batchSize: Int = 16_384) throws -> Imported {
    try importLog(bytes: Array(content.utf8), name: name, format: format, maps: maps, maxRecordBytes: maxRecordBytes, batchSize: batchSize)
}

/// Writes raw bytes to a temporary file and reads them.
func importLog(bytes: [UInt8], name: String = "log", format: UsageLogFormat = .auto, maps: [String] = [],
               maxRecordBytes: Int = 1 << 20, batchSize: Int = 16_384) throws -> Imported {
    let directory = try temporaryDirectory()
    defer { cleanup(directory) }
    let path = directory + "/" + name
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return try importFile(path, format: format, maps: maps, maxRecordBytes: maxRecordBytes, batchSize: batchSize)
}

/// Reads a file to the end.
func importFile(_ path: String, format: UsageLogFormat = .auto, maps: [String] = [], maxRecordBytes: Int = 1 << 20,
                batchSize: Int = 16_384) throws -> Imported {
    var options = UsageLogOptions()
    options.format = format
    options.maxRecordBytes = maxRecordBytes
    options.batchSize = batchSize
    for rule in maps { try options.mapping.add(rule) }
    let reader = try UsageLogs.open(path, options: options)
    var result = Imported()
    while let batch = try reader.next() {
        result.records += batch.records
        result.malformed += batch.malformed
        result.skipped.merge(batch.skipped, uniquingKeysWith: +)
    }
    return result
}

/// A CSV line of fields, quoting where needed.
func csvLine(_ fields: [String]) -> String {
    fields.map { field in
        field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
            ? "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : field
    }.joined(separator: ",")
}

/// LiteLLM_SpendLogs rows for tests.
enum LiteLLMFixture {
    static let columns = ["request_id", "call_type", "api_key", "spend", "total_tokens", "prompt_tokens", "completion_tokens",
                          "startTime", "endTime", "completionStartTime", "model", "model_id", "model_group", "custom_llm_provider",
                          "api_base", "user", "metadata", "cache_hit", "cache_key", "request_tags", "team_id", "end_user",
                          "requester_ip_address", "messages", "response", "status"]

    /// One row's values by column; unspecified columns are empty.
    static func row(_ values: [String: String]) -> [String] {
        columns.map { values[$0] ?? "" }
    }

    /// A typical successful row.
    static func values(id: String = "r-1", spend: String = "0.0123", prompt: String = "1000", completion: String = "200",
                       start: String = "2026-11-22 10:00:00.123456", model: String = "anthropic/claude-sonnet-4-5",
                       provider: String = "anthropic", team: String = "payments", tags: String = "[\"env:production\", \"project:checkout\"]",
                       metadata: String = "{\"user_api_key_team_alias\": \"payments-alias\", \"additional_usage_values\": {\"cache_read_input_tokens\": 300, \"cache_creation_input_tokens\": 100}}",
                       status: String = "success", endUser: String = "alice") -> [String: String] {
        ["request_id": id, "call_type": "acompletion", "api_key": "hash", "spend": spend, "prompt_tokens": prompt,
         "completion_tokens": completion, "total_tokens": "0", "startTime": start, "model": model, "model_group": "group",
         "custom_llm_provider": provider, "metadata": metadata, "request_tags": tags, "team_id": team, "end_user": endUser,
         "status": status, "messages": "{}", "response": "{}"]
    }

    /// A CSV export with these rows.
    static func csv(_ rows: [[String: String]], lineEnd: String = "\n") -> String {
        ([csvLine(columns)] + rows.map { csvLine(row($0)) }).joined(separator: lineEnd) + lineEnd
    }

    /// One JSON line with these values (numbers for the numeric columns, JSON for metadata and tags).
    static func jsonLine(_ values: [String: String]) -> String {
        let numeric: Set<String> = ["spend", "prompt_tokens", "completion_tokens", "total_tokens"]
        let json: Set<String> = ["metadata", "request_tags", "messages", "response"]
        let fields = columns.compactMap { column -> String? in
            guard let value = values[column] else { return nil }
            let encoded = numeric.contains(column) || json.contains(column) ? value : "\"\(value)\""
            return "\"\(column)\": \(encoded)"
        }
        return "{" + fields.joined(separator: ", ") + "}"
    }
}
