import PurserCore
import PurserPolicy
/// Identifies one budget counter: the budget id, the scope key and the
/// calendar window. Keys use names, not indexes, so counters survive a
/// policy reload that reorders definitions.
public struct CounterKey: Sendable, Hashable, CustomStringConvertible {
    /// The budget id.
    public let budget: String
    /// The scope key, e.g. `payments` or `payments/qa`.
    public let key: String
    /// The budget's period (the window index is per period).
    public let period: BudgetPeriod
    /// The window index (see `windowLabel`).
    public let window: Int64
    /// The hash, computed once: a ledger looks a key up several times.
    private let hash: Int

    /// Creates a key.
    public init(budget: String, key: String, period: BudgetPeriod, window: Int64) {
        self.init(budget: budget, budgetHash: budget.hashValue, key: key, period: period, window: window)
    }

    /// Creates a key with the budget id's hash already known (compiled budgets keep it).
    @usableFromInline package init(budget: String, budgetHash: Int, key: String, period: BudgetPeriod, window: Int64) {
        self.init(budget: budget, budgetHash: budgetHash, key: key, keyHash: key.hashValue, period: period, window: window)
    }

    /// Creates a key with both hashes known (compiled names keep theirs).
    @usableFromInline package init(budget: String, budgetHash: Int, key: String, keyHash: Int, period: BudgetPeriod, window: Int64) {
        self.budget = budget
        self.key = key
        self.period = period
        self.window = window
        self.hash = Self.mix(budgetHash: budgetHash, keyHash: keyHash, window: window)
    }

    /// The key's hash from its parts' hashes: a cheap mix of three values already
    /// hashed (Dictionary rehashes it with its own seed).
    @inline(__always)
    @inlinable package static func mix(budgetHash: Int, keyHash: Int, window: Int64) -> Int {
        var mixed = UInt64(bitPattern: Int64(budgetHash)) &* 0x9E37_79B9_7F4A_7C15
        mixed = (mixed ^ UInt64(bitPattern: Int64(keyHash))) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ UInt64(bitPattern: window)) &* 0x94D0_49BB_1331_11EB
        return Int(bitPattern: UInt(mixed ^ (mixed >> 31)))
    }

    /// The key's own hash, for direct-mapped caches.
    @usableFromInline package var cacheLine: Int { hash }

    public static func == (lhs: CounterKey, rhs: CounterKey) -> Bool {
        lhs.hash == rhs.hash && lhs.window == rhs.window && lhs.period == rhs.period && lhs.budget == rhs.budget && lhs.key == rhs.key
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(hash)
    }

    /// Creates a key from a window label such as `2026-11`; nil if the label does not fit the period.
    public init?(budget: String, key: String, period: BudgetPeriod, windowLabel: String) {
        guard let window = CalendarWindow.index(label: windowLabel, period: period) else { return nil }
        self.init(budget: budget, key: key, period: period, window: window)
    }

    /// The window's label, e.g. `2026-11` or `2026-W47`.
    @usableFromInline package var windowLabel: String { CalendarWindow.label(window, period: period) }

    public var description: String { "\(budget)[\(key)]@\(windowLabel)" }
}

/// What a counter counts: USD (nano-dollars), tokens and requests.
///
/// Sums saturate at `Int64.max` instead of wrapping (docs/policy-language.md,
/// "Numbers and their ranges"): a counter that reaches it stays over every cap,
/// so a hostile amount can never turn a counter negative and reopen its budget.
/// Caps are compared exactly, in 128 bits (``CounterReservation/admits(_:)``).
public struct Amount: Sendable, Hashable {
    /// Nano-dollars.
    public var usd: Int64
    /// Tokens.
    public var tokens: Int64
    /// Requests.
    public var requests: Int64

    /// Creates an amount.
    public init(usd: Int64 = 0, tokens: Int64 = 0, requests: Int64 = 0) {
        self.usd = usd
        self.tokens = tokens
        self.requests = requests
    }

    /// Nothing.
    @inlinable public static var zero: Amount { Amount() }

    /// The sum, field by field, saturating at the `Int64` range.
    @inlinable public static func + (lhs: Amount, rhs: Amount) -> Amount {
        Amount(usd: saturating(lhs.usd, rhs.usd, +), tokens: saturating(lhs.tokens, rhs.tokens, +),
               requests: saturating(lhs.requests, rhs.requests, +))
    }

