import Purser
import Synchronization

/// A custom ``Ledger``: the in-memory ledger behind a switch that simulates
/// an outage of the spend store (a PostgreSQL ledger that cannot be reached).
///
/// The contract every ledger keeps: `reserve` checks every enforced cap and
/// reserves on every counter as one atomic step (here the wrapped
/// `InMemoryLedger` does it under one lock); expiry is judged by the store's
/// clock; `settle` is idempotent by decision id and counts the actual spend
/// even when the reservation has expired; `release` drops a reservation; the
/// states returned carry each counter's `peak`, from which Purser fires alerts.
/// Throw `LedgerError` when the store cannot answer: the policy's
/// `settings.ledger_unavailable` decides whether requests then fail open or closed.
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

    func read(_ counters: [CounterKey]) async throws(LedgerError) -> [CounterState] {
        try checkReachable()
        return try await base.read(counters)
    }

    func reserve(_ reservation: LedgerReservation) async throws(LedgerError) -> ReserveResult {
        try checkReachable()
        return try await base.reserve(reservation)
    }

    func settle(_ settlement: LedgerSettlement) async throws(LedgerError) -> SettleResult {
        try checkReachable()
        return try await base.settle(settlement)
    }

    func release(_ id: DecisionID) async throws(LedgerError) -> ReleaseResult {
        try checkReachable()
        return try await base.release(id)
    }

    func reservation(_ id: DecisionID) async throws(LedgerError) -> StoredReservation? {
        try checkReachable()
        return try await base.reservation(id)
    }
}
