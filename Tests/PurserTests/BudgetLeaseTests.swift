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

    @Test func aCallSettledElsewhereFreesItsSlice() async throws {
        let ledger = InMemoryLedger()
        try await LeaseContract.aCallSettledElsewhereFreesItsSlice(ledger, ledger)
    }

    @Test func aLeaseIDIsNoDecision() async throws {
        let ledger = InMemoryLedger()
        try await LeaseContract.aLeaseIDIsNoDecision(ledger, ledger)
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

    /// A settle above its estimate comes out of the rest of the slice on the replica that
    /// admitted it: a slice of the whole $10 cap, one call settled at $5, then exactly 500 calls
    /// of $0.01 fit, and spend ends at the cap. (Without the debit the slice would admit 999.)
    @Test func aSettleAboveItsEstimateComesOutOfTheSlice() async throws {
        let ledger = InMemoryLedger()
        let enforcer = try LeaseContract.enforcer(ledger, cap: "10", slice: "1", maxCalls: 1000)
        let first = await enforcer.authorize(LeaseContract.request())
        #expect(first.isAllowed && enforcer.leases.unusedUSD() == USD("9.99")!.nanos, "one slice of the whole cap")
        #expect(try await enforcer.settle(first, cost: USD(dollars: 5)).outcome == .settled)
        let more = await LeaseContract.admit([enforcer], tasks: 1, calls: 1_000, cost: USD("0.01")!)
        #expect(more == 500)
        await enforcer.returnLeases()
        let state = try #require(try await ledger.read([LeaseContract.capCounter]).first)
        #expect(state.spent.usd == USD(dollars: 10).nanos && state.reserved == .zero)
    }

    /// The call that takes a slice raises the alerts the slice's reservation crosses, once; the
    /// calls admitted from the slice raise none, and report the slice's snapshot.
    @Test func alertsFireOnceFromTheSlicesPeak() async throws {
        let ledger = InMemoryLedger()
        let enforcer = try LeaseContract.enforcer(ledger, cap: "10", slice: "0.6", maxCalls: 1000)
        let first = await enforcer.authorize(LeaseContract.request())
        #expect(first.alerts.map(\.threshold) == [500_000], "a slice of 600 calls crosses 50% of the cap")
        let second = await enforcer.authorize(LeaseContract.request())
        #expect(second.isAllowed && second.alerts.isEmpty)
        // What this replica admitted (two calls), not the slice's unadmitted rest, under the slice's peak.
        #expect(first.states.first?.reserved.usd == 10_000_000 && second.states.first?.reserved.usd == 20_000_000)
        #expect(second.states.first?.peak.usd == USD(dollars: 6).nanos)
    }

    /// A reload turns leases on and off for the next decisions; slices already taken stay
    /// until returned, and their calls still settle into them.
    @Test func aReloadTurnsLeasesOnAndOff() async throws {
        let ledger = InMemoryLedger()
        let enforcer = try LedgerContract.enforcer(ledger)
        let plain = await enforcer.authorize(LedgerContract.request())
        #expect(try await ledger.reservation(plain.id)?.state == .held)
        try enforcer.reload(try #require(load(LeaseContract.policy(cap: "100")).policy))
        let leased = await enforcer.authorize(LedgerContract.request())
        #expect(leased.isAllowed && leased.id.sequence == 1 && enforcer.leases.unusedUSD() > 0)
        #expect(try await ledger.reservation(leased.id) == nil, "admitted from a slice, not reserved under its own id")
        try enforcer.reload(try #require(load(LedgerContract.policy()).policy))
        let again = await enforcer.authorize(LedgerContract.request())
        #expect(try await ledger.reservation(again.id)?.state == .held)
        #expect(try await enforcer.settle(leased, cost: USD("0.01")!).outcome == .settled)
        #expect(try await enforcer.settle(plain, cost: USD("0.01")!).outcome == .settled)
        #expect(try await enforcer.settle(again, cost: USD("0.01")!).outcome == .settled)
        await enforcer.returnLeases()
        let state = try #require(try await ledger.read([LedgerContract.capCounter]).first)
        #expect(state.spent.usd == USD("0.03")!.nanos && state.reserved == .zero)
    }

    /// A policy without `budget_leases` reserves each call in the store, as before.
    @Test func withoutTheSettingEveryCallIsAReservation() async throws {
        let ledger = InMemoryLedger()
        let enforcer = try LedgerContract.enforcer(ledger)
        let decision = await enforcer.authorize(LedgerContract.request())
        #expect(try await ledger.reservation(decision.id)?.state == .held)
    }
}
