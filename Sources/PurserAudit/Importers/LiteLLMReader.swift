import Purser
/// Opens a LiteLLM spend log: JSON lines when the first byte (after a byte
/// order mark and spaces) is `{`, otherwise the CSV export.
package enum LiteLLMReader {
    /// A reader for the file, JSON lines or CSV.
    package static func open(_ file: LogFile, _ options: UsageLogOptions) throws(UsageLogError) -> any UsageLogReader {
        let head = try file.peek(4096)
        if LogFormatDetection.firstByte(head) == UInt8(ascii: "{") {
            return LiteLLMJSONReader(file: file, options: options)
        }
        return LiteLLMCSVReader(file: file, options: options)
    }
}
