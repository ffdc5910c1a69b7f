import PurserCore
import PurserPolicy
import Synchronization

/// The gateway's entry point: decisions for requests, with budgets kept in a ledger.
///
/// ```swift
/// let enforcer = try Enforcer(policy: PolicySet.load(paths: ["policies"]).policy!)
/// let decision = await enforcer.authorize(Request(team: "payments", environment: "production",
///                                                model: "claude-sonnet-4-5", usage: Usage(inputTokens: 1200, outputTokens: 800)))
/// guard decision.isAllowed else { return reject(decision.violations) }
/// // … call decision.model in decision.region …
/// try await enforcer.settle(decision, usage: actualUsage)
/// ```
///
/// Every method is safe to call from any task or thread. `authorize` checks and
/// reserves budget atomically in the ledger, so concurrent requests never
/// overspend a hard cap, whichever process or replica makes them (the ledger's
/// guarantee, ``Ledger``). The methods are `async` because a shared ledger is a
/// network away; over ``InMemoryLedger`` they never suspend.
public final class Enforcer: Sendable {
    private let current: Mutex<CompiledPolicy>
    /// Where spend is kept.
    public let ledger: any Ledger
    /// The ledger when it answers without waiting (the in-memory one), for the batch commands.
    private let synchronousLedger: (any SynchronousLedger)?
    /// Budget leases over `ledger`, used while the policy's `settings.budget_leases` is set
    /// (docs/ledgers.md, "Budget leases"); settles and releases go through it to find the calls
    /// its slices admitted.
    package let leases: LeasingLedger
    /// Where "now" comes from: the windows a request counts in (expiry is the ledger's clock).
    public let clock: any PurserClock
    private let idPrefix: UInt64
    private let sequence = Atomic<UInt64>(0)

    /// Creates an enforcer over a compiled policy; without a ledger, spend is kept in an
    /// ``InMemoryLedger`` on the same clock.
    public init(policy: CompiledPolicy, ledger: (any Ledger)? = nil, clock: any PurserClock = SystemClock()) {
        current = Mutex(policy)
        let ledger = ledger ?? InMemoryLedger(clock: clock)
        self.ledger = ledger
        synchronousLedger = ledger as? any SynchronousLedger
        leases = LeasingLedger(store: ledger)
        self.clock = clock
        idPrefix = UInt64.random(in: 1...UInt64.max)
    }

