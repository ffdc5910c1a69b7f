import PurserCore
import PurserPolicy
import Synchronization

/// The gateway's entry point: decisions for requests, with budgets kept in a ledger.
///
/// ```swift
/// let enforcer = try Enforcer(policy: PolicySet.load(paths: ["policies"]).policy!)
/// let decision = enforcer.authorize(Request(team: "payments", environment: "production",
///                                          model: "claude-sonnet-4-5", usage: Usage(inputTokens: 1200, outputTokens: 800)))
/// guard decision.isAllowed else { return reject(decision.violations) }
/// // … call decision.model in decision.region …
/// try enforcer.settle(decision, usage: actualUsage)
/// ```
///
/// Every method is safe to call from any thread. `authorize` checks and
/// reserves budget atomically in the ledger, so concurrent requests never
/// overspend a hard cap.
public final class Enforcer: Sendable {
    private let current: Mutex<CompiledPolicy>
    /// Where spend is kept.
    public let ledger: any Ledger
    /// Where "now" comes from.
    public let clock: any PurserClock
    private let idPrefix: UInt64
    private let sequence = Atomic<UInt64>(0)

    /// Creates an enforcer over a compiled policy.
    public init(policy: CompiledPolicy, ledger: any Ledger = InMemoryLedger(), clock: any PurserClock = SystemClock()) {
        current = Mutex(policy)
        self.ledger = ledger
        self.clock = clock
        idPrefix = UInt64.random(in: 1...UInt64.max)
    }

    /// Compiles a policy and creates an enforcer over it.
    public convenience init(policy: PolicySet, ledger: any Ledger = InMemoryLedger(), clock: any PurserClock = SystemClock()) throws(PolicyCompileError) {
        self.init(policy: try CompiledPolicy(policy), ledger: ledger, clock: clock)
    }

    /// The policy in force.
    public var policy: CompiledPolicy { current.withLock { $0 } }

    /// Replaces the policy atomically. Decisions already running finish on the old one.
    public func reload(_ policy: PolicySet) throws(PolicyCompileError) {
        let compiled = try CompiledPolicy(policy)
        current.withLock { $0 = compiled }
    }

    /// Loads policy files and, only if they are valid, replaces the policy.
    /// An invalid policy never replaces a valid one; the result says why.
    @discardableResult
    public func reload(paths: [String], options: PolicyLoadOptions = PolicyLoadOptions()) -> PolicyLoadResult {
        let result = PolicySet.load(paths: paths, options: options)
        if let policy = result.policy {
            do {
                try reload(policy)
            } catch {
                let diagnostic = Diagnostic(.invalidValue, error.message, at: SourceLocation(file: result.files.first ?? "."))
                return PolicyLoadResult(policy: nil, diagnostics: result.diagnostics + [diagnostic], files: result.files)
            }
        }
        return result
    }

    private func nextID() -> DecisionID {
        DecisionID(prefix: idPrefix, sequence: sequence.wrappingAdd(1, ordering: .relaxed).newValue)
    }

    // MARK: Decisions

    /// The decision for a request, reading budget counters but changing nothing.
    public func evaluate(_ request: Request) -> Decision {
        decide(request, reserve: false)
    }

    /// The decision for a request; on allow, its estimated spend is reserved
    /// on every matching budget counter, atomically with the check.
    public func authorize(_ request: Request) -> Decision {
        decide(request, reserve: true)
    }

    private func decide(_ request: Request, reserve: Bool) -> Decision {
        let policy = self.policy
        let evaluator = Evaluator(policy: policy)
        let now = clock.now()
        let resolved = evaluator.resolve(request, now: now)
        let id = nextID()
        var original = evaluator.assess(resolved, evaluator.original(resolved))

        // The original candidate.
        var budgetsChecked = false
        if !original.denied {
            switch attempt(&original, evaluator, resolved, id: id, reserve: reserve, now: now) {
            case .admitted(let states, let alerts):
                return decision(.allow, id, policy, resolved, chosen: original, violations: original.violations, states: states, alerts: alerts, rerouted: false)
            case .ledgerDown(let allow):
                return decision(allow ? .allow : .deny, id, policy, resolved, chosen: original, violations: original.violations, states: [], alerts: [], rerouted: false)
            case .refused:
                budgetsChecked = true
            }
        }
        let originalStates = readStates(original, now: now)
        if !budgetsChecked, let originalStates {
            // Denied for other reasons: report the budgets it would break too.
            evaluator.applyBudgets(&original, states: originalStates, resolved)
        }

        // Reroute.
        if original.violations.contains(where: { $0.effect == .deny }) {
            var rerouted: Decision?
            evaluator.forEachReroute(resolved, from: original.candidate) { option in
                var assessment = option.assessment
                guard !assessment.denied else { return false }
                switch attempt(&assessment, evaluator, resolved, id: id, reserve: reserve, now: now) {
                case .admitted(let states, let alerts):
                    let violations = evaluator.reroutedViolations(original: original, chosen: assessment)
                    rerouted = decision(.allow, id, policy, resolved, chosen: assessment, violations: violations, states: states, alerts: alerts, rerouted: true)
                    return true
                case .ledgerDown, .refused:
                    return false
                }
            }
            if let rerouted { return rerouted }
        }
        return decision(.deny, id, policy, resolved, chosen: original, violations: original.violations, states: originalStates ?? [], alerts: [], rerouted: false)
    }

