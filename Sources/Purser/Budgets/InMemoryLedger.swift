import PurserCore
import PurserPolicy
import Synchronization

/// A ledger in process memory: one lock around a dictionary of counters.
///
/// Right for one gateway process, tests and `purser eval --ledger memory`.
/// Reservations expire after their TTL (swept on every call); settled ids
/// are remembered for `settledRetention` so a late duplicate settle counts once.
public final class InMemoryLedger: Ledger {
    private struct Counter {
        package var state = CounterState()
        /// The highest alert fraction already fired (parts per million): each fires once per counter.
        package var alerted: Int64 = 0
    }

    private struct Held {
        package let entries: [CounterReservation]
        package let expiresAt: Timestamp
    }

    private struct State {
        package var counters: [CounterKey: Counter] = [:]
        package var held: [DecisionID: Held] = [:]
        /// Reservations by expiry, earliest first (a binary min-heap).
        package var expiries: [(Timestamp, DecisionID)] = []
        package var settled: [DecisionID: Timestamp] = [:]
        /// Settled ids in settlement order, for pruning.
        package var settledOrder: [(Timestamp, DecisionID)] = []
        package var settledHead = 0
    }

    private let state = Mutex(State())

    /// How long settled ids are remembered for idempotency.
    package let settledRetentionSeconds: Int64

    /// Creates an empty ledger.
    public init(settledRetentionSeconds: Int64 = 86_400) {
        self.settledRetentionSeconds = settledRetentionSeconds
    }

    /// Adds settled spend to a counter directly (for `purser test` `spend:` and migrations).
    public func seed(_ counter: CounterKey, spent: Amount) {
        state.withLock { $0.counters[counter, default: Counter()].state.spent += spent }
    }

    /// Every counter with its state (for reports and tests).
    package func snapshot(now: Timestamp) -> [CounterKey: CounterState] {
        state.withLock { state in
            Self.sweep(&state, now: now, retention: settledRetentionSeconds)
            return state.counters.mapValues(\.state)
        }
    }

    public func read(_ counters: [CounterKey], now: Timestamp) throws(LedgerError) -> [CounterState] {
        state.withLock { state in
            Self.sweep(&state, now: now, retention: settledRetentionSeconds)
            return counters.map { state.counters[$0]?.state ?? CounterState() }
        }
    }

    public func read(entries: [CounterReservation], now: Timestamp) throws(LedgerError) -> [CounterState] {
        state.withLock { state in
            Self.sweep(&state, now: now, retention: settledRetentionSeconds)
            return entries.map { state.counters[$0.counter]?.state ?? CounterState() }
        }
    }

    public func reserve(_ id: DecisionID, _ entries: [CounterReservation], expiresAt: Timestamp, now: Timestamp) throws(LedgerError) -> ReserveOutcome {
        state.withLock { state in
            Self.sweep(&state, now: now, retention: settledRetentionSeconds)
            for (index, entry) in entries.enumerated() where entry.enforced {
                if !entry.admits(state.counters[entry.counter]?.state ?? CounterState()) {
                    return .exceeded(entry: index, states: entries.map { state.counters[$0.counter]?.state ?? CounterState() })
                }
            }
            var states: [CounterState] = []
            states.reserveCapacity(entries.count)
            var alerts: [(entry: Int, threshold: Int64)] = []
            for (index, entry) in entries.enumerated() {
                let before = Self.update(&state.counters, entry.counter) { $0.reserved += entry.amount }
                let after = CounterState(spent: before.spent, reserved: before.reserved + entry.amount)
                states.append(after)
                if !entry.alerts.isEmpty {
                    for threshold in Self.fire(&state.counters, entry, before: before.used, after: after.used) { alerts.append((index, threshold)) }
                }
            }
            state.held[id] = Held(entries: entries, expiresAt: expiresAt)
            Self.push(&state.expiries, (expiresAt, id))
            return .reserved(states: states, alerts: alerts)
        }
    }

    public func settle(_ id: DecisionID, _ actual: [CounterReservation], now: Timestamp) throws(LedgerError) -> (SettleOutcome, [(entry: Int, threshold: Int64)]) {
        state.withLock { state in
            Self.sweep(&state, now: now, retention: settledRetentionSeconds)
            if state.settled[id] != nil { return (.alreadySettled, []) }
            let held = state.held.removeValue(forKey: id)
            for entry in held?.entries ?? [] {
                _ = Self.update(&state.counters, entry.counter) { $0.reserved -= entry.amount }
            }
            var alerts: [(entry: Int, threshold: Int64)] = []
            for (index, entry) in actual.enumerated() {
                let before = Self.update(&state.counters, entry.counter) { $0.spent += entry.amount }
                if !entry.alerts.isEmpty {
                    for threshold in Self.fire(&state.counters, entry, before: before.used, after: before.used + entry.amount) {
                        alerts.append((index, threshold))
                    }
                }
            }
            state.settled[id] = now
            state.settledOrder.append((now, id))
            return (held == nil ? .settledWithoutReservation : .settled, alerts)
        }
    }

    public func release(_ id: DecisionID, now: Timestamp) throws(LedgerError) -> Bool {
        state.withLock { state in
            Self.sweep(&state, now: now, retention: settledRetentionSeconds)
            guard let held = state.held.removeValue(forKey: id) else { return false }
            for entry in held.entries {
                state.counters[entry.counter, default: Counter()].state.reserved -= entry.amount
            }
            return true
        }
    }

    /// The alert fractions crossed that have not fired before for this counter; marks them fired.
    private static func fire(_ counters: inout [CounterKey: Counter], _ entry: CounterReservation, before: Amount, after: Amount) -> [Int64] {
        let crossed = entry.crossedAlerts(before: before, after: after)
        guard let highest = crossed.last, let fired = counters[entry.counter]?.alerted, highest > fired else { return [] }
        counters[entry.counter]?.alerted = highest
        return crossed.filter { $0 > fired }
    }

    /// Changes a counter in one dictionary lookup; returns its state before the change.
    @inline(__always)
    private static func update(_ counters: inout [CounterKey: Counter], _ key: CounterKey, _ change: (inout CounterState) -> Void) -> CounterState {
        func inPlace(_ counter: inout Counter) -> CounterState {
            let before = counter.state
            change(&counter.state)
            return before
        }
        return inPlace(&counters[key, default: Counter()])
    }

    // MARK: Expiry

    /// Drops reservations past their expiry and forgets settled ids past retention.
    private static func sweep(_ state: inout State, now: Timestamp, retention: Int64) {
        while let first = state.expiries.first, first.0 <= now {
            pop(&state.expiries)
            // The heap may hold ids already settled or released; only live ones matter.
            guard let held = state.held[first.1], held.expiresAt <= now else { continue }
            state.held[first.1] = nil
            for entry in held.entries {
                state.counters[entry.counter, default: Counter()].state.reserved -= entry.amount
            }
        }
        let cutoff = Timestamp(nanoseconds: Int64(clamping: Int128(now.nanoseconds) - Int128(retention) * 1_000_000_000))
        while state.settledHead < state.settledOrder.count, state.settledOrder[state.settledHead].0 < cutoff {
            state.settled[state.settledOrder[state.settledHead].1] = nil
            state.settledHead += 1
        }
        if state.settledHead > 4096 && state.settledHead * 2 > state.settledOrder.count {
            state.settledOrder.removeFirst(state.settledHead)
            state.settledHead = 0
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
