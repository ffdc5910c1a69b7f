import Purser
import PurserYAML

/// One line of a decision log as the audit reads it (docs/decision-log.md, "Lines"): its
/// event, its time and where its `data` is. The audit reads the lines; it does not check the
/// hash chain or the signatures (`purser verify-log` does: docs/importers.md, "Decision logs (decision-log)").
package struct DecisionLogEntry {
    /// The events the audit tells apart (docs/importers.md, "Decision logs (decision-log)").
    package enum Event: Equatable {
        case authorize, settle, release, evaluate, invalidRequest, checkpoint, restart
        /// Any other event name.
        case other(String)
    }

    /// `event`.
    package let event: Event
    /// `time`.
    package let time: Timestamp
    /// Where `data` (an object) is in the line; nil for a checkpoint.
    package let data: Range<Int>?

    /// The fields a line may have: an event's, then a checkpoint's own.
    private static let fields: [StaticString] = ["v", "seq", "time", "event", "data", "prev", "key_id", "lines", "sig"]

    /// Reads one line (without its newline): `{"v":1,"seq":N,"time":"T","event":"E","data":{…},"prev":"H"}`,
    /// or a checkpoint (`key_id`, `lines`, `sig` instead of `data`). The error says what is wrong.
    package static func parse(_ line: UnsafeBufferPointer<UInt8>) throws(JSONError) -> DecisionLogEntry {
        var scanner = JSONScanner(line)
        let start = scanner.index
        try scanner.beginObject()
        var first = true
        var seen: UInt16 = 0
        var version: Int64?, time: Timestamp?, event: Event?, data: Range<Int>?
        while let key = try scanner.nextKey(first: &first) {
            guard let field = fields.firstIndex(where: { scanner.equals(key, $0) }) else {
                let name = excerpt((try? scanner.decodeString(key)) ?? "", limit: 64)
                throw JSONError("unexpected field \"\(name)\": a decision log line has v, seq, time, event, data and prev (docs/decision-log.md)",
                                at: key.lowerBound)
            }
            try RequestParser.once(&seen, 1 << UInt16(field), key, in: scanner, object: start)
            switch field {
            case 0: version = try scanner.integer()
            case 1: _ = try scanner.integer()
            case 2:
                let at = scanner.index
                let text = try scanner.string()
                guard let parsed = Timestamp(rfc3339: text) else {
                    throw JSONError("the time \"\(excerpt(text, limit: 40))\" is not an RFC 3339 time", at: at)
                }
                time = parsed
            case 3: event = Event(try scanner.rawString(), in: scanner)
            case 4:
                scanner.skipWhitespace()
                let at = scanner.index
                guard scanner.peek() == UInt8(ascii: "{") else { throw JSONError("\"data\" must be an object, found \(scanner.tokenDescription())", at: at) }
                try scanner.skipValue()
                data = at..<scanner.index
            default: try scanner.skipValue()  // prev, and a checkpoint's key_id, lines and sig
            }
        }
        try scanner.expectEnd()
        guard version == 1 else { throw JSONError("the line has no \"v\":1: not a decision log line of a version this purser reads", at: start) }
        guard seen & 0b10_0010 == 0b10_0010, let time, let event else {
            throw JSONError("the line lacks one of \"seq\", \"time\", \"event\", \"prev\"", at: start)
        }
        guard data != nil || event == .checkpoint else { throw JSONError("the \(event.name) line has no \"data\"", at: start) }
        return DecisionLogEntry(event: event, time: time, data: data)
    }

    /// A `decision_id` value: `d-` and 26 hex digits (docs/wire-formats.md, "Decisions").
    package static func decisionID(_ scanner: inout JSONScanner) throws(JSONError) -> DecisionID {
        let at = scanner.index
        let text = try scanner.string()
        guard let id = DecisionID(text) else { throw JSONError("decision_id \"\(excerpt(text, limit: 40))\" is not a decision id", at: at) }
        return id
    }

    /// Walks the object at the scanner: `body` sees each key with the scanner at its value, and
    /// returns whether it read the value (the others are skipped). Returns where the object starts.
    @discardableResult
    package static func fields(_ scanner: inout JSONScanner,
                               _ body: (Range<Int>, inout JSONScanner) throws(JSONError) -> Bool) throws(JSONError) -> Int {
        let start = scanner.index
        try scanner.beginObject()
        var first = true
        while let key = try scanner.nextKey(first: &first) {
            if try !body(key, &scanner) { try scanner.skipValue() }
        }
        return start
    }

    /// A scanner over the line's `data` object (up to its end).
    package func dataScanner(_ line: UnsafeBufferPointer<UInt8>) -> JSONScanner? {
        data.map { JSONScanner(UnsafeBufferPointer(rebasing: line[..<$0.upperBound]), from: $0.lowerBound) }
    }
}