    private enum Attempt {
        case admitted([CounterState], [BudgetAlert])
        case refused
        case ledgerDown(allow: Bool)
    }

    /// Checks a candidate's budgets (and reserves when authorizing). Adds budget violations to the assessment.
    private func attempt(_ assessment: inout Evaluator.Assessment, _ evaluator: Evaluator, _ resolved: Evaluator.Resolved,
                         id: DecisionID, reserve: Bool, now: Timestamp) -> Attempt
    {
        guard !assessment.counters.isEmpty else { return .admitted([], []) }
        do throws(LedgerError) {
            if !reserve {
                let states = try ledger.read(entries: assessment.counters, now: now)
                evaluator.applyBudgets(&assessment, states: states, resolved)
                return assessment.denied ? .refused : .admitted(states, [])
            }
            let ttl = evaluator.policy.flags.reservationTTLSeconds
            let expiry = Timestamp(nanoseconds: Int64(clamping: Int128(now.nanoseconds) + Int128(ttl) * 1_000_000_000))
            switch try ledger.reserve(id, assessment.counters, expiresAt: expiry, now: now) {
            case .exceeded(_, let states):
                evaluator.applyBudgets(&assessment, states: states, resolved)
                return .refused
            case .reserved(let states, let crossed):
                // Soft caps: judge against the state before this reservation.
                let before = zip(states, assessment.counters).map { CounterState(spent: $0.spent, reserved: $0.reserved - $1.amount) }
                evaluator.applyBudgets(&assessment, states: before, resolved)
                return .admitted(states, alerts(crossed, assessment.counters, states))
            }
        } catch {
            let allow = evaluator.policy.flags.ledgerUnavailable == .allow
            let check = BuiltinCheck.ledgerUnavailable
            let input = evaluator.conditionInput(resolved, assessment.candidate, cost: assessment.cost)
            assessment.violations.append(evaluator.finish(
                Violation(rule: check.rawValue, kind: check.kind, effect: allow ? .warn : .deny, severity: check.severity,
                          message: "the spend ledger is unavailable: \(error.message)", source: nil, waivedBy: nil),
                waivers: evaluator.policy.checkWaivers[check.ordinal], input, resolved))
            let waived = assessment.violations.last?.effect == .waived
            return .ledgerDown(allow: allow || waived)
        }
    }

    private func readStates(_ assessment: Evaluator.Assessment, now: Timestamp) -> [CounterState]? {
        guard !assessment.counters.isEmpty else { return [] }
        return try? ledger.read(entries: assessment.counters, now: now)
    }

    private func alerts(_ crossed: [(entry: Int, threshold: Int64)], _ counters: [CounterReservation], _ states: [CounterState]) -> [BudgetAlert] {
        crossed.map { item in
            let entry = counters[item.entry]
            let used = states[item.entry].used
            let (limit, value, unit): (Int64, Int64, BudgetStatus.Unit) =
                if let usd = entry.limits.usd { (usd.nanos, used.usd, .usd) }
                else if let tokens = entry.limits.tokens { (tokens, used.tokens, .tokens) }
                else { (entry.limits.requests ?? 0, used.requests, .requests) }
            return BudgetAlert(budget: entry.counter.budget, key: entry.counter.key, window: entry.counter.windowLabel,
                               threshold: item.threshold, used: value, limit: limit, unit: unit)
        }
    }

