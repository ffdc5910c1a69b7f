/// Writes decisions as SPEC §4 JSON (snake_case), one object per call.
public enum DecisionEncoder {
    /// Appends a decision as one compact JSON object.
    public static func encode(_ decision: Decision, into json: inout JSONWriter) {
        json.object { json in
            json.field("decision", decision.decision.rawValue)
            json.field("decision_id", decision.id.description)
            json.field("request_id", decision.requestID)
            json.field("model", decision.model)
            json.field("region", decision.region)
            json.field("rerouted", decision.rerouted)
            json.key("cost")
            if let cost = decision.cost { json.usd(cost) } else { json.null() }
            json.field("violations", array: { json in
                for violation in decision.violations { encode(violation, into: &json) }
            })
            json.field("budgets", array: { json in
                for status in decision.budgets {
                    json.object { json in
                        json.field("id", status.id)
                        json.field("key", status.key)
                        json.field("window", status.window)
                        json.field("unit", status.unit.rawValue)
                        amount("limit", status.limit, status.unit, into: &json)
                        amount("spent", status.spent, status.unit, into: &json)
                        amount("reserved", status.reserved, status.unit, into: &json)
                        amount("remaining", status.remaining, status.unit, into: &json)
                    }
                }
            })
            json.field("alerts", array: { json in
                for alert in decision.alerts { encode(alert, into: &json) }
            })
            json.field("policy_revision", decision.policyRevision)
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
        encode(decision, into: &json)
        return json.text
    }
}
