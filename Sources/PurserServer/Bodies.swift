import HTTPTypes
import Hummingbird
import NIOCore
import Purser
import PurserCore
import PurserPolicy
import PurserYAML

/// The body of `POST /v1/settle`: `{"decision_id": "d-…", "usage": {…}, "cost": 0.0123}`
/// (docs/api.md), read as strictly as a request: unknown or repeated fields are errors.
struct SettleBody {
    let id: DecisionID
    let usage: Usage
    let cost: USD?

    static let fields = ["decision_id", "usage", "cost"]

    static func decode(_ bytes: [UInt8]) throws(JSONError) -> SettleBody {
        try JSONScanner.scan(bytes) { (scanner: inout JSONScanner) throws(JSONError) -> SettleBody in
            var id: DecisionID?
            var usage = Usage()
            var cost: USD?
            var seen: UInt8 = 0
            let start = scanner.index
            try scanner.beginObject()
            var first = true
            while let key = try scanner.nextKey(first: &first) {
                if scanner.equals(key, "decision_id") {
                    try RequestParser.once(&seen, 1 << 0, key, in: scanner, object: start)
                    id = try decisionID(&scanner)
                } else if scanner.equals(key, "usage") {
                    try RequestParser.once(&seen, 1 << 1, key, in: scanner, object: start)
                    usage = try RequestParser.usage(&scanner)
                } else if scanner.equals(key, "cost") {
                    try RequestParser.once(&seen, 1 << 2, key, in: scanner, object: start)
                    cost = try RequestParser.cost(&scanner)
                } else {
                    throw unknown(key, in: scanner, among: fields)
                }
            }
            try scanner.expectEnd()
            guard let id else { throw JSONError("the body has no \"decision_id\"", at: start) }
            return SettleBody(id: id, usage: usage, cost: cost)
        }
    }

    /// The body of `POST /v1/release`: `{"decision_id": "d-…"}`.
    static func decodeRelease(_ bytes: [UInt8]) throws(JSONError) -> DecisionID {
        try JSONScanner.scan(bytes) { (scanner: inout JSONScanner) throws(JSONError) -> DecisionID in
            var id: DecisionID?
            var seen: UInt8 = 0
            let start = scanner.index
            try scanner.beginObject()
            var first = true
            while let key = try scanner.nextKey(first: &first) {
                guard scanner.equals(key, "decision_id") else { throw unknown(key, in: scanner, among: ["decision_id"]) }
                try RequestParser.once(&seen, 1, key, in: scanner, object: start)
                id = try decisionID(&scanner)
            }
            try scanner.expectEnd()
            guard let id else { throw JSONError("the body has no \"decision_id\"", at: start) }
            return id
        }
    }

    private static func decisionID(_ scanner: inout JSONScanner) throws(JSONError) -> DecisionID {
        let at = scanner.index
        guard scanner.peek() == UInt8(ascii: "\"") else {
            throw JSONError("decision_id must be a string such as \"d-4f1c…\", found \(scanner.tokenDescription())", at: at)
        }
        let text = try scanner.string()
        guard let id = DecisionID(text) else {
            throw JSONError("decision_id \"\(excerpt(text, limit: 40))\" is not a decision id (d- and 26 hexadecimal digits, as a decision's decision_id)", at: at)
        }
        return id
    }

    private static func unknown(_ key: Range<Int>, in scanner: JSONScanner, among fields: [String]) -> JSONError {
        let field = (try? scanner.decodeString(key)) ?? ""
        return JSONError("unknown field \"\(excerpt(field, limit: 64))\"\(TextMatching.didYouMean(field, among: fields))", at: key.lowerBound)
    }
}

/// Responses: JSON bodies with their status.
enum Reply {
    static func json(_ status: HTTPResponse.Status, _ body: [UInt8], headers: HTTPFields = [:]) -> Response {
        json(status, ByteBuffer(bytes: body), headers: headers)
    }

    static func json(_ status: HTTPResponse.Status, _ body: ByteBuffer, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: body))
    }

    static func json(_ status: HTTPResponse.Status, _ body: String, headers: HTTPFields = [:]) -> Response {
        json(status, Array(body.utf8), headers: headers)
    }

    /// `{"error": "…"}`.
    static func error(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) -> Response {
        json(status, "{\"error\":\(ServerJSON.quoted(message))}", headers: headers)
    }

    /// 400 for a body that is not what the endpoint reads: `{"error": …, "line": N, "column": C}`,
    /// as `purser eval` reports a malformed request.
    static func malformed(_ message: String, at offset: Int, in body: [UInt8]) -> Response {
        let mark = body.withUnsafeBufferPointer { YAMLMark(byteOffset: offset, in: $0) }
        return json(.badRequest, "{\"error\":\(ServerJSON.quoted(message)),\"line\":\(mark.line),\"column\":\(mark.column)}")
    }
}

/// The JSON of the answers that are not decisions.
enum ServerJSON {
    /// A string as a JSON literal.
    static func quoted(_ text: String) -> String {
        let json = JSONWriter(capacity: text.utf8.count + 8)
        json.string(text)
        return json.text
    }

    static func settlement(_ id: DecisionID, _ settlement: Enforcer.Settlement) -> [UInt8] {
        let json = JSONWriter(capacity: 256)
        json.object { json in
            json.field("decision_id", id.description)
            json.field("outcome", outcome(settlement.outcome))
            json.key("cost")
            if let cost = settlement.cost { json.usd(cost) } else { json.null() }
            json.field("alerts", array: { json in
                for alert in settlement.alerts { DecisionEncoder.encode(alert, into: &json) }
            })
        }
        return json.withBytes { Array($0) }
    }

    static func outcome(_ outcome: SettleOutcome) -> String {
        switch outcome {
        case .settled: "settled"
        case .settledWithoutReservation: "settled_without_reservation"
        case .alreadySettled: "already_settled"
        case .denied: "denied"
        }
    }

    static func policy(_ state: PolicyState.Snapshot) -> [UInt8] {
        let json = JSONWriter(capacity: 512)
        json.object { json in
            json.field("revision", state.revision)
            json.field("files", array: { json in state.files.forEach { json.string($0) } })
            json.field("loaded_at", state.loadedAt.description)
            json.field("reloads", state.reloads)
            json.field("reload_failures", state.failures)
            json.key("last_reload_error")
            if let failure = state.lastFailure { encode(failure, into: &json) } else { json.null() }
        }
        return json.withBytes { Array($0) }
    }

    static func refusedReload(_ failure: PolicyState.Failure, kept: String) -> [UInt8] {
        let json = JSONWriter(capacity: 512)
        json.object { json in
            json.field("reloaded", false)
            json.field("revision", kept)
            json.key("error")
            encode(failure, into: &json)
        }
        return json.withBytes { Array($0) }
    }

    private static func encode(_ failure: PolicyState.Failure, into json: inout JSONWriter) {
        json.object { json in
            json.field("at", failure.at.description)
            json.field("message", failure.message)
            json.field("diagnostics", array: { json in failure.diagnostics.forEach { json.string($0) } })
        }
    }
}
