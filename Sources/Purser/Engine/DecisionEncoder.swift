/// Writes decisions as SPEC §4 JSON (snake_case), one compact object per call.
///
/// An encoder keeps a small cache of window labels, so encoding a stream of
/// decisions formats each window once; use one encoder per thread.
public struct DecisionEncoder {
    private var labels: [LabelKey: [UInt8]] = [:]

    private struct LabelKey: Hashable {
        let period: BudgetPeriod
        let window: Int64
    }

    /// An encoder with an empty label cache.
    public init() {}

    /// Appends a decision as one compact JSON object.
    public mutating func encode(_ decision: Decision, into json: inout JSONWriter) {
        json.object { json in
            json.field("decision", decision.decision.rawValue)
            json.key("decision_id")
            let id = decision.id
            json.asciiString { bytes in
                bytes.append(UInt8(ascii: "d"))
                bytes.append(UInt8(ascii: "-"))
                DecisionEncoder.appendHex(id.prefix, digits: 16, to: &bytes)
                DecisionEncoder.appendHex(id.sequence, digits: 10, to: &bytes)
            }
            json.field("request_id", decision.requestID)
            json.field("model", decision.model)
            json.field("region", decision.region)
            json.field("rerouted", decision.rerouted)
            json.key("cost")
            if let cost = decision.cost { json.usd(cost) } else { json.null() }
            json.field("violations", array: { json in
                for violation in decision.violations { DecisionEncoder.encode(violation, into: &json) }
            })
            json.field("budgets", array: { json in
                for status in decision.budgets {
                    json.object { json in
                        json.field("id", status.id)
                        json.field("key", status.key)
                        json.key("window")
                        let label = label(status.counter)
                        json.asciiString { $0.append(contentsOf: label) }
                        json.field("unit", status.unit.rawValue)
                        DecisionEncoder.amount("limit", status.limit, status.unit, into: &json)
                        DecisionEncoder.amount("spent", status.spent, status.unit, into: &json)
                        DecisionEncoder.amount("reserved", status.reserved, status.unit, into: &json)
                        DecisionEncoder.amount("remaining", status.remaining, status.unit, into: &json)
                    }
                }
            })
            json.field("alerts", array: { json in
                for alert in decision.alerts { DecisionEncoder.encode(alert, into: &json) }
            })
            json.field("policy_revision", decision.policyRevision)
        }
    }

    private mutating func label(_ counter: CounterKey) -> [UInt8] {
        let key = LabelKey(period: counter.period, window: counter.window)
        if let cached = labels[key] { return cached }
        if labels.count > 4096 { labels.removeAll(keepingCapacity: true) }
        let label = Array(counter.windowLabel.utf8)
        labels[key] = label
        return label
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    private static func appendHex(_ value: UInt64, digits: Int, to bytes: inout [UInt8]) {
        var shift = (digits - 1) * 4
        while shift >= 0 {
            bytes.append(hexDigits[Int((value >> UInt64(shift)) & 15)])
            shift -= 4
        }
    }

    /// Appends a violation object (also used by audit reports).
    public static func encode(_ violation: Violation, into json: inout JSONWriter) {
        json.object { json in
            json.field("rule", violation.rule)
            json.field("kind", violation.kind.rawValue)
            json.field("effect", violation.effect.rawValue)
            json.field("severity", violation.severity.rawValue)
            json.field("message", violation.message)
            json.field("source", violation.source?.description)
            json.field("waived_by", violation.waivedBy)
        }
    }

    /// Appends an alert object.
    public static func encode(_ alert: BudgetAlert, into json: inout JSONWriter) {
        json.object { json in
            json.field("budget", alert.budget)
            json.field("key", alert.key)
            json.field("window", alert.window)
            json.key("threshold")
            json.raw(DecimalText.format(Int128(alert.threshold), scale: 6))
            json.field("unit", alert.unit.rawValue)
            amount("used", alert.used, alert.unit, into: &json)
            amount("limit", alert.limit, alert.unit, into: &json)
        }
    }

    private static func amount(_ name: StaticString, _ value: Int64, _ unit: BudgetStatus.Unit, into json: inout JSONWriter) {
        json.key(name)
        if unit == .usd { json.usd(USD(nanos: value)) } else { json.integer(value) }
    }

    /// A decision as a JSON string (a convenience).
    public static func json(_ decision: Decision) -> String {
        var json = JSONWriter()
        var encoder = DecisionEncoder()
        encoder.encode(decision, into: &json)
        return json.text
    }
}
