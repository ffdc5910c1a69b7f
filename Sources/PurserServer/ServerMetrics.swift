import Prometheus
import Purser
import Synchronization

/// The server's Prometheus metrics (docs/api.md, "Metrics"), all named `purser_…`, in a
/// registry of this server's own: two servers in one process (the tests) never share counts.
final class ServerMetrics: Sendable {
    /// Where the metrics live; `GET /metrics` renders it.
    let registry: PrometheusCollectorRegistry

    private let allowed: [Endpoint: Counter]
    private let denied: [Endpoint: Counter]
    private let durations: [Endpoint: DurationHistogram]
    private let ledgerErrors: Counter
    private let ledgerUp: Gauge
    private let reloads: Counter
    private let reloadFailures: Counter
    private let policyLoadedAt: Gauge
    private let budgetGauges = Mutex<[String: Gauge]>([:])
    private let budgetSeriesDropped: Counter
    private let decisionLogErrors: Counter

    /// The most budget counters given a `purser_budget_used_ratio` series: keys can be per user,
    /// and a scrape must stay small.
    static let maximumBudgetSeries = 10_000

    /// The endpoints, as metric labels.
    enum Endpoint: String, CaseIterable, Sendable {
        case authorize, evaluate, settle, release, budgets, policy, reload
    }

    init() {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        var allowed: [Endpoint: Counter] = [:]
        var denied: [Endpoint: Counter] = [:]
        for endpoint in [Endpoint.authorize, .evaluate] {
            allowed[endpoint] = registry.makeCounter(descriptor: .init(metricName: "purser_decisions_total", unitName: "", helpText: "Decisions answered, by endpoint and decision."), labels: [("endpoint", endpoint.rawValue), ("decision", "allow")])
            denied[endpoint] = registry.makeCounter(descriptor: .init(metricName: "purser_decisions_total", unitName: "", helpText: "Decisions answered, by endpoint and decision."), labels: [("endpoint", endpoint.rawValue), ("decision", "deny")])
        }
        self.allowed = allowed
        self.denied = denied
        let buckets: [Duration] = [.microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
                                   .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(50), .milliseconds(250), .seconds(1)]
        var durations: [Endpoint: DurationHistogram] = [:]
        for endpoint in Endpoint.allCases {
            durations[endpoint] = registry.makeDurationHistogram(descriptor: .init(metricName: "purser_request_duration_seconds", unitName: "", helpText: "Time from a request's arrival to its answer, by endpoint."), labels: [("endpoint", endpoint.rawValue)], buckets: buckets)
        }
        self.durations = durations
        ledgerErrors = registry.makeCounter(descriptor: .init(metricName: "purser_ledger_errors_total", unitName: "", helpText: "Ledger calls that failed (the store unreachable or timing out)."))
        ledgerUp = registry.makeGauge(descriptor: .init(metricName: "purser_ledger_up", unitName: "", helpText: "1 when the last ledger call succeeded, 0 when it failed."))
        ledgerUp.set(Int64(1))
        reloads = registry.makeCounter(descriptor: .init(metricName: "purser_policy_reloads_total", unitName: "", helpText: "Policy reloads that replaced the policy."))
        reloadFailures = registry.makeCounter(descriptor: .init(metricName: "purser_policy_reload_failures_total", unitName: "", helpText: "Policy reloads refused; the last good policy stayed in force."))
        policyLoadedAt = registry.makeGauge(descriptor: .init(metricName: "purser_policy_loaded_timestamp_seconds", unitName: "", helpText: "When the policy in force was loaded (Unix time)."))
        decisionLogErrors = registry.makeCounter(descriptor: .init(metricName: "purser_decision_log_errors_total", unitName: "", helpText: "Events the decision log could not write."))
        budgetSeriesDropped = registry.makeCounter(descriptor: .init(metricName: "purser_budget_series_dropped_total", unitName: "", helpText: "Budget counters not given a purser_budget_used_ratio series (past the limit of series)."))
    }

    /// Counts a decision and its violations.
    func decided(_ decision: Decision, at endpoint: Endpoint) {
        (decision.isAllowed ? allowed : denied)[endpoint]?.increment()
        var ledgerFailed = false
        for violation in decision.violations {
            registry.makeCounter(descriptor: .init(metricName: "purser_violations_total", unitName: "", helpText: "Violations found in decisions, by rule, kind and effect."), labels: [("rule", violation.rule), ("kind", violation.kind.rawValue), ("effect", violation.effect.rawValue)]).increment()
            if violation.rule == "ledger-unavailable" { ledgerFailed = true }
        }
        // A decision that counted against budgets asked the ledger: its answer says whether it is up.
        if ledgerFailed { self.ledgerFailed() } else if !decision.counters.isEmpty { ledgerAnswered() }
    }

    /// Sets each current counter's use (spent and reserved over the cap), and drops the series
    /// of counters no longer current (a window that ended).
    func budgets(_ rows: [BudgetRows.Row]) {
        budgetGauges.withLock { gauges in
            var seen: Set<String> = []
            for row in rows {
                guard let limit = row.limit, limit > 0 else { continue }
                let name = row.counter.budget + "\u{0}" + row.counter.key + "\u{0}" + row.unit
                seen.insert(name)
                let gauge: Gauge
                if let existing = gauges[name] {
                    gauge = existing
                } else {
                    guard gauges.count < Self.maximumBudgetSeries else {
                        budgetSeriesDropped.increment()
                        continue
                    }
                    gauge = registry.makeGauge(descriptor: .init(metricName: "purser_budget_used_ratio", unitName: "",
                                                                 helpText: "Spent and reserved over the cap, per budget counter, in its current window."),
                                               labels: [("budget", row.counter.budget), ("key", row.counter.key), ("unit", row.unit)])
                    gauges[name] = gauge
                }
                gauge.set((Double(row.spent) + Double(row.reserved)) / Double(limit))
            }
            for (name, gauge) in gauges where !seen.contains(name) {
                registry.unregisterGauge(gauge)
                gauges[name] = nil
            }
        }
    }

    /// Records how long a call took.
    func took(_ duration: Duration, at endpoint: Endpoint) {
        durations[endpoint]?.record(duration)
    }

    /// A ledger call failed.
    func ledgerFailed() {
        ledgerErrors.increment()
        ledgerUp.set(Int64(0))
    }

    /// A ledger call succeeded.
    func ledgerAnswered() { ledgerUp.set(Int64(1)) }

    /// A reload replaced the policy (`loadedAt` in Unix seconds).
    func reloaded(at loadedAt: Int64) {
        reloads.increment()
        policyLoadedAt.set(loadedAt)
    }

    /// The policy was loaded at start.
    func loaded(at loadedAt: Int64) { policyLoadedAt.set(loadedAt) }

    /// The decision log could not take an event.
    func decisionLogFailed() { decisionLogErrors.increment() }

    /// A reload was refused.
    func reloadFailed() { reloadFailures.increment() }

    /// The Prometheus text exposition.
    func render() -> [UInt8] { registry.emitToBuffer() }
}