extension DecisionLogEntry.Event {
    /// The event named by a string's raw bytes.
    init(_ range: Range<Int>, in scanner: JSONScanner) {
        if scanner.equals(range, "authorize") { self = .authorize }
        else if scanner.equals(range, "settle") { self = .settle }
        else if scanner.equals(range, "release") { self = .release }
        else if scanner.equals(range, "evaluate") { self = .evaluate }
        else if scanner.equals(range, "invalid-request") { self = .invalidRequest }
        else if scanner.equals(range, "checkpoint") { self = .checkpoint }
        else if scanner.equals(range, "restart") { self = .restart }
        else { self = .other((try? scanner.decodeString(range)) ?? "?") }
    }

    /// The name as the log writes it.
    package var name: String {
        switch self {
        case .authorize: "authorize"
        case .settle: "settle"
        case .release: "release"
        case .evaluate: "evaluate"
        case .invalidRequest: "invalid-request"
        case .checkpoint: "checkpoint"
        case .restart: "restart"
        case .other(let name): name
        }
    }
}

/// What an `authorize` (or `evaluate`) line's `data` says, as `purser serve` writes it:
/// `{"caller", "request", "decision"}` (docs/importers.md, "Decision logs (decision-log)").
package struct LoggedAuthorization {
    /// The request, when asked for and the data has one.
    package var request: Request?
    /// Whether the data is a decision alone (`purser eval --decision-log`), with no request.
    package var decisionOnly = false
    /// `decision.decision == "allow"`.
    package var allowed = false
    /// `decision.decision_id`.
    package var id: DecisionID?
    /// `decision.model`: the model the call was made to (rerouted, perhaps).
    package var model: String?
    /// `decision.region`.
    package var region: String?

    /// Reads the data; the request is decoded with `parser` only when `decodingRequest`.
    package static func read(_ scanner: inout JSONScanner, parser: inout RequestParser,
                             decodingRequest: Bool) throws(JSONError) -> LoggedAuthorization {
        var result = LoggedAuthorization()
        var sawDecision = false
        let start = try DecisionLogEntry.fields(&scanner) { (key: Range<Int>, scanner: inout JSONScanner) throws(JSONError) -> Bool in
            if decodingRequest, scanner.equals(key, "request"), scanner.peek() == UInt8(ascii: "{") {
                do throws(RequestError) {
                    result.request = try parser.decode(&scanner)
                } catch {
                    throw JSONError("data.request: \(error.message)", at: error.offset)
                }
            } else if scanner.equals(key, "decision"), scanner.peek() == UInt8(ascii: "{") {
                sawDecision = true
                try result.readDecision(&scanner)
            } else if scanner.equals(key, "decision"), scanner.peek() == UInt8(ascii: "\"") {
                // purser eval writes the decision itself as data: `decision` is the verdict.
                sawDecision = true
                result.decisionOnly = true
                result.allowed = try scanner.string() == "allow"
            } else {
                return false
            }
            return true
        }
        guard sawDecision else { throw JSONError("data has no \"decision\"", at: start) }
        if !result.decisionOnly, result.request == nil, decodingRequest {
            throw JSONError("data has no \"request\" object", at: start)
        }
        return result
    }

    /// Reads a decision object (docs/wire-formats.md, "Decisions"): the fields the audit uses.
    private mutating func readDecision(_ scanner: inout JSONScanner) throws(JSONError) {
        var verdict: String?
        var (id, model, region) = (DecisionID?.none, String?.none, String?.none)
        let start = try DecisionLogEntry.fields(&scanner) { (key: Range<Int>, scanner: inout JSONScanner) throws(JSONError) -> Bool in
            if scanner.equals(key, "decision") {
                verdict = try scanner.string()
            } else if scanner.equals(key, "decision_id") {
                id = try DecisionLogEntry.decisionID(&scanner)
            } else if scanner.equals(key, "model") {
                model = try scanner.string()
            } else if scanner.equals(key, "region") {
                if try !scanner.null() { region = try scanner.string() }
            } else {
                return false
            }
            return true
        }
        guard let verdict, verdict == "allow" || verdict == "deny" else { throw JSONError("decision.decision must be \"allow\" or \"deny\"", at: start) }
        allowed = verdict == "allow"
        guard id != nil else { throw JSONError("the decision has no \"decision_id\"", at: start) }
        guard !allowed || model != nil else { throw JSONError("the decision has no \"model\"", at: start) }
        (self.id, self.model, self.region) = (id, model, region)
    }
}