    /// The difference, field by field, saturating at the `Int64` range.
    @inlinable public static func - (lhs: Amount, rhs: Amount) -> Amount {
        Amount(usd: saturating(lhs.usd, rhs.usd, -), tokens: saturating(lhs.tokens, rhs.tokens, -),
               requests: saturating(lhs.requests, rhs.requests, -))
    }

    @inlinable @inline(__always)
    static func saturating(_ lhs: Int64, _ rhs: Int64, _ operation: (Int128, Int128) -> Int128) -> Int64 {
        Int64(clamping: operation(Int128(lhs), Int128(rhs)))
    }

    @usableFromInline package static func += (lhs: inout Amount, rhs: Amount) { lhs = lhs + rhs }
    @usableFromInline package static func -= (lhs: inout Amount, rhs: Amount) { lhs = lhs - rhs }
}

/// A counter's spend as a ledger holds it.
public struct CounterState: Sendable, Hashable {
    /// Settled spend.
    public var spent: Amount
    /// Reserved, unsettled, unexpired spend.
    public var reserved: Amount
    /// The highest `spent + reserved` the counter has ever held, field by field. Stores keep it
    /// with every change (``Ledger``); Purser fires an alert when it rises past a threshold, so
    /// each threshold fires once per counter on every replica, without alert bookkeeping in the store.
    public var peak: Amount

    /// Creates a state.
    public init(spent: Amount = .zero, reserved: Amount = .zero, peak: Amount? = nil) {
        self.spent = spent
        self.reserved = reserved
        self.peak = peak ?? (spent + reserved)
    }

    /// Spent plus reserved.
    public var used: Amount { spent + reserved }

    /// The state after a change to `spent` or `reserved`, with the peak raised to the new use.
    @inlinable public func changed(spent addedSpent: Amount = .zero, reserved addedReserved: Amount = .zero, released: Amount = .zero) -> CounterState {
        let spent = self.spent + addedSpent
        let reserved = self.reserved + addedReserved - released
        let used = spent + reserved
        return CounterState(spent: spent, reserved: reserved,
                            peak: Amount(usd: max(peak.usd, used.usd), tokens: max(peak.tokens, used.tokens),
                                         requests: max(peak.requests, used.requests)))
    }
}

/// One counter a reservation (or a settlement) touches, with the caps that apply.
public struct CounterReservation: Sendable, Hashable {
    /// The counter.
    public let counter: CounterKey
    /// The amount to reserve (or, when settling, the actual amount).
    public let amount: Amount
    /// The caps; `admits` checks them.
    public let limits: BudgetLimits
    /// Whether going over the caps must refuse the reservation (a hard, unwaived budget).
    public let enforced: Bool
    /// Alert fractions in parts per million, ascending.
    public let alerts: [Int64]

    /// Creates a reservation entry.
    public init(counter: CounterKey, amount: Amount, limits: BudgetLimits, enforced: Bool, alerts: [Int64] = []) {
        self.counter = counter
        self.amount = amount
        self.limits = limits
        self.enforced = enforced
        self.alerts = alerts
    }

    /// `spent + reserved + estimate <= limit`, for every limit set (docs/policy-language.md,
    /// "Budgets"), summed exactly in 128 bits so that no amount can wrap past a cap.
    @inlinable public func admits(_ state: CounterState) -> Bool {
        Self.admits(state, amount, limits)
    }

    /// Whether a counter in `state` can take `amount` under `limits` (the one check every
    /// ledger and the audit's replay use).
    @inline(__always)
    @inlinable package static func admits(_ state: CounterState, _ amount: Amount, _ limits: BudgetLimits) -> Bool {
        func within(_ spent: Int64, _ reserved: Int64, _ added: Int64, _ limit: Int64) -> Bool {
            Int128(spent) + Int128(reserved) + Int128(added) <= Int128(limit)
        }
        if let usd = limits.usd, !within(state.spent.usd, state.reserved.usd, amount.usd, usd.nanos) { return false }
        if let tokens = limits.tokens, !within(state.spent.tokens, state.reserved.tokens, amount.tokens, tokens) { return false }
        if let requests = limits.requests, !within(state.spent.requests, state.reserved.requests, amount.requests, requests) { return false }
        return true
    }

