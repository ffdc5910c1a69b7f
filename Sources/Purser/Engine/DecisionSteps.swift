import PurserCore
import PurserPolicy

/// One decision as a walk that stops at each question for the ledger (docs/evaluation.md,
/// "Reservations, settling and releasing"): the steps say what they need (`Need`), the caller
/// asks the ledger, synchronously or not, and hands the answer back (`resume`). The engine's
/// order of candidates, budgets and fail mode is written once, here; ``Enforcer`` drives it
/// over any ``Ledger`` with `await`, and over a ``SynchronousLedger`` on a plain thread.
package struct DecisionSteps {
    /// What the walk needs next.
    package enum Need {
        /// The states of these entries' counters (``Ledger/read(entries:)``).
        case read([CounterReservation])
        /// This reservation made (``Ledger/reserve(_:)``).
        case reserve(LedgerReservation)
        /// Nothing more: the decision.
        case done(Decision)
    }

    /// The ledger's answer to a `Need`.
    package enum Answer {
        case states([CounterState])
        case reserved(ReserveResult)
        case failed(LedgerError)
    }

    private enum Phase {
        /// Checking the original candidate's budgets.
        case original
        /// Reading the original's counters after it was refused or denied.
        case originalStates(budgetsChecked: Bool)
        /// Checking the budgets of reroute candidate `index`.
        case reroute(index: Int, Evaluator.Assessment)
        case finished
    }

    private let policy: CompiledPolicy
    private let evaluator: Evaluator
    private let resolved: Evaluator.Resolved
    private var id: DecisionID
    private let reserving: Bool
    private var original: Evaluator.Assessment
    private var originalStates: [CounterState]?
    private var fallbacks: [Evaluator.Candidate] = []
    private var phase = Phase.original

    /// Starts a decision; `reserving` reserves the estimate on allow (authorize), else only reads (evaluate).
    package init(policy: CompiledPolicy, request: Request, id: DecisionID, now: Timestamp, reserving: Bool) {
        self.policy = policy
        evaluator = Evaluator(policy: policy)
        resolved = evaluator.resolve(request, now: now)
        self.id = id
        self.reserving = reserving
        original = evaluator.assess(resolved, evaluator.original(resolved))
    }

    /// Names the decision by another id: the call's id in a budget lease that admitted it
    /// (docs/ledgers.md, "Budget leases"). Called before the reservation's answer is resumed.
    package mutating func rename(_ id: DecisionID) {
        self.id = id
    }

    /// The first need.
    package mutating func start() -> Need {
        guard !original.denied else { return readOriginal(budgetsChecked: false) }
        phase = .original
        return check(original)
    }

    /// The next need, given the answer to the last.
    package mutating func resume(_ answer: Answer) -> Need {
        switch phase {
        case .original:
            switch Self.judge(&original, answer, policy: policy, evaluator: evaluator, resolved: resolved) {
            case .admitted(let states, let alerts):
                return finish(.allow, original, violations: original.violations, states: states, alerts: alerts, rerouted: false)
            case .ledgerDown(let allow):
                return finish(allow ? .allow : .deny, original, violations: original.violations, states: [], alerts: [], rerouted: false)
            case .refused:
                return readOriginal(budgetsChecked: true)
            }
        case .originalStates(let budgetsChecked):
            if case .states(let states) = answer {
                originalStates = states
                // Denied for other reasons: report the budgets it would break too.
                if !budgetsChecked { evaluator.applyBudgets(&original, states: states, resolved) }
            }
            fallbacks = original.violations.contains { $0.effect == .deny } ? evaluator.fallbacks(resolved, from: original.candidate) : []
            return nextReroute(from: 0)
        case .reroute(let index, var assessment):
            switch Self.judge(&assessment, answer, policy: policy, evaluator: evaluator, resolved: resolved) {
            case .admitted(let states, let alerts):
                let violations = evaluator.reroutedViolations(original: original, chosen: assessment)
                return finish(.allow, assessment, violations: violations, states: states, alerts: alerts, rerouted: true)
            case .ledgerDown, .refused:
                return nextReroute(from: index + 1)
            }
        case .finished:
            preconditionFailure("DecisionSteps.resume after the decision was made")
        }
    }

    // MARK: Steps

    private mutating func readOriginal(budgetsChecked: Bool) -> Need {
        phase = .originalStates(budgetsChecked: budgetsChecked)
        guard !original.counters.isEmpty else { return resume(.states([])) }
        return .read(original.counters)
    }

    /// The first reroute candidate from `start` that nothing but budgets denies, with its budget check.
    private mutating func nextReroute(from start: Int) -> Need {
        var index = start
        while index < fallbacks.count {
            let assessment = evaluator.assess(resolved, fallbacks[index], untilDenied: true)
            if !assessment.denied {
                phase = .reroute(index: index, assessment)
                return check(assessment)
            }
            index += 1
        }
        return finish(.deny, original, violations: original.violations, states: originalStates ?? [], alerts: [], rerouted: false)
    }

    /// The ledger question for a candidate's budgets; none when it counts against no budget.
    private mutating func check(_ assessment: Evaluator.Assessment) -> Need {
        guard !assessment.counters.isEmpty else { return resume(reserving ? .reserved(.reserved(before: [], after: [])) : .states([])) }
        if !reserving { return .read(assessment.counters) }
        return .reserve(LedgerReservation(id: id, entries: assessment.counters, ttlSeconds: policy.flags.reservationTTLSeconds,
                                          model: assessment.candidate.modelName))
    }

    private enum Judgement {
        case admitted([CounterState], [BudgetAlert])
        case refused
        case ledgerDown(allow: Bool)
    }

    /// Adds the budget violations the ledger's answer shows to the assessment. (Static, so that
    /// `original` is changed in place rather than copied out of `self` and back.)
    private static func judge(_ assessment: inout Evaluator.Assessment, _ answer: Answer, policy: CompiledPolicy,
                              evaluator: Evaluator, resolved: Evaluator.Resolved) -> Judgement
    {
        switch answer {
        case .states(let states):
            evaluator.applyBudgets(&assessment, states: states, resolved)
            return assessment.denied ? .refused : .admitted(states, [])
        case .reserved(.exceeded(_, let states)):
            evaluator.applyBudgets(&assessment, states: states, resolved)
            return .refused
        case .reserved(.reserved(let before, let after)):
            // Soft caps: judged against the state before this reservation.
            evaluator.applyBudgets(&assessment, states: before, resolved)
            return .admitted(after, Self.alerts(assessment.counters, before: before, after: after))
        case .failed(let error):
            let allow = policy.flags.ledgerUnavailable == .allow
            let check = BuiltinCheck.ledgerUnavailable
            let input = evaluator.conditionInput(resolved, assessment.candidate, cost: assessment.cost)
            assessment.violations.append(evaluator.finish(
                Violation(rule: check.rawValue, kind: check.kind, effect: allow ? .warn : .deny, severity: check.severity,
                          message: "the spend ledger is unavailable: \(error.message)", source: nil, waivedBy: nil),
                waivers: policy.checkWaivers[check.ordinal], input, resolved))
            let waived = assessment.violations.last?.effect == .waived
            return .ledgerDown(allow: allow || waived)
        }
    }

    private mutating func finish(_ verdict: Verdict, _ chosen: Evaluator.Assessment, violations: [Violation], states: [CounterState],
                                 alerts: [BudgetAlert], rerouted: Bool) -> Need
    {
        phase = .finished
        let model = chosen.candidate.model >= 0 ? policy.models[Int(chosen.candidate.model)] : nil
        return .done(Decision(
            verdict: verdict, id: id, requestID: resolved.request.id, model: chosen.candidate.modelName,
            region: chosen.candidate.region, rerouted: rerouted, cost: chosen.cost, violations: violations,
            states: states, alerts: alerts, policyRevision: policy.revision,
            timestamp: resolved.timestamp, counters: chosen.counters, model: model,
            reserved: verdict == .allow && reserving && !states.isEmpty))
    }

    /// The alerts a change raised: the thresholds each counter's peak rose past (docs/wire-formats.md, "Alerts").
    package static func alerts(_ counters: [CounterReservation], before: [CounterState], after: [CounterState]) -> [BudgetAlert] {
        var alerts: [BudgetAlert] = []
        for (offset, entry) in counters.enumerated() where !entry.alerts.isEmpty && offset < before.count && offset < after.count {
            let used = after[offset].used
            let (limit, value, unit): (Int64, Int64, BudgetStatus.Unit) =
                if let usd = entry.limits.usd { (usd.nanos, used.usd, .usd) }
                else if let tokens = entry.limits.tokens { (tokens, used.tokens, .tokens) }
                else { (entry.limits.requests ?? 0, used.requests, .requests) }
            for threshold in entry.crossedAlerts(before: before[offset].peak, after: after[offset].peak) {
                alerts.append(BudgetAlert(budget: entry.counter.budget, key: entry.counter.key, window: entry.counter.windowLabel,
                                          threshold: threshold, used: value, limit: limit, unit: unit))
            }
        }
        return alerts
    }
}
