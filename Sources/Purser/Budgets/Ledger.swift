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
    /// The window index (see ``windowLabel``).
    public let window: Int64
    /// The hash, computed once: a ledger looks a key up several times.
    private let hash: Int

    /// Creates a key.
    public init(budget: String, key: String, period: BudgetPeriod, window: Int64) {
        self.init(budget: budget, budgetHash: budget.hashValue, key: key, period: period, window: window)
    }

    /// Creates a key with the budget id's hash already known (compiled budgets keep it).
    package init(budget: String, budgetHash: Int, key: String, period: BudgetPeriod, window: Int64) {
        self.init(budget: budget, budgetHash: budgetHash, key: key, keyHash: key.hashValue, period: period, window: window)
    }

    /// Creates a key with both hashes known (compiled names keep theirs).
    package init(budget: String, budgetHash: Int, key: String, keyHash: Int, period: BudgetPeriod, window: Int64) {
        self.budget = budget
        self.key = key
        self.period = period
        self.window = window
        self.hash = Self.mix(budgetHash: budgetHash, keyHash: keyHash, window: window)
    }

    /// The key's hash from its parts' hashes: a cheap mix of three values already
    /// hashed (Dictionary rehashes it with its own seed).
    @inline(__always)
    package static func mix(budgetHash: Int, keyHash: Int, window: Int64) -> Int {
        var mixed = UInt64(bitPattern: Int64(budgetHash)) &* 0x9E37_79B9_7F4A_7C15
        mixed = (mixed ^ UInt64(bitPattern: Int64(keyHash))) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ UInt64(bitPattern: window)) &* 0x94D0_49BB_1331_11EB
        return Int(bitPattern: UInt(mixed ^ (mixed >> 31)))
    }

    /// The key's own hash, for direct-mapped caches.
    package var cacheLine: Int { hash }

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
    public var windowLabel: String { CalendarWindow.label(window, period: period) }

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
    public static let zero = Amount()

    /// The sum, field by field, saturating at the `Int64` range.
    public static func + (lhs: Amount, rhs: Amount) -> Amount {
        Amount(usd: saturating(lhs.usd, rhs.usd, +), tokens: saturating(lhs.tokens, rhs.tokens, +),
               requests: saturating(lhs.requests, rhs.requests, +))
    }

    /// The difference, field by field, saturating at the `Int64` range.
    public static func - (lhs: Amount, rhs: Amount) -> Amount {
        Amount(usd: saturating(lhs.usd, rhs.usd, -), tokens: saturating(lhs.tokens, rhs.tokens, -),
               requests: saturating(lhs.requests, rhs.requests, -))
    }

    @inline(__always)
    private static func saturating(_ lhs: Int64, _ rhs: Int64, _ operation: (Int128, Int128) -> Int128) -> Int64 {
        Int64(clamping: operation(Int128(lhs), Int128(rhs)))
    }

    public static func += (lhs: inout Amount, rhs: Amount) { lhs = lhs + rhs }
    public static func -= (lhs: inout Amount, rhs: Amount) { lhs = lhs - rhs }
}

/// A counter's spend as a ledger holds it.
public struct CounterState: Sendable, Hashable {
    /// Settled spend.
    public var spent: Amount
    /// Reserved, unsettled, unexpired spend.
    public var reserved: Amount

    /// Creates a state.
    public init(spent: Amount = .zero, reserved: Amount = .zero) {
        self.spent = spent
        self.reserved = reserved
    }

    /// Spent plus reserved.
    public var used: Amount { spent + reserved }
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
    public func admits(_ state: CounterState) -> Bool {
        Self.admits(state, amount, limits)
    }

    /// Whether a counter in `state` can take `amount` under `limits` (the one check every
    /// ledger and the audit's replay use; inlinable: the replay calls it for every counter of every record).
    @inlinable @inline(__always)
    package static func admits(_ state: CounterState, _ amount: Amount, _ limits: BudgetLimits) -> Bool {
        func within(_ spent: Int64, _ reserved: Int64, _ added: Int64, _ limit: Int64) -> Bool {
            Int128(spent) + Int128(reserved) + Int128(added) <= Int128(limit)
        }
        if let usd = limits.usd, !within(state.spent.usd, state.reserved.usd, amount.usd, usd.nanos) { return false }
        if let tokens = limits.tokens, !within(state.spent.tokens, state.reserved.tokens, amount.tokens, tokens) { return false }
        if let requests = limits.requests, !within(state.spent.requests, state.reserved.requests, amount.requests, requests) { return false }
        return true
    }

    /// The alert thresholds crossed when a counter goes from `before` to `after` (by its primary unit).
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

/// What `reserve` did.
public enum ReserveOutcome: Sendable {
    /// Every enforced cap held; all counters hold the reservation. States are after it;
    /// alerts are the thresholds crossed, per entry index.
    case reserved(states: [CounterState], alerts: [(entry: Int, threshold: Int64)])
    /// An enforced cap would be exceeded (the entry index); nothing was reserved. States are current.
    case exceeded(entry: Int, states: [CounterState])
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

/// Why a ledger could not answer.
public struct LedgerError: Error, Sendable, CustomStringConvertible {
    /// What failed.
    public let message: String

    /// Creates an error.
    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// Where spend is kept. Implementations must make `reserve` atomic: the
/// check of every enforced cap and the reservation on every counter happen
/// as one step, so concurrent callers can never overspend.
///
/// Purser ships ``InMemoryLedger``; a fleet plugs in a shared store.
public protocol Ledger: AnyObject, Sendable {
    /// The state of counters, without changing anything.
    func read(_ counters: [CounterKey], now: Timestamp) throws(LedgerError) -> [CounterState]

    /// The state of the counters of reservation entries (a hook for ledgers that can skip building the key list).
    func read(entries: [CounterReservation], now: Timestamp) throws(LedgerError) -> [CounterState]

    /// Atomically checks the enforced caps of every entry and, if all hold,
    /// reserves every entry's amount under `id` until `expiresAt`.
    func reserve(_ id: DecisionID, _ entries: [CounterReservation], expiresAt: Timestamp, now: Timestamp) throws(LedgerError) -> ReserveOutcome

    /// Replaces the reservation `id` with the actual amounts (one per entry, same counters).
    /// Idempotent by `id`; counts the actual spend even when the reservation expired.
    func settle(_ id: DecisionID, _ actual: [CounterReservation], now: Timestamp) throws(LedgerError) -> (SettleOutcome, [(entry: Int, threshold: Int64)])

    /// Drops the reservation `id`; returns whether there was one.
    func release(_ id: DecisionID, now: Timestamp) throws(LedgerError) -> Bool
}

extension Ledger {
    public func read(entries: [CounterReservation], now: Timestamp) throws(LedgerError) -> [CounterState] {
        try read(entries.map(\.counter), now: now)
    }
}