    /// The alert thresholds crossed when a counter's peak goes from `before` to `after` (by its primary
    /// unit): each threshold with `before < limit × threshold <= after`.
    public func crossedAlerts(before: Amount, after: Amount) -> [Int64] {
        guard !alerts.isEmpty else { return [] }
        let (limit, old, new): (Int64, Int64, Int64)
        if let usd = limits.usd {
            (limit, old, new) = (usd.nanos, before.usd, after.usd)
        } else if let tokens = limits.tokens {
            (limit, old, new) = (tokens, before.tokens, after.tokens)
        } else if let requests = limits.requests {
            (limit, old, new) = (requests, before.requests, after.requests)
        } else {
            return []
        }
        guard limit > 0 else { return [] }
        return alerts.filter { threshold in
            let line = Int128(limit) * Int128(threshold)  // compare used × 1e6 with limit × ppm
            return Int128(old) * 1_000_000 < line && Int128(new) * 1_000_000 >= line
        }
    }
}

/// A reservation to make: what ``Ledger/reserve(_:)`` is given.
public struct LedgerReservation: Sendable {
    /// The decision's id; settle and release find the reservation by it, on any replica.
    public let id: DecisionID
    /// The counters, each with its estimate, caps and whether its caps are enforced.
    public let entries: [CounterReservation]
    /// How long the reservation holds headroom, judged by the store's clock (not the caller's).
    public let ttlSeconds: Int64
    /// The model the decision chose, kept with the reservation so that a replica that did not
    /// authorize can price the actual usage of a settle by id.
    public let model: String?

    /// Creates a reservation.
    public init(id: DecisionID, entries: [CounterReservation], ttlSeconds: Int64, model: String? = nil) {
        self.id = id
        self.entries = entries
        self.ttlSeconds = ttlSeconds
        self.model = model
    }
}

/// What ``Ledger/reserve(_:)`` did.
public enum ReserveResult: Sendable, Equatable {
    /// Every enforced cap held and every counter holds the reservation: the states before
    /// and after it, one per entry.
    case reserved(before: [CounterState], after: [CounterState])
    /// An enforced cap would be exceeded (the first such entry); nothing was reserved. The
    /// states are the current ones, one per entry.
    case exceeded(entry: Int, states: [CounterState])
}

/// Spend to count: what ``Ledger/settle(_:)`` is given.
public struct LedgerSettlement: Sendable {
    /// The decision's id (settling is idempotent by it).
    public let id: DecisionID
    /// The counters with the actual amounts. A store that still holds the reservation drops its
    /// estimates; either way it adds these amounts.
    public let entries: [CounterReservation]

    /// Creates a settlement.
    public init(id: DecisionID, entries: [CounterReservation]) {
        self.id = id
        self.entries = entries
    }
}

/// What ``Ledger/settle(_:)`` did.
public struct SettleResult: Sendable, Equatable {
    /// Whether a reservation was replaced, the spend counted without one, or nothing changed.
    public let outcome: SettleOutcome
    /// The states before the settlement, one per entry (empty when nothing changed).
    public let before: [CounterState]
    /// The states after it, one per entry (empty when nothing changed).
    public let after: [CounterState]

    /// Creates a result.
    public init(outcome: SettleOutcome, before: [CounterState] = [], after: [CounterState] = []) {
        self.outcome = outcome
        self.before = before
        self.after = after
    }
}

/// What `settle` did.
public enum SettleOutcome: Sendable, Equatable {
    /// The actual spend replaced the reservation.
    case settled
    /// The reservation had expired or was released; the actual spend was still counted.
    case settledWithoutReservation
    /// This decision was settled before; nothing changed.
    case alreadySettled
    /// The decision denied the request, so there is nothing to settle; nothing was counted.
    /// (Spend that happened anyway is counted with ``Enforcer/record(_:)``.)
    case denied
}

/// What ``Ledger/release(_:)`` did.
public enum ReleaseResult: Sendable, Equatable {
    /// The reservation was held and no longer is.
    case released
    /// No reservation is held under the id: it was settled, released, expired, or never made.
    case notHeld
}

/// A reservation as a store keeps it, found by decision id (``Ledger/reservation(_:)``).
public struct StoredReservation: Sendable, Equatable {
    /// Where the reservation stands.
    public enum State: String, Sendable, Equatable {
        /// Holding headroom until it expires.
        case held
        /// Settled: its spend is counted.
        case settled
        /// Released before settling.
        case released
        /// Past its expiry, by the store's clock, without a settle.
        case expired
    }

