import Foundation
import Purser
import Testing

/// What budget leases promise over any store (docs/ledgers.md, "Budget leases"), as checks each
/// store's tests run with one store connection per replica: the in-memory ledger shared by
/// several enforcers, several SQLite connections to one file, several pools on one PostgreSQL.
package enum LeaseContract {
    /// ``LedgerContract/policy(ttl:cap:settings:)`` with leases on.
    package static func policy(cap: String = "10", slice: String = "0.05", maxCalls: Int = 1000, duration: String = "10s",
                               ttl: String = "10m") -> String {
        LedgerContract.policy(ttl: ttl, cap: cap,
                              settings: ", budget_leases: {slice: \(slice), max_calls: \(maxCalls), duration: \(duration)}")
    }

    package static func enforcer(_ ledger: any Ledger, cap: String = "10", slice: String = "0.05", maxCalls: Int = 1000,
                                 duration: String = "10s", ttl: String = "10m") throws -> Enforcer {
        let text = policy(cap: cap, slice: slice, maxCalls: maxCalls, duration: duration, ttl: ttl)
        return try Enforcer(policy: try #require(load(text).policy), ledger: ledger, clock: ManualClock(EngineFixture.monday))
    }

    package static let capCounter = LedgerContract.capCounter

    package static func request(cost: String = "0.01") -> Request {
        LedgerContract.request(cost: cost)
    }

    /// Replicas × tasks authorizing $0.01 calls against a $10 cap, each settled at once at
    /// `settled` (a cost at or under the estimate): never more than $10 settled; after every
    /// replica returns its slices, the counter holds exactly what was settled and nothing
    /// reserved, and the headroom slices left stranded is admitted afterwards, to the cent.
    package static func neverOverspend(_ ledgers: [any Ledger], tasks: Int, calls: Int, settled: String = "0.01") async throws {
        let enforcers = try ledgers.map { try enforcer($0) }
        let cost = try #require(USD(settled))
        // Settled under the estimate, a call frees the rest of its estimate in its slice.
        let capacity = Int(USD(dollars: 10).nanos / cost.nanos)
        let admitted = await admit(enforcers, tasks: tasks, calls: calls, cost: cost)
        #expect(admitted <= capacity, "\(ledgers.count) replicas × \(tasks) tasks × \(calls) calls settled at \(cost) against $10")
        #expect(admitted >= capacity * 9 / 10, "the slices left at most a few calls stranded: \(capacity - admitted)")
        for enforcer in enforcers { await enforcer.returnLeases() }
        let state = try #require(try await ledgers[0].read([capCounter]).first)
        #expect(state.spent.usd == Int64(admitted) * cost.nanos && state.reserved == .zero && state.spent.requests == Int64(admitted))

        // Returned, the stranded headroom is admitted again: exactly to the cap at the estimate.
        guard cost == USD("0.01") else { return }
        let rest = await admit(enforcers, tasks: 2, calls: 1_000, cost: cost)
        #expect(admitted + rest == 1_000)
        for enforcer in enforcers { await enforcer.returnLeases() }
        let full = try #require(try await ledgers[0].read([capCounter]).first)
        #expect(full.spent.usd == USD(dollars: 10).nanos && full.reserved == .zero)
    }

    /// Authorizes from `tasks` tasks per enforcer until each has made `calls` calls, settling each
    /// allowed one at `cost`; the number admitted.
    package static func admit(_ enforcers: [Enforcer], tasks: Int, calls: Int, cost: USD) async -> Int {
        await withTaskGroup(of: Int.self) { group in
            for enforcer in enforcers {
                for _ in 0..<tasks {
                    group.addTask {
                        var count = 0
                        for _ in 0..<calls {
                            let decision = await enforcer.authorize(request())
                            guard decision.isAllowed else { continue }
                            count += 1
                            _ = try? await enforcer.settle(decision, cost: cost)
                        }
                        return count
                    }
                }
            }
            return await group.reduce(0, +)
        }
    }

    /// A call admitted from one replica's slice, settled and released on another and on its own.
    package static func settleAndReleaseAcrossReplicas(_ first: any Ledger, _ second: any Ledger) async throws {
        let owner = try enforcer(first)
        let other = try enforcer(second)
        let decision = await owner.authorize(Request(team: "t", environment: "prod", model: "m",
                                                      usage: Usage(inputTokens: 1_000_000, outputTokens: 1_000_000)))
        #expect(decision.isAllowed && decision.reserved && decision.cost == USD(dollars: 2))
        let local = await owner.authorize(Request(team: "t", environment: "prod", model: "m",
                                                   usage: Usage(inputTokens: 1_000_000, outputTokens: 1_000_000)))
        #expect(local.isAllowed && local.id.description != decision.id.description)
        let slice = try #require(try await first.read([capCounter]).first)
        #expect(slice.reserved.usd > USD(dollars: 4).nanos - 1, "both calls came out of one slice")

        // Another replica knows only the id: the lease gives it the counters and the model.
        let settled = try await other.settle(decisionID: decision.id, usage: Usage(inputTokens: 500_000, outputTokens: 250_000))
        #expect(settled.outcome == .settledWithoutReservation && settled.cost == USD("0.75"))
        #expect(try await other.settle(decisionID: decision.id, usage: Usage(inputTokens: 1)).outcome == .alreadySettled)
        #expect(try await owner.settle(decision, cost: USD(dollars: 5)).outcome == .alreadySettled, "settle twice counts once")
        #expect(try await !owner.release(decision), "release after settle finds nothing held")

        // On its own replica, a call settles into its slice, once, and a release after it finds nothing.
        #expect(try await owner.settle(local, cost: USD(dollars: 1)).outcome == .settled)
        #expect(try await owner.settle(local, cost: USD(dollars: 1)).outcome == .alreadySettled)
        #expect(try await !owner.release(local))
        let third = await owner.authorize(request(cost: "3"))
        #expect(third.isAllowed)
        #expect(try await owner.release(third))
        #expect(try await !owner.release(third))
        #expect(try await owner.settle(third, cost: USD(dollars: 3)).outcome == .settledWithoutReservation, "spend that happened counts")

        await owner.returnLeases()
        await other.returnLeases()
        let after = try #require(try await second.read([capCounter]).first)
        #expect(after.spent.usd == USD("4.75")?.nanos && after.reserved == .zero)
    }

    /// A lease's own id (a decision's prefix with sequence 0, which every caller can read off a
    /// leased decision id) is no decision: settling or releasing it by id, on any replica, changes
    /// nothing, so no caller can hand the slice back to the store while the owner admits from it.
    package static func aLeaseIDIsNoDecision(_ first: any Ledger, _ second: any Ledger) async throws {
        let owner = try enforcer(first)
        let other = try enforcer(second)
        let decision = await owner.authorize(request())
        #expect(decision.isAllowed)
        let held = try #require(try await first.read([capCounter]).first)
        let lease = DecisionID(prefix: decision.id.prefix, sequence: 0)
        for replica in [owner, other] {
            await #expect(throws: LedgerError.self) { try await replica.settle(decisionID: lease, usage: Usage(), cost: .zero) }
            #expect(try await !replica.release(decisionID: lease))
        }
        let after = try #require(try await first.read([capCounter]).first)
        #expect(after == held, "the slice is still held in the store: \(after)")
    }

    /// A call settled only on another replica: the owner learns it from the store once the
    /// slice is retired, and gives the slice back without waiting for it to expire.
    ///
    /// `returnLeases()` asks the store in its own task (an earlier version asked from a task on
    /// Swift's global pool, which the rest of the suite kept busy past a two-minute wait in four
    /// of five full runs over PostgreSQL), so the first return finds the call settled.
    package static func aCallSettledElsewhereFreesItsSlice(_ first: any Ledger, _ second: any Ledger) async throws {
        let owner = try enforcer(first)
        let other = try enforcer(second)
        let decision = await owner.authorize(request())
        #expect(decision.isAllowed)
        #expect(try await other.settle(decisionID: decision.id, usage: Usage(), cost: USD("0.01")).outcome == .settledWithoutReservation)
        let held = try #require(try await first.read([capCounter]).first)
        #expect(held.reserved != .zero, "the owner's slice is held: \(held)")
        await owner.returnLeases()
        // A lookup that timed out under load is asked again on a later return (after 1, 2, 4… s).
        let deadline = ContinuousClock.now + .seconds(60)
        var state = try #require(try await first.read([capCounter]).first)
        while state.reserved != .zero && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            await owner.returnLeases()
            state = try #require(try await first.read([capCounter]).first)
        }
        #expect(state.reserved == .zero && state.spent.usd == USD("0.01")!.nanos, "\(state)")
    }

    /// A replica that dies holding a slice: the slice stops holding headroom `duration +
    /// reservation_ttl` (here 2 s) after it was taken, by the store's clock.
    package static func aDeadReplicasSlicesExpire(_ first: any Ledger, _ second: any Ledger) async throws {
        let taken = ContinuousClock.now
        do {
            let dying = try enforcer(first, cap: "10", slice: "0.5", duration: "1s", ttl: "1s")
            let decision = await dying.authorize(request())
            #expect(decision.isAllowed)
        }  // dropped without returning its slice
        let survivor = try enforcer(second, cap: "10", slice: "0.05", duration: "1s", ttl: "1s")
        let held = try #require(try await second.read([capCounter]).first)
        if ContinuousClock.now - taken < .milliseconds(1_500) {
            #expect(held.reserved.usd == USD(dollars: 5).nanos, "half the headroom: 500 calls of $0.01")
        }
        try await Task.sleep(until: taken + .milliseconds(3_000))
        let expired = try #require(try await second.read([capCounter]).first)
        #expect(expired.reserved == .zero, "the dead replica's slice expired")
        #expect(await admit([survivor], tasks: 1, calls: 1_100, cost: USD("0.01")!) == 1_000, "all of the cap is admissible again")
    }

    /// One replica: slices shrink as the cap fills (each `slice` of what is left), and it
    /// admits exactly to the cap. Returns the slice sizes seen, in calls.
    package static func slicesShrink(_ ledger: any Ledger) async throws -> [Int64] {
        // An hour's slices: a slow run (a settle a round trip each) must not retire one by time,
        // which would shift the sizes after it.
        let enforcer = try enforcer(ledger, cap: "10", slice: "0.1", maxCalls: 1000, duration: "1h")
        var sizes: [Int64] = []
        var admitted = 0
        for _ in 0..<1_100 {
            let decision = await enforcer.authorize(request())
            guard decision.isAllowed else { break }
            admitted += 1
            // The call that took a slice is its first; with every earlier call settled and its slice
            // returned, the slice is all this replica holds: this call and what it has not admitted.
            if decision.id.sequence == 1 { sizes.append(enforcer.leases.unusedUSD() / 10_000_000 + 1) }
            _ = try await enforcer.settle(decision, cost: USD("0.01")!)
        }
        #expect(admitted == 1_000)
        await enforcer.returnLeases()
        let state = try #require(try await ledger.read([capCounter]).first)
        #expect(state.spent.usd == USD(dollars: 10).nanos && state.reserved == .zero)
        return sizes
    }
}
