import Purser
/// Opens a LiteLLM spend log: the body of a spend-log endpoint (a JSON array,
/// a `/spend/logs/v2` page, or any pretty-printed JSON) with
/// ``LiteLLMPageReader``, JSON lines with ``LiteLLMJSONReader``, otherwise the
/// CSV export.
package enum LiteLLMReader {
    /// A reader for the file: API body, JSON lines or CSV.
    package static func open(_ file: LogFile, _ options: UsageLogOptions) throws(UsageLogError) -> any UsageLogReader {
        let head = try file.peek(64 * 1024)
        switch LogFormatDetection.liteLLMLayout(head) {
        case .body:
            if let line = LogFormatDetection.daySummaryLine(head) {
                throw LiteLLMPageReader.summaryError(file: file.path, line: line)
            }
            return LiteLLMPageReader(file: file, options: options)
        case .lines: return LiteLLMJSONReader(file: file, options: options)
        case .csv: return LiteLLMCSVReader(file: file, options: options)
        }
    }
}