/// What a `settle` line's `data` says, as `purser serve` writes it:
/// `{"caller", "settle": {"decision_id", "usage", "cost"}, "result": {"decision_id", "outcome", "cost", "alerts"}}`.
package struct LoggedSettlement {
    /// The decision settled.
    package var id: DecisionID?
    /// `settle.usage`, when the body had one.
    package var usage: Usage?
    /// `result.cost`: the cost the ledger counted (nil when unpriced).
    package var cost: USD?
    /// Whether the ledger counted it: outcome `settled` or `settled_without_reservation`
    /// (not `already_settled`, not `denied`).
    package var counted = false

    /// Reads the data.
    package static func read(_ scanner: inout JSONScanner) throws(JSONError) -> LoggedSettlement {
        var result = LoggedSettlement()
        var outcome: String?
        let start = try DecisionLogEntry.fields(&scanner) { (key: Range<Int>, scanner: inout JSONScanner) throws(JSONError) -> Bool in
            guard scanner.equals(key, "settle") || scanner.equals(key, "result") else { return false }
            let isResult = scanner.equals(key, "result")
            try DecisionLogEntry.fields(&scanner) { (field: Range<Int>, scanner: inout JSONScanner) throws(JSONError) -> Bool in
                if scanner.equals(field, "decision_id") {
                    result.id = try DecisionLogEntry.decisionID(&scanner)
                } else if !isResult, scanner.equals(field, "usage") {
                    result.usage = try RequestParser.usage(&scanner)
                } else if isResult, scanner.equals(field, "outcome") {
                    outcome = try scanner.string()
                } else if isResult, scanner.equals(field, "cost") {
                    result.cost = try RequestParser.cost(&scanner)
                } else {
                    return false
                }
                return true
            }
            return true
        }
        guard result.id != nil, let outcome else { throw JSONError("a settle's data needs settle.decision_id and result.outcome", at: start) }
        result.counted = outcome == "settled" || outcome == "settled_without_reservation"
        return result
    }
}

/// What a `release` line's `data` says: `{"caller", "decision_id", "released"}`.
package struct LoggedRelease {
    /// The decision released.
    package var id: DecisionID?
    /// Whether a reservation was held and dropped (false: settled already, or unknown).
    package var released = false

    /// Reads the data.
    package static func read(_ scanner: inout JSONScanner) throws(JSONError) -> LoggedRelease {
        var result = LoggedRelease()
        let start = try DecisionLogEntry.fields(&scanner) { (key: Range<Int>, scanner: inout JSONScanner) throws(JSONError) -> Bool in
            if scanner.equals(key, "decision_id") {
                result.id = try DecisionLogEntry.decisionID(&scanner)
            } else if scanner.equals(key, "released") {
                result.released = try scanner.bool()
            } else {
                return false
            }
            return true
        }
        guard result.id != nil else { throw JSONError("a release's data has no \"decision_id\"", at: start) }
        return result
    }
}
