import PurserCore

/// The decision log as OCSF, for a collector that takes OCSF (docs/decision-log.md, "OCSF"):
/// each line of the chain becomes one OCSF 1.8.0 **API Activity** event (class 6003), and the
/// chained line itself is the event's `raw_data`, so that `purser verify-log` checks the same
/// hash chain and signatures as in the JSON lines form.
///
/// Targets OCSF 1.8.0 (github.com/ocsf/ocsf-schema, tag `1.8.0`). Its required attributes:
/// `events/base_event.json` (`activity_id`, `category_uid`, `class_uid`, `metadata`,
/// `severity_id`, `time`, `type_uid`), `events/application/api_activity.json` (`actor`, `api`,
/// `src_endpoint`), `objects/api.json` (`operation`), `objects/metadata.json` (`product`,
/// `version`). The caller is the one `purser serve` authenticated (a token's name, or
/// `anonymous`), or `purser` for `purser eval`.
///
/// Enums: `activity_id` 1 Create (authorize: a reservation), 2 Read (evaluate), 3 Update
/// (settle), 4 Delete (release), 99 Other (checkpoint, restart, invalid-request); `type_uid` =
/// 600300 + activity_id; `severity_id` 1 Informational; `status_id` 2 Failure for a denied
/// decision, else 1 Success.
enum DecisionLogOCSF {
    static let schemaVersion = "1.8.0"
    static let classUID: Int64 = 6003
    static let categoryUID: Int64 = 6

    /// The parts of a chained line an OCSF event shows.
    private struct Summary {
        var seq: Int64 = 0
        var time: Timestamp?
        var event = ""
        var caller: String?
        var effect: String?
        var decisionID: String?
    }

    /// Wraps one chained line (without its newline) as an OCSF event, also without newline.
    static func wrap(_ line: [UInt8]) -> [UInt8] {
        let summary = line.withUnsafeBufferPointer { Self.summary($0) }
        let activity: Int64 = switch summary.event {
        case "authorize": 1
        case "evaluate": 2
        case "settle": 3
        case "release": 4
        default: 99
        }
        let caller = summary.caller ?? "purser"
        let json = JSONWriter(capacity: line.count + 512)
        json.object { json in
            json.field("class_uid", classUID)
            json.field("category_uid", categoryUID)
            json.field("activity_id", activity)
            json.field("type_uid", classUID * 100 + activity)
            json.field("severity_id", Int64(1))
            json.field("time", (summary.time?.nanoseconds ?? 0) / 1_000_000)
            json.field("status_id", Int64(summary.effect == "deny" ? 2 : 1))
            if let effect = summary.effect { json.field("status", effect == "deny" ? "Denied" : "Allowed") }
            json.field("actor", object: { json in
                json.field("app_name", "purser")
                json.field("user", object: { json in json.field("name", caller) })
            })
            json.field("api", object: { json in
                json.field("operation", summary.event)
                json.field("service", object: { json in json.field("name", "purser") })
            })
            json.field("src_endpoint", object: { json in json.field("name", caller) })
            json.field("metadata", object: { json in
                json.field("product", object: { json in
                    json.field("name", "Purser")
                    json.field("vendor_name", "Purser")
                })
                json.field("version", schemaVersion)
                json.field("log_name", "purser-decision-log")
                json.field("sequence", summary.seq)
                if let decisionID = summary.decisionID { json.field("uid", decisionID) }
            })
            json.field("raw_data", String(decoding: line, as: UTF8.self))
        }
        return json.withBytes { Array($0) }
    }

    /// The chained line inside an OCSF event (its `raw_data`), or nil when the line is not one.
    static func unwrap(_ line: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard line.starts(with: "{\"class_uid\":".utf8) else { return nil }
        var scanner = JSONScanner(line)
        var raw: [UInt8]?
        do throws(JSONError) {
            try scanner.beginObject()
            var first = true
            while let key = try scanner.nextKey(first: &first) {
                if scanner.equals(key, "raw_data") {
                    raw = Array(try scanner.decodeString(try scanner.rawString()).utf8)
                } else {
                    try scanner.skipValue()
                }
            }
            try scanner.expectEnd()
        } catch {
            return nil
        }
        return raw
    }

    /// Reads what the event shows from a line this log wrote (so well-formed; what cannot be
    /// read is left out).
    private static func summary(_ line: UnsafeBufferPointer<UInt8>) -> Summary {
        var summary = Summary()
        var scanner = JSONScanner(line)
        do throws(JSONError) {
            try scanner.beginObject()
            var first = true
            while let key = try scanner.nextKey(first: &first) {
                if scanner.equals(key, "seq") {
                    summary.seq = try scanner.integer()
                } else if scanner.equals(key, "time") {
                    summary.time = Timestamp(rfc3339: try scanner.decodeString(try scanner.rawString()))
                } else if scanner.equals(key, "event") {
                    summary.event = try scanner.decodeString(try scanner.rawString())
                } else if scanner.equals(key, "data"), scanner.peek() == UInt8(ascii: "{") {
                    try scanner.beginObject()
                    var firstData = true
                    while let dataKey = try scanner.nextKey(first: &firstData) {
                        if scanner.equals(dataKey, "caller"), scanner.peek() == UInt8(ascii: "\"") {
                            summary.caller = try scanner.decodeString(try scanner.rawString())
                        } else if scanner.equals(dataKey, "decision_id"), scanner.peek() == UInt8(ascii: "\"") {
                            summary.decisionID = try scanner.decodeString(try scanner.rawString())
                        } else if scanner.equals(dataKey, "decision"), scanner.peek() == UInt8(ascii: "\"") {
                            summary.effect = try scanner.decodeString(try scanner.rawString())  // purser eval's lines
                        } else if scanner.equals(dataKey, "decision"), scanner.peek() == UInt8(ascii: "{") {
                            try scanner.beginObject()
                            var firstDecision = true
                            while let decisionKey = try scanner.nextKey(first: &firstDecision) {
                                if scanner.equals(decisionKey, "decision"), scanner.peek() == UInt8(ascii: "\"") {
                                    summary.effect = try scanner.decodeString(try scanner.rawString())
                                } else if scanner.equals(decisionKey, "decision_id"), scanner.peek() == UInt8(ascii: "\"") {
                                    summary.decisionID = try scanner.decodeString(try scanner.rawString())
                                } else {
                                    try scanner.skipValue()
                                }
                            }
                        } else {
                            try scanner.skipValue()
                        }
                    }
                } else {
                    try scanner.skipValue()
                }
            }
        } catch {
            return summary
        }
        return summary
    }
}
