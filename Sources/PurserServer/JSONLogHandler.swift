import Logging
import PurserCore
import Synchronization

/// A swift-log handler that writes one JSON object per line to standard error, for a log
/// collector: `{"time":…,"level":…,"label":…,"message":…, metadata…}` (docs/api.md, "Logs").
///
/// Messages and metadata are escaped as JSON strings, so a caller's text cannot forge a
/// line or reach the terminal as an escape sequence.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String
    private let clock: @Sendable () -> Timestamp

    /// The file descriptor lines go to, shared by every handler: one write per line, under a lock.
    private static let output = Mutex<Int32>(SystemCalls.standardError)

    /// A handler for a logger's label.
    public init(label: String, clock: @escaping @Sendable () -> Timestamp) {
        self.label = label
        self.clock = clock
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let json = JSONWriter(capacity: 256)
        json.object { json in
            json.field("time", clock().description)
            json.field("level", event.level.rawValue)
            json.field("label", label)
            json.field("message", event.message.description)
            var merged = metadata
            if let extra = event.metadata { merged.merge(extra) { $1 } }
            for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
                json.key(dynamic: key)
                Self.encode(value, into: &json)
            }
        }
        json.newline()
        Self.output.withLock { fd in
            json.withBytes { try? SystemCalls.writeAll(fd, $0) }
        }
    }

    private static func encode(_ value: Logger.Metadata.Value, into json: inout JSONWriter) {
        switch value {
        case .string(let text): json.string(text)
        case .stringConvertible(let item): json.string(item.description)
        case .array(let items): json.array { json in items.forEach { encode($0, into: &json) } }
        case .dictionary(let items):
            json.object { json in
                for (key, item) in items.sorted(by: { $0.key < $1.key }) {
                    json.key(dynamic: key)
                    encode(item, into: &json)
                }
            }
        }
    }
}
