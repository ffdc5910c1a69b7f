import PurserCore
import PurserPolicy
import Synchronization

/// A ledger in process memory: one lock around a dictionary of counters.
///
/// Right for one gateway process, tests and `purser eval --ledger memory:`; its spend is
/// gone when the process ends (`sqlite:` keeps it). Reservations expire `ttlSeconds` after
/// they were made by the ledger's clock (swept on every call); settled, released and expired
/// ids are remembered for `settledRetentionSeconds`, so that a late duplicate settle counts
/// once and a late settle of an expired reservation still finds its counters.
public final class InMemoryLedger: Ledger, SynchronousLedger {
    private struct Held {
        let counters: [CounterKey]
        let amounts: [Amount]
        let model: String?
        let expiresAt: Timestamp
        var state: StoredReservation.State
    }

    private struct State {
        var counters: [CounterKey: CounterState] = [:]
        var reservations: [DecisionID: Held] = [:]
        /// Held reservations by expiry, earliest first (a binary min-heap).
        var expiries: [(Timestamp, DecisionID)] = []
        /// Finished reservations (settled, released, expired) in the order they finished, for pruning.
        var finished: [(Timestamp, DecisionID)] = []
        var finishedHead = 0
    }

    private let state = Mutex(State())

    /// The store's clock: it judges expiry.
    public let clock: any PurserClock
    /// How long finished ids are remembered for idempotency.
    package let settledRetentionSeconds: Int64

    /// Creates an empty ledger whose clock judges expiry.
    public init(clock: any PurserClock = SystemClock(), settledRetentionSeconds: Int64 = 86_400) {
        self.clock = clock
        self.settledRetentionSeconds = settledRetentionSeconds
    }

    /// Adds settled spend to a counter directly (for `purser test` `spend:` and migrations).
    public func seed(_ counter: CounterKey, spent: Amount) {
        state.withLock { $0.counters[counter] = ($0.counters[counter] ?? CounterState()).changed(spent: spent) }
    }

    /// Every counter with its state (for reports and tests).
    package func snapshot() -> [CounterKey: CounterState] {
        let now = clock.now()
        return state.withLock { state in
            sweep(&state, now: now)
            return state.counters
        }
    }

    // MARK: Ledger

    public func read(_ counters: [CounterKey]) async throws(LedgerError) -> [CounterState] { try readNow(counters) }
    public func read(entries: [CounterReservation]) async throws(LedgerError) -> [CounterState] { try readNow(entries: entries) }
    public func reserve(_ reservation: LedgerReservation) async throws(LedgerError) -> ReserveResult { try reserveNow(reservation) }
    public func settle(_ settlement: LedgerSettlement) async throws(LedgerError) -> SettleResult { try settleNow(settlement) }
    public func release(_ id: DecisionID) async throws(LedgerError) -> ReleaseResult { try releaseNow(id) }

    public func reservation(_ id: DecisionID) async throws(LedgerError) -> StoredReservation? {
        let now = clock.now()
        return state.withLock { state in
            sweep(&state, now: now)
            return state.reservations[id].map {
                StoredReservation(counters: $0.counters, amounts: $0.amounts, model: $0.model, state: $0.state)
            }
        }
    }

    // MARK: SynchronousLedger

    package func readNow(_ counters: [CounterKey]) throws(LedgerError) -> [CounterState] {
        let now = clock.now()
        return state.withLock { state in
            sweep(&state, now: now)
            return counters.map { state.counters[$0] ?? CounterState() }
        }
    }

    package func readNow(entries: [CounterReservation]) throws(LedgerError) -> [CounterState] {
        let now = clock.now()
        return state.withLock { state in
            sweep(&state, now: now)
            return entries.map { state.counters[$0.counter] ?? CounterState() }
        }
    }

    package func reserveNow(_ reservation: LedgerReservation) throws(LedgerError) -> ReserveResult {
        let now = clock.now()
        return try state.withLock { state throws(LedgerError) -> ReserveResult in
            sweep(&state, now: now)
            if let existing = state.reservations[reservation.id] {
                // A retried reserve (its answer was lost) holds nothing twice.
                guard existing.state == .held else {
                    throw LedgerError("the decision id \(reservation.id) was already used, and its reservation is \(existing.state.rawValue)")
                }
                let current = reservation.entries.map { state.counters[$0.counter] ?? CounterState() }
                return .reserved(before: current, after: current)
            }
            let entries = reservation.entries
            let before = entries.map { state.counters[$0.counter] ?? CounterState() }
            for (index, entry) in entries.enumerated() where entry.enforced && !entry.admits(before[index]) {
                return .exceeded(entry: index, states: before)
            }
            var after: [CounterState] = []
            after.reserveCapacity(entries.count)
            for entry in entries {
                // Read again: a reservation may name a counter twice.
                let changed = (state.counters[entry.counter] ?? CounterState()).changed(reserved: entry.amount)
                state.counters[entry.counter] = changed
                after.append(changed)
            }
            let expiresAt = Timestamp(nanoseconds: Int64(clamping: Int128(now.nanoseconds) + Int128(reservation.ttlSeconds) * 1_000_000_000))
            state.reservations[reservation.id] = Held(counters: entries.map(\.counter), amounts: entries.map(\.amount),
                                                      model: reservation.model, expiresAt: expiresAt, state: .held)
            Self.push(&state.expiries, (expiresAt, reservation.id))
            return .reserved(before: before, after: after)
        }
    }

