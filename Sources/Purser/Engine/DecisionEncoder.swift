import PurserCore
import PurserPolicy
/// Writes decisions as JSON (docs/wire-formats.md, "Decisions"), one compact object per call.
///
/// An encoder keeps a small cache of window labels, so encoding a stream of
/// decisions formats each window once; use one encoder per thread. The cache starts with
/// the second decision: an encoder made for one decision (`purser serve` makes one per
/// call) would build and free a dictionary for labels it never reads again.
public struct DecisionEncoder {
    private var labels: [LabelKey: [UInt8]] = [:]
    private var encoded = 0

    private struct LabelKey: Hashable {
        package let period: BudgetPeriod
        package let window: Int64
    }

    /// An encoder with an empty label cache.
    package init() {}

    /// Appends a decision as one compact JSON object.
    ///
    /// Written as straight-line code with literal fragments (no nested
    /// closures, no intermediate status objects): `purser eval` encodes
    /// hundreds of thousands of these a second.
    package mutating func encode(_ decision: Decision, into json: inout JSONWriter) {
        encoded &+= 1
        json.beginRawValue()
        json.appendStatic(decision.verdict == .allow ? "{\"decision\":\"allow\",\"decision_id\":\"d-" : "{\"decision\":\"deny\",\"decision_id\":\"d-")
        DecisionEncoder.appendHex(decision.id.prefix, digits: 16, to: json)
        DecisionEncoder.appendHex(decision.id.sequence, digits: 10, to: json)
        json.appendStatic("\",\"request_id\":")
        json.appendOptionalString(decision.requestID)
        json.appendStatic(",\"model\":")
        json.appendEscaped(decision.model)
        json.appendStatic(",\"region\":")
        json.appendOptionalString(decision.region)
        json.appendStatic(decision.rerouted ? ",\"rerouted\":true,\"cost\":" : ",\"rerouted\":false,\"cost\":")
        if let cost = decision.cost { json.appendNanos(cost.nanos) } else { json.appendStatic("null") }
        json.appendStatic(",\"violations\":[")
        for (index, violation) in decision.violations.enumerated() {
            if index > 0 { json.append(UInt8(ascii: ",")) }
            DecisionEncoder.appendViolation(violation, to: json)
        }
        json.appendStatic("],\"budgets\":[")
        var first = true
        for (offset, entry) in decision.counters.enumerated() {
            let state = offset < decision.states.count ? decision.states[offset] : CounterState()
            let label = label(entry.counter)
            if let usd = entry.limits.usd {
                appendBudget(entry.counter, label, "usd", usd.nanos, state.spent.usd, state.reserved.usd, usd: true, first: &first, to: json)
            }
            if let tokens = entry.limits.tokens {
                appendBudget(entry.counter, label, "tokens", tokens, state.spent.tokens, state.reserved.tokens, usd: false, first: &first, to: json)
            }
            if let requests = entry.limits.requests {
                appendBudget(entry.counter, label, "requests", requests, state.spent.requests, state.reserved.requests, usd: false, first: &first, to: json)
            }
        }
        json.appendStatic("],\"alerts\":[")
        for (index, alert) in decision.alerts.enumerated() {
            if index > 0 { json.append(UInt8(ascii: ",")) }
            // A writer of its own: `json` has been written raw so far, and its object
            // bookkeeping would put a separator before the alert (alerts are rare).
            var nested = JSONWriter()
            DecisionEncoder.encode(alert, into: &nested)
            nested.withBytes { json.append($0) }
        }
        json.appendStatic("],\"policy_revision\":")
        json.appendEscaped(decision.policyRevision)
        json.append(UInt8(ascii: "}"))
    }

    private func appendBudget(_ counter: CounterKey, _ label: [UInt8], _ unit: StaticString, _ limit: Int64, _ spent: Int64,
                              _ reserved: Int64, usd: Bool, first: inout Bool, to json: JSONWriter)
    {
        json.appendStatic(first ? "{\"id\":" : ",{\"id\":")
        first = false
        json.appendEscaped(counter.budget)
        json.appendStatic(",\"key\":")
        json.appendEscaped(counter.key)
        json.appendStatic(",\"window\":\"")
        json.appendRaw(label)
        json.appendStatic("\",\"unit\":\"")
        json.appendStatic(unit)
        json.appendStatic("\",\"limit\":")
        amount(limit, usd, json)
        json.appendStatic(",\"spent\":")
        amount(spent, usd, json)
        json.appendStatic(",\"reserved\":")
        amount(reserved, usd, json)
        json.appendStatic(",\"remaining\":")
        amount(BudgetStatus.remaining(limit: limit, spent: spent, reserved: reserved), usd, json)
        json.append(UInt8(ascii: "}"))
    }

    @inline(__always)
    private func amount(_ value: Int64, _ usd: Bool, _ json: JSONWriter) {
        if usd { json.appendNanos(value) } else { json.appendInteger(value) }
    }

    private static func appendViolation(_ violation: Violation, to json: JSONWriter) {
        json.appendStatic("{\"rule\":")
        json.appendEscaped(violation.rule)
        json.appendStatic(",\"kind\":\"")
        json.appendASCII(violation.kind.rawValue)
        json.appendStatic("\",\"effect\":\"")
        json.appendASCII(violation.effect.rawValue)
        json.appendStatic("\",\"severity\":\"")
        json.appendASCII(violation.severity.rawValue)
        json.appendStatic("\",\"message\":")
        json.appendEscaped(violation.message)
        json.appendStatic(",\"source\":")
        json.appendOptionalString(violation.source?.description)
        json.appendStatic(",\"waived_by\":")
        json.appendOptionalString(violation.waivedBy)
        json.append(UInt8(ascii: "}"))
    }

    private mutating func label(_ counter: CounterKey) -> [UInt8] {
        guard encoded > 1 else { return Array(counter.windowLabel.utf8) }
        let key = LabelKey(period: counter.period, window: counter.window)
        if let cached = labels[key] { return cached }
        if labels.count > 4096 { labels.removeAll(keepingCapacity: true) }
        let label = Array(counter.windowLabel.utf8)
        labels[key] = label
        return label
    }

    private static func appendHex(_ value: UInt64, digits: Int, to writer: JSONWriter) {
        writer.reserve(digits)
        var shift = (digits - 1) * 4
        while shift >= 0 {
            writer.append(JSONWriter.hexDigit(UInt8(truncatingIfNeeded: (value >> UInt64(shift)) & 15)))
            shift -= 4
        }
    }

    /// Appends a violation object (also used by audit reports).
    package static func encode(_ violation: Violation, into json: inout JSONWriter) {
        json.beginRawValue()
        appendViolation(violation, to: json)
    }

    /// Appends an alert object.
    package static func encode(_ alert: BudgetAlert, into json: inout JSONWriter) {
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
