/// Opens a LiteLLM spend log: JSON lines when the first byte (after a byte
/// order mark and spaces) is `{`, otherwise the CSV export.
enum LiteLLMReader {
    /// A reader for the file, JSON lines or CSV.
    static func open(_ file: LogFile, _ options: UsageLogOptions) throws(UsageLogError) -> any UsageLogReader {
        let head = try file.peek(4096)
        if LogFormatDetection.firstByte(head) == UInt8(ascii: "{") {
            return LiteLLMJSONReader(file: file, options: options)
        }
        return LiteLLMCSVReader(file: file, options: options)
    }
}