    /// Compiles a policy and creates an enforcer over it.
    public convenience init(policy: PolicySet, ledger: (any Ledger)? = nil, clock: any PurserClock = SystemClock()) throws(PolicyCompileError) {
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

    /// The next decision id. Its sequence (40 bits) is never 0: that form names a budget lease
    /// (``LeasingLedger``), which settles and releases by id refuse.
    private func nextID() -> DecisionID {
        while true {
            let id = DecisionID(prefix: idPrefix, sequence: sequence.wrappingAdd(1, ordering: .relaxed).newValue)
            if id.sequence != 0 { return id }
        }
    }

    // MARK: Decisions

    /// The decision for a request, reading budget counters but changing nothing.
    public func evaluate(_ request: Request) async -> Decision {
        await decide(request, reserving: false)
    }

    /// The decision for a request; on allow, its estimated spend is reserved
    /// on every matching budget counter, atomically with the check.
    public func authorize(_ request: Request) async -> Decision {
        await decide(request, reserving: true)
    }

    private func decide(_ request: Request, reserving: Bool) async -> Decision {
        let policy = self.policy
        var steps = DecisionSteps(policy: policy, request: request, id: nextID(), now: clock.now(), reserving: reserving)
        var need = steps.start()
        while true {
            switch need {
            case .done(let decision):
                return decision
            case .read(let counters):
                do throws(LedgerError) { need = steps.resume(.states(try await ledger.read(entries: counters))) }
                catch { need = steps.resume(.failed(error)) }
            case .reserve(let reservation):
                do throws(LedgerError) {
                    if let settings = policy.flags.budgetLeases {
                        let (result, id) = try await leases.reserve(reservation, leases: settings)
                        steps.rename(id)
                        need = steps.resume(.reserved(result))
                    } else {
                        need = steps.resume(.reserved(try await ledger.reserve(reservation)))
                    }
                } catch { need = steps.resume(.failed(error)) }
            }
        }
    }

    /// Ends this replica's budget leases (when it shuts down): every slice stops admitting and
    /// goes back to the ledger, at once if none of its calls is open, else when the last one is
    /// settled or released here (docs/ledgers.md, "Budget leases"). Without leases, does nothing.
    public func returnLeases() async {
        await leases.returnSlices()
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
    public func settle(_ decision: Decision, usage: Usage) async throws(LedgerError) -> Settlement {
        let settlement = try settlement(decision, usage: usage)
        return try await settle(settlement)
    }

    /// Replaces a decision's reservation with an actual cost (when the provider reports it).
    public func settle(_ decision: Decision, cost: USD, tokens: Int64? = nil) async throws(LedgerError) -> Settlement {
        let settlement = try settlement(decision, cost: cost, tokens: tokens)
        return try await settle(settlement)
    }

    /// Settles a decision known only by its id, on any replica: the ledger gives the counters
    /// and the model it reserved for, the usage is priced at that model of the policy in force
    /// (or `cost` is taken as it is). Idempotent by id, like the others.
    public func settle(decisionID id: DecisionID, usage: Usage, cost: USD? = nil) async throws(LedgerError) -> Settlement {
        guard !usage.hasNegativeCount else { throw LedgerError("cannot settle \(id): token counts must not be negative", reason: .invalidCall) }
        guard let stored = try await leases.reservation(id) else {
            throw LedgerError("cannot settle \(id): the ledger holds no reservation under it (never made, or forgotten after a day)", reason: .unknownDecision)
        }
        if stored.state == .settled { return Settlement(outcome: .alreadySettled, cost: cost, alerts: []) }
        guard !stored.counters.isEmpty else {
            throw LedgerError("cannot settle \(id): the ledger no longer knows the counters it reserved on; settle with the Decision", reason: .unknownDecision)
        }
        let policy = self.policy
        let rates = stored.model.flatMap { policy.modelLookup[$0] }.flatMap { policy.models[Int($0)].rates }
        let priced = cost ?? rates.map { $0.cost(usage) ?? USD.max }
        if let priced, priced.nanos < 0 { throw LedgerError("cannot settle \(id): the cost \(priced) USD is negative", reason: .invalidCall) }
        let entries = zip(stored.counters, stored.amounts).map { counter, estimate in
            let budget = policy.budgetLookup[counter.budget].map { policy.budgets[Int($0)] }
            return CounterReservation(counter: counter,
                                      amount: Amount(usd: priced?.nanos ?? 0, tokens: usage.totalTokens, requests: estimate.requests),
                                      limits: budget?.limits(forKey: counter.key) ?? BudgetLimits(), enforced: false, alerts: budget?.alerts ?? [])
        }
        return try await settle(Pending(settlement: LedgerSettlement(id: id, entries: entries), cost: priced))
    }

    /// Counts spend that happened without an authorization (a call made elsewhere, or
    /// spend restored at startup) on every budget counter it matches, whatever the
    /// policy says of it. The request's `cost` is used when set, else its usage is
    /// priced at its model.
    public func record(_ request: Request) async throws(LedgerError) -> Settlement {
        try await settle(try recording(request))
    }

    /// Drops a decision's reservation (the call did not happen). Returns whether one was held.
    @discardableResult
    public func release(_ decision: Decision) async throws(LedgerError) -> Bool {
        try await leases.release(decision.id) == .released
    }

    /// Drops a reservation known only by its decision id, on any replica.
    @discardableResult
    public func release(decisionID id: DecisionID) async throws(LedgerError) -> Bool {
        try await leases.release(id) == .released
    }

    // MARK: The parts settle, record and their synchronous forms share

    /// A settlement to send, with the cost it counts.
    private struct Pending {
        let settlement: LedgerSettlement?
        let cost: USD?
    }

    private func settlement(_ decision: Decision, usage: Usage) throws(LedgerError) -> Pending {
        guard !usage.hasNegativeCount else { throw LedgerError("cannot settle \(decision.id): token counts must not be negative", reason: .invalidCall) }
        let cost = decision.pricedModel?.rates.map { $0.cost(usage) ?? USD.max }
        return try settlement(decision, cost: cost, tokens: usage.totalTokens)
    }

    private func settlement(_ decision: Decision, cost: USD?, tokens: Int64?) throws(LedgerError) -> Pending {
        guard decision.isAllowed else { return Pending(settlement: nil, cost: nil) }
        // A negative amount would take spend off a counter and reopen its budget.
        if let cost, cost.nanos < 0 { throw LedgerError("cannot settle \(decision.id): the cost \(cost) USD is negative", reason: .invalidCall) }
        if let tokens, tokens < 0 { throw LedgerError("cannot settle \(decision.id): the token count \(tokens) is negative", reason: .invalidCall) }
        let actual = decision.counters.map { entry in
            CounterReservation(counter: entry.counter,
                               amount: Amount(usd: cost?.nanos ?? 0, tokens: tokens ?? entry.amount.tokens, requests: 1),
                               limits: entry.limits, enforced: entry.enforced, alerts: entry.alerts)
        }
        return Pending(settlement: LedgerSettlement(id: decision.id, entries: actual), cost: cost)
    }

    private func recording(_ request: Request) throws(LedgerError) -> Pending {
        guard !request.usage.hasNegativeCount, (request.cost?.nanos ?? 0) >= 0 else {
            throw LedgerError("cannot record spend with a negative cost or token count", reason: .invalidCall)
        }
        let evaluator = Evaluator(policy: policy)
        let resolved = evaluator.resolve(request, now: clock.now())
        let assessment = evaluator.assess(resolved, evaluator.original(resolved))
        return Pending(settlement: LedgerSettlement(id: nextID(), entries: assessment.counters), cost: assessment.cost)
    }

    private func settle(_ pending: Pending) async throws(LedgerError) -> Settlement {
        guard let settlement = pending.settlement else { return Settlement(outcome: .denied, cost: nil, alerts: []) }
        return Self.settled(settlement, pending.cost, try await leases.settle(settlement))
    }

    private static func settled(_ settlement: LedgerSettlement, _ cost: USD?, _ result: SettleResult) -> Settlement {
        Settlement(outcome: result.outcome, cost: cost,
                   alerts: DecisionSteps.alerts(settlement.entries, before: result.before, after: result.after))
    }

    // MARK: Without waiting (the in-memory ledger)

    /// Whether the ledger answers without waiting, so that the `…Now` forms may be used.
    package var decidesWithoutWaiting: Bool { synchronousLedger != nil }

    private var synchronous: any SynchronousLedger {
        guard let synchronousLedger else {
            preconditionFailure("the synchronous forms of Enforcer need a SynchronousLedger (InMemoryLedger); check decidesWithoutWaiting")
        }
        return synchronousLedger
    }

    /// `evaluate` on a plain thread, for `purser eval` (the ledger must answer without waiting).
    package func evaluateNow(_ request: Request) -> Decision { decideNow(request, reserving: false) }

    /// `authorize` on a plain thread, for `purser eval --ledger memory:` and `purser test`.
    package func authorizeNow(_ request: Request) -> Decision { decideNow(request, reserving: true) }

    /// `settle(_:cost:tokens:)` on a plain thread.
    package func settleNow(_ decision: Decision, cost: USD, tokens: Int64? = nil) throws(LedgerError) -> Settlement {
        let pending = try settlement(decision, cost: cost, tokens: tokens)
        guard let settlement = pending.settlement else { return Settlement(outcome: .denied, cost: nil, alerts: []) }
        return Self.settled(settlement, pending.cost, try synchronous.settleNow(settlement))
    }

    /// `settle(_:usage:)` on a plain thread.
    package func settleNow(_ decision: Decision, usage: Usage) throws(LedgerError) -> Settlement {
        let pending = try settlement(decision, usage: usage)
        guard let settlement = pending.settlement else { return Settlement(outcome: .denied, cost: nil, alerts: []) }
        return Self.settled(settlement, pending.cost, try synchronous.settleNow(settlement))
    }

    /// `record` on a plain thread.
    package func recordNow(_ request: Request) throws(LedgerError) -> Settlement {
        let pending = try recording(request)
        guard let settlement = pending.settlement else { return Settlement(outcome: .denied, cost: nil, alerts: []) }
        return Self.settled(settlement, pending.cost, try synchronous.settleNow(settlement))
    }

    /// `release` on a plain thread.
    @discardableResult
    package func releaseNow(_ decision: Decision) throws(LedgerError) -> Bool {
        try synchronous.releaseNow(decision.id) == .released
    }

    private func decideNow(_ request: Request, reserving: Bool) -> Decision {
        let ledger = synchronous
        var steps = DecisionSteps(policy: policy, request: request, id: nextID(), now: clock.now(), reserving: reserving)
        var need = steps.start()
        while true {
            switch need {
            case .done(let decision):
                return decision
            case .read(let counters):
                do throws(LedgerError) { need = steps.resume(.states(try ledger.readNow(entries: counters))) }
                catch { need = steps.resume(.failed(error)) }
            case .reserve(let reservation):
                do throws(LedgerError) { need = steps.resume(.reserved(try ledger.reserveNow(reservation))) }
                catch { need = steps.resume(.failed(error)) }
            }
        }
    }
}
