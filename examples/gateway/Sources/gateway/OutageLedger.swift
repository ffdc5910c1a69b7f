import Purser
import Synchronization

/// A custom ``Ledger``: the in-memory ledger behind a switch that simulates
/// an outage of the spend store (a PostgreSQL ledger that cannot be reached).
///
/// The contract every ledger keeps: `reserve` checks every enforced cap and
/// reserves on every counter as one atomic step (here the wrapped
/// `InMemoryLedger` does it under one lock); `settle` is idempotent by
/// decision id and counts the actual spend even when the reservation has
/// expired; `release` drops a reservation. Throw `LedgerError` when the store
/// cannot answer: the policy's `settings.ledger_unavailable` decides whether
/// requests then fail open or closed.
final class OutageLedger: Ledger {
    /// The ledger that keeps the counters.
    let base: InMemoryLedger
    private let down = Atomic<Bool>(false)

    init(wrapping base: InMemoryLedger) {
        self.base = base
    }

    /// Starts or ends the simulated outage.
    func setDown(_ isDown: Bool) {
        down.store(isDown, ordering: .sequentiallyConsistent)
    }

    private func checkReachable() throws(LedgerError) {
        if down.load(ordering: .sequentiallyConsistent) {
            throw LedgerError("connection to the spend store refused")
        }
    }

    func read(_ counters: [CounterKey], now: Timestamp) throws(LedgerError) -> [CounterState] {
        try checkReachable()
        return try base.read(counters, now: now)
    }

    func reserve(_ id: DecisionID, _ entries: [CounterReservation], expiresAt: Timestamp, now: Timestamp) throws(LedgerError) -> ReserveOutcome {
        try checkReachable()
        return try base.reserve(id, entries, expiresAt: expiresAt, now: now)
    }

    func settle(_ id: DecisionID, _ actual: [CounterReservation], now: Timestamp) throws(LedgerError) -> (SettleOutcome, [(entry: Int, threshold: Int64)]) {
        try checkReachable()
        return try base.settle(id, actual, now: now)
    }

    func release(_ id: DecisionID, now: Timestamp) throws(LedgerError) -> Bool {
        try checkReachable()
        return try base.release(id, now: now)
    }
}
