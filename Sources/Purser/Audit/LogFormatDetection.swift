/// Recognises a usage-log format from its first bytes.
enum LogFormatDetection {
    /// The first byte that is not a byte order mark or white space, if any.
    static func firstByte(_ head: [UInt8]) -> UInt8? {
        var start = head.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        while start < head.count, head[start] == 0x20 || head[start] == 0x0A || head[start] == 0x0D || head[start] == 0x09 { start += 1 }
        return start < head.count ? head[start] : nil
    }

    static func detect(_ head: [UInt8]) -> UsageLogFormat? {
        var start = 0
        if head.starts(with: [0xEF, 0xBB, 0xBF]) { start = 3 }
        while start < head.count, head[start] == 0x20 || head[start] == 0x0A || head[start] == 0x0D || head[start] == 0x09 { start += 1 }
        guard start < head.count else { return nil }
        let firstLine = head[start...].prefix { $0 != 0x0A }
        let text = String(decoding: firstLine.prefix(4096), as: UTF8.self)
        if head[start] == UInt8(ascii: "{") || head[start] == UInt8(ascii: "[") {
            if text.contains("\"object\"") && (text.contains("\"bucket\"") || text.contains("\"page\"")) || text.contains("organization.usage") {
                return .openaiUsage
            }
            if text.contains("\"startTime\"") || text.contains("\"spend\"") && text.contains("\"request_id\"") { return .litellm }
            return .purser
        }
        // CSV: look at the header row.
        if text.contains("ChargePeriodStart") || text.contains("BilledCost") { return .focus }
        if text.contains("request_id") && (text.contains("startTime") || text.contains("spend")) { return .litellm }
        return nil
    }
}

/// The readers for formats other than Purser's own (filled in by the importers).
enum ImporterRegistry {
    static let readers: [UsageLogFormat: @Sendable (LogFile, UsageLogOptions) throws(UsageLogError) -> any UsageLogReader] = [
        .litellm: { file, options throws(UsageLogError) in try LiteLLMReader.open(file, options) },
        .openaiUsage: { file, options in OpenAIUsageReader(file: file, options: options) },
        .focus: { file, options in FOCUSReader(file: file, options: options) },
    ]
}
