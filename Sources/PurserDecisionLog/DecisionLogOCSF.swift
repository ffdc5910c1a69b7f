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
            try scanner.members { scanner, key throws(JSONError) -> Bool in
                guard scanner.equals(key, "raw_data") else { return false }
                raw = Array(try scanner.string().utf8)
                return true
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
        let quote = UInt8(ascii: "\""), brace = UInt8(ascii: "{")
        // What is not read (another shape, a line cut short) is left out of the summary.
        try? scanner.members { scanner, key throws(JSONError) -> Bool in
            if scanner.equals(key, "seq") {
                summary.seq = try scanner.integer()
            } else if scanner.equals(key, "time") {
                summary.time = Timestamp(rfc3339: try scanner.string())
            } else if scanner.equals(key, "event") {
                summary.event = try scanner.string()
            } else if scanner.equals(key, "data"), scanner.peek() == brace {
                try scanner.members { scanner, key throws(JSONError) -> Bool in
                    if scanner.equals(key, "decision"), scanner.peek() == brace {
                        // purser serve's lines: the decision object, with its effect and id.
                        try scanner.members { scanner, key throws(JSONError) -> Bool in
                            try Self.readDecisionField(&scanner, key, into: &summary, quote: quote)
                        }
                        return true
                    }
                    if scanner.equals(key, "caller"), scanner.peek() == quote {
                        summary.caller = try scanner.string()
                        return true
                    }
                    // purser eval's lines: the effect and id beside the request.
                    return try Self.readDecisionField(&scanner, key, into: &summary, quote: quote)
                }
            } else {
                return false
            }
            return true
        }
        return summary
    }

    /// Reads `decision` (the effect) or `decision_id` into the summary when the member is one of
    /// them and a string; false otherwise (the caller skips it).
    private static func readDecisionField(_ scanner: inout JSONScanner, _ key: Range<Int>, into summary: inout Summary,
                                          quote: UInt8) throws(JSONError) -> Bool {
        guard scanner.peek() == quote else { return false }
        if scanner.equals(key, "decision") {
            summary.effect = try scanner.string()
        } else if scanner.equals(key, "decision_id") {
            summary.decisionID = try scanner.string()
        } else {
            return false
        }
        return true
    }
}

extension JSONScanner {
    /// Reads an object member by member: `read` reads the values it wants and returns true;
    /// every other member's value is skipped.
    mutating func members(_ read: (inout JSONScanner, Range<Int>) throws(JSONError) -> Bool) throws(JSONError) {
        try beginObject()
        var first = true
        while let key = try nextKey(first: &first) {
            if try !read(&self, key) { try skipValue() }
        }
    }
}