    package func settleNow(_ settlement: LedgerSettlement) throws(LedgerError) -> SettleResult {
        let now = clock.now()
        return state.withLock { state in
            sweep(&state, now: now)
            let held = state.reservations[settlement.id]
            if held?.state == .settled { return SettleResult(outcome: .alreadySettled) }
            if let held, held.state == .held {
                for (counter, amount) in zip(held.counters, held.amounts) {
                    state.counters[counter] = (state.counters[counter] ?? CounterState()).changed(released: amount)
                }
            }
            var before: [CounterState] = []
            var after: [CounterState] = []
            for entry in settlement.entries {
                let current = state.counters[entry.counter] ?? CounterState()
                let changed = current.changed(spent: entry.amount)
                state.counters[entry.counter] = changed
                before.append(current)
                after.append(changed)
            }
            // A settled id is kept only to answer a duplicate settle: without its counters, so that
            // a day of settled ids (the retention) costs a few words each. Released and expired
            // ones keep theirs: a late settle by id still counts on them.
            state.reservations[settlement.id] = Held(counters: [], amounts: [], model: held?.model, expiresAt: now, state: .settled)
            finish(&state, settlement.id, now: now)
            return SettleResult(outcome: held?.state == .held ? .settled : .settledWithoutReservation, before: before, after: after)
        }
    }

    package func releaseNow(_ id: DecisionID) throws(LedgerError) -> ReleaseResult {
        let now = clock.now()
        return state.withLock { state in
            sweep(&state, now: now)
            guard let held = state.reservations[id], held.state == .held else { return .notHeld }
            for (counter, amount) in zip(held.counters, held.amounts) {
                state.counters[counter] = (state.counters[counter] ?? CounterState()).changed(released: amount)
            }
            state.reservations[id]?.state = .released
            finish(&state, id, now: now)
            return .released
        }
    }

    // MARK: Expiry

    private func finish(_ state: inout State, _ id: DecisionID, now: Timestamp) {
        state.finished.append((now, id))
    }

    /// Drops reservations past their expiry and forgets finished ids past retention.
    private func sweep(_ state: inout State, now: Timestamp) {
        while let first = state.expiries.first, first.0 <= now {
            Self.pop(&state.expiries)
            // The heap may hold ids already settled or released; only held ones matter.
            guard let held = state.reservations[first.1], held.state == .held, held.expiresAt <= now else { continue }
            for (counter, amount) in zip(held.counters, held.amounts) {
                state.counters[counter] = (state.counters[counter] ?? CounterState()).changed(released: amount)
            }
            state.reservations[first.1]?.state = .expired
            finish(&state, first.1, now: now)
        }
        let cutoff = Timestamp(nanoseconds: Int64(clamping: Int128(now.nanoseconds) - Int128(settledRetentionSeconds) * 1_000_000_000))
        while state.finishedHead < state.finished.count, state.finished[state.finishedHead].0 < cutoff {
            let id = state.finished[state.finishedHead].1
            if let held = state.reservations[id], held.state != .held { state.reservations[id] = nil }
            state.finishedHead += 1
        }
        if state.finishedHead > 4096 && state.finishedHead * 2 > state.finished.count {
            state.finished.removeFirst(state.finishedHead)
            state.finishedHead = 0
        }
    }

    private static func push(_ heap: inout [(Timestamp, DecisionID)], _ item: (Timestamp, DecisionID)) {
        heap.append(item)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].0 < heap[parent].0 else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private static func pop(_ heap: inout [(Timestamp, DecisionID)]) {
        guard heap.count > 1 else {
            heap.removeAll(keepingCapacity: true)
            return
        }
        heap[0] = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count, heap[left].0 < heap[smallest].0 { smallest = left }
            if right < heap.count, heap[right].0 < heap[smallest].0 { smallest = right }
            guard smallest != parent else { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
