import Foundation
import Purser

/// Writes a line to stderr (after flushing stdout, so the two stay in order).
func logError(_ message: String) {
    fflush(nil)
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// `$0.0156`, exact (Purser keeps money as nano-dollars, never as a Double).
func dollars(_ amount: USD?) -> String {
    amount.map { "$\($0)" } ?? "unpriced"
}

/// The call on one line: request → decision, model, region, cost, violations with effects.
func summaryLine(_ request: Request, _ result: CallResult) -> String {
    let decision = result.decision
    var line = "\(request.id ?? "-") \(request.team ?? "-")/\(request.environment ?? "-") "
        + "\(request.model)@\(request.region ?? "(any)") → \(decision.verdict.rawValue)"
    if decision.rerouted { line += " (rerouted)" }
    line += " \(decision.model)@\(decision.region ?? "(any)") est \(dollars(decision.cost))"
    switch result.outcome {
    case .denied: break
    case .completed(_, let settlement):
        line += ", settled \(dollars(settlement.cost))"
        if settlement.outcome != .settled { line += " (\(settlement.outcome))" }
    case .unrecorded: line += ", spend not recorded"
    case .failed(let error): line += ", \(error), released"
    }
    let violations = decision.violations.map { "\($0.rule):\($0.effect.rawValue)" }
    return line + " | " + (violations.isEmpty ? "no violations" : violations.joined(separator: ", "))
}

/// The details a gateway logs or returns to the client (e.g. in a 403 body).
func detailLines(_ result: CallResult) -> [String] {
    var lines: [String] = []
    for earlier in result.rateLimited {
        lines.append("429 from \(earlier.region ?? "(any)") under \(earlier.id): released, asked again with it in unavailable_regions")
    }
    for violation in result.decision.violations {
        var line = "\(violation.rule) [\(violation.kind.rawValue), \(violation.severity.rawValue), \(violation.effect.rawValue)"
        if let exception = violation.waivedBy { line += " by \(exception)" }
        line += "] \(violation.message)"
        if let source = violation.source { line += " (\(source))" }
        lines.append(line)
    }
    for alert in result.alerts {
        let used = alert.unit == .usd ? dollars(USD(nanos: alert.used)) : "\(alert.used) \(alert.unit.rawValue)"
        let limit = alert.unit == .usd ? dollars(USD(nanos: alert.limit)) : "\(alert.limit) \(alert.unit.rawValue)"
        lines.append("alert: \(alertLabel(alert)) in \(alert.window): \(used) of \(limit)")
    }
    return lines
}

/// The team daily and monthly counters and the org counter the decisions
/// touched, as the ledger holds them now.
func counterTable(_ decisions: [Decision], ledger: any Ledger) async throws(LedgerError) -> (lines: [String], reserved: USDTotal) {
    var seen: Set<CounterKey> = []
    var statuses: [BudgetStatus] = []
    for decision in decisions {
        for status in decision.budgets where status.unit == .usd && (status.id == "org-month" || status.id.hasPrefix("team."))
            && seen.insert(status.counter).inserted
        {
            statuses.append(status)
        }
    }
    statuses.sort { ($0.id, $0.key) < ($1.id, $1.key) }
    let states = try await ledger.read(statuses.map(\.counter))
    var lines = [row("budget", "key", "window", "spent", "reserved", "limit")]
    var reserved = USDTotal.zero
    for (status, state) in zip(statuses, states) {
        lines.append(row(status.id, status.key, status.window, dollars(USD(nanos: state.spent.usd)),
                         dollars(USD(nanos: state.reserved.usd)), dollars(USD(nanos: status.limit))))
        reserved += USD(nanos: state.reserved.usd)
    }
    return (lines, reserved)
}

private func row(_ budget: String, _ key: String, _ window: String, _ spent: String, _ reserved: String, _ limit: String) -> String {
    func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }
    return pad(budget, 25) + pad(key, 15) + pad(window, 12) + pad(spent, 12) + pad(reserved, 10) + limit
}