    private func decision(_ verdict: Verdict, _ id: DecisionID, _ policy: CompiledPolicy, _ resolved: Evaluator.Resolved,
                          chosen: Evaluator.Assessment, violations: [Violation], states: [CounterState],
                          alerts: [BudgetAlert], rerouted: Bool) -> Decision
    {
        let model = chosen.candidate.model >= 0 ? policy.models[Int(chosen.candidate.model)] : nil
        return Decision(
            verdict: verdict, id: id, requestID: resolved.request.id, model: chosen.candidate.modelName,
            region: chosen.candidate.region, rerouted: rerouted, cost: chosen.cost, violations: violations,
            states: states, alerts: alerts, policyRevision: policy.revision,
            timestamp: resolved.timestamp, counters: chosen.counters, model: model,
            reserved: verdict == .allow && !states.isEmpty)
    }

    // MARK: Settling

    /// The result of settling a decision.
    public struct Settlement: Sendable {
        /// What the ledger did.
        public let outcome: SettleOutcome
        /// The actual cost counted (nil when the model has no price and no cost was given).
        public let cost: USD?
        /// Alerts the actual spend raised.
        public let alerts: [BudgetAlert]
    }

    /// Replaces a decision's reservation with the actual usage, priced at the decision's model.
    /// Idempotent by decision id: a second settle counts nothing.
    ///
    /// Usage whose cost is past ``USD/max`` counts as ``USD/max`` (spend is never dropped);
    /// negative token counts are an error.
    public func settle(_ decision: Decision, usage: Usage) throws(LedgerError) -> Settlement {
        guard !usage.hasNegativeCount else { throw LedgerError("cannot settle \(decision.id): token counts must not be negative") }
        let cost = decision.pricedModel?.rates.map { $0.cost(usage) ?? USD.max }
        return try settle(decision, cost: cost, tokens: usage.totalTokens)
    }

    /// Replaces a decision's reservation with an actual cost (when the provider reports it).
    public func settle(_ decision: Decision, cost: USD, tokens: Int64? = nil) throws(LedgerError) -> Settlement {
        try settle(decision, cost: Optional(cost), tokens: tokens)
    }

    private func settle(_ decision: Decision, cost: USD?, tokens: Int64?) throws(LedgerError) -> Settlement {
        guard decision.isAllowed else { return Settlement(outcome: .denied, cost: nil, alerts: []) }
        // A negative amount would take spend off a counter and reopen its budget.
        if let cost, cost.nanos < 0 { throw LedgerError("cannot settle \(decision.id): the cost \(cost) USD is negative") }
        if let tokens, tokens < 0 { throw LedgerError("cannot settle \(decision.id): the token count \(tokens) is negative") }
        let actual = decision.counters.map { entry in
            CounterReservation(counter: entry.counter,
                               amount: Amount(usd: cost?.nanos ?? 0, tokens: tokens ?? entry.amount.tokens, requests: 1),
                               limits: entry.limits, enforced: entry.enforced, alerts: entry.alerts)
        }
        let (outcome, crossed) = try ledger.settle(decision.id, actual, now: clock.now())
        let states = crossed.isEmpty ? [] : try ledger.read(actual.map(\.counter), now: clock.now())
        return Settlement(outcome: outcome, cost: cost, alerts: alerts(crossed, actual, states))
    }

    /// Counts spend that happened without an authorization (a call made elsewhere, or
    /// spend restored at startup) on every budget counter it matches, whatever the
    /// policy says of it. The request's `cost` is used when set, else its usage is
    /// priced at its model.
    public func record(_ request: Request) throws(LedgerError) -> Settlement {
        guard !request.usage.hasNegativeCount, (request.cost?.nanos ?? 0) >= 0 else {
            throw LedgerError("cannot record spend with a negative cost or token count")
        }
        let policy = self.policy
        let evaluator = Evaluator(policy: policy)
        let resolved = evaluator.resolve(request, now: clock.now())
        let assessment = evaluator.assess(resolved, evaluator.original(resolved))
        let (outcome, crossed) = try ledger.settle(nextID(), assessment.counters, now: clock.now())
        let states = crossed.isEmpty ? [] : try ledger.read(assessment.counters.map(\.counter), now: clock.now())
        return Settlement(outcome: outcome, cost: assessment.cost, alerts: alerts(crossed, assessment.counters, states))
    }

    /// Drops a decision's reservation (the call did not happen). Returns whether one was held.
    @discardableResult
    public func release(_ decision: Decision) throws(LedgerError) -> Bool {
        try ledger.release(decision.id, now: clock.now())
    }
}