    /// The counters and the estimates reserved on them.
    public let counters: [CounterKey]
    /// The estimate reserved on each counter.
    public let amounts: [Amount]
    /// The model the decision chose.
    public let model: String?
    /// Where it stands.
    public let state: State

    /// Creates a stored reservation.
    public init(counters: [CounterKey], amounts: [Amount], model: String?, state: State) {
        self.counters = counters
        self.amounts = amounts
        self.model = model
        self.state = state
    }
}

/// Why a ledger could not answer.
public struct LedgerError: Error, Sendable, CustomStringConvertible {
    /// Whose fault it is: the store's, or the call's.
    public enum Reason: Sendable, Hashable {
        /// The store failed or could not be reached; the same call may succeed later.
        case store
        /// No reservation is held under the decision id the call names.
        case unknownDecision
        /// The call itself is invalid (a negative cost or token count); repeating it cannot succeed.
        case invalidCall
    }

    /// What failed.
    public let message: String
    /// Whose fault it is.
    public let reason: Reason

    /// Creates an error.
    public init(_ message: String, reason: Reason = .store) {
        self.message = message
        self.reason = reason
    }

    public var description: String { message }
}

/// Where spend is kept (docs/library.md, "Ledgers").
///
/// A store keeps, per counter, the settled spend, the reserved spend and the peak
/// (``CounterState``), and per decision id the reservation's entries until it is settled,
/// released or expired. What every store must guarantee:
///
/// - `reserve` is atomic: the check of every enforced cap and the reservation on every counter
///   happen as one step, so concurrent callers (threads, processes, replicas) never overspend.
/// - Expiry is judged by the store's own clock: a reservation stops holding headroom
///   `ttlSeconds` after the store recorded it, whatever the callers' clocks say.
/// - `settle` and `release` work by decision id from any caller, and `settle` is idempotent:
///   a second settle of an id changes nothing and answers `.alreadySettled` (for at least a day).
/// - Sums saturate at the `Int64` range (``Amount``); `peak` only ever rises.
///
/// Alerts are not the store's business: Purser fires them from the peaks the store returns.
/// Purser ships ``InMemoryLedger``; `PurserSQLite` and `PurserPostgres` are stores of their own.
public protocol Ledger: AnyObject, Sendable {
    /// The state of counters, without changing anything (a counter never touched is all zeros).
    func read(_ counters: [CounterKey]) async throws(LedgerError) -> [CounterState]

    /// The state of the counters of reservation entries: ``read(_:)`` by default, a hook for
    /// stores that can skip building the key list.
    func read(entries: [CounterReservation]) async throws(LedgerError) -> [CounterState]

    /// Atomically checks the enforced caps of every entry and, if all hold, reserves every
    /// entry's amount under the reservation's id.
    func reserve(_ reservation: LedgerReservation) async throws(LedgerError) -> ReserveResult

    /// Replaces the reservation with the actual amounts; counts them even when the reservation
    /// expired or was released. Idempotent by id.
    func settle(_ settlement: LedgerSettlement) async throws(LedgerError) -> SettleResult

    /// Drops the reservation, if it is still held.
    func release(_ id: DecisionID) async throws(LedgerError) -> ReleaseResult

    /// The reservation made under an id, while the store remembers it (nil otherwise).
    func reservation(_ id: DecisionID) async throws(LedgerError) -> StoredReservation?
}

extension Ledger {
    public func read(entries: [CounterReservation]) async throws(LedgerError) -> [CounterState] {
        try await read(entries.map(\.counter))
    }
}

/// A ledger that answers without waiting (``InMemoryLedger``): `purser eval`, `purser test`
/// and the fuzzers decide through it on a plain thread, without an async context.
package protocol SynchronousLedger: Ledger {
    func readNow(_ counters: [CounterKey]) throws(LedgerError) -> [CounterState]
    func readNow(entries: [CounterReservation]) throws(LedgerError) -> [CounterState]
    func reserveNow(_ reservation: LedgerReservation) throws(LedgerError) -> ReserveResult
    func settleNow(_ settlement: LedgerSettlement) throws(LedgerError) -> SettleResult
    func releaseNow(_ id: DecisionID) throws(LedgerError) -> ReleaseResult
}
