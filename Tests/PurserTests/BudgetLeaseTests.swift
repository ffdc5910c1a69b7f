import Testing
import Purser
import PurserTestSupport

/// Budget leases over the in-memory ledger shared by several enforcers, as replicas
/// (docs/ledgers.md, "Budget leases"); the PostgreSQL and SQLite suites run the same checks.
@Suite("Budget leases")
struct BudgetLeaseTests {
    @Test func replicasLeasingNeverOverspend() async throws {
        let ledger = InMemoryLedger()
        try await LeaseContract.neverOverspend([ledger, ledger, ledger, ledger], tasks: 8, calls: 40)
    }

    /// Settles under their estimates credit the slice: still never past the cap, and the counter
    /// holds exactly what was settled.
    @Test func settlesUnderTheEstimateNeverOverspend() async throws {
        let ledger = InMemoryLedger()
        try await LeaseContract.neverOverspend([ledger, ledger], tasks: 4, calls: 400, settled: "0.004")
    }

    @Test func settleAndReleaseOnAnotherReplica() async throws {
        let ledger = InMemoryLedger()
        try await LeaseContract.settleAndReleaseAcrossReplicas(ledger, ledger)
    }

    @Test func aDeadReplicasSlicesExpire() async throws {
        let ledger = InMemoryLedger()
        try await LeaseContract.aDeadReplicasSlicesExpire(ledger, ledger)
    }

    /// With `slice: 0.1`, each slice is a tenth of what is left: 100, 90, 81… calls, then single calls.
    @Test func slicesShrinkAsTheCapFills() async throws {
        let sizes = try await LeaseContract.slicesShrink(InMemoryLedger())
        #expect(Array(sizes.prefix(4)) == [100, 90, 81, 72])
        #expect(zip(sizes, sizes.dropFirst()).allSatisfy { $0 >= $1 } && sizes.last == 1)
    }

    /// Four replicas taking turns until the first deny: the headroom other replicas still hold
    /// unused then is bounded by their last slices, each `slice` of the headroom it saw.
    @Test func strandedHeadroomStaysSmall() async throws {
        let ledger = InMemoryLedger()
        let replicas = try (0..<4).map { _ in try LeaseContract.enforcer(ledger, cap: "10", slice: "0.05") }
        var admitted = 0
        var stranded: Int64 = -1
        turns: for _ in 0..<1_100 {
            for replica in replicas {
                let decision = await replica.authorize(LeaseContract.request())
                guard decision.isAllowed else {
                    stranded = replicas.reduce(0) { $0 + $1.leases.unusedUSD() }
                    break turns
                }
                admitted += 1
                _ = try await replica.settle(decision, cost: USD("0.01")!)
            }
        }
        // Each replica's slice is at most 5% of the headroom it saw; taking turns, the three others
        // took theirs within the last round of slices, when the headroom was a few dozen calls.
        #expect(stranded >= 0 && stranded <= USD("0.05")!.nanos, "stranded \(USD(nanos: stranded)) at the first deny, after \(admitted) calls")
        #expect(Int64(admitted) * 10_000_000 + stranded <= USD(dollars: 10).nanos)
        for replica in replicas { await replica.returnLeases() }
        let rest = await LeaseContract.admit(replicas, tasks: 1, calls: 100, cost: USD("0.01")!)
        #expect(admitted + rest == 1_000)
    }

    /// A policy without `budget_leases` reserves each call in the store, as before.
    @Test func withoutTheSettingEveryCallIsAReservation() async throws {
        let ledger = InMemoryLedger()
        let enforcer = try LedgerContract.enforcer(ledger)
        let decision = await enforcer.authorize(LedgerContract.request())
        #expect(try await ledger.reservation(decision.id)?.state == .held)
    }
}
