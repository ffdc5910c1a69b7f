import Purser
import PurserTestSupport
import PurserCore
import PurserPolicy
import Testing

/// The in-memory ledger's table of decision ids: 256 shards of unequal shares
/// (Sources/Purser/Budgets/InMemoryLedger.swift), one probe on a reserve that succeeds.
@Suite struct InMemoryLedgerTests {
    let counter = CounterKey(budget: "org", key: "org", period: .month, window: 0)

    func entry(_ dollars: Int64, cap: Int64 = 10) -> CounterReservation {
        CounterReservation(counter: counter, amount: Amount(usd: dollars * USD.scale, requests: 1),
                           limits: BudgetLimits(usd: USD(nanos: cap * USD.scale)), enforced: true)
    }

    /// A reserve retried under the same id holds nothing twice; a refused one leaves no id behind,
    /// so the same id can reserve once headroom returns; an id that was settled cannot reserve again.
    @Test func anIDHoldsOnceAndARefusalLeavesNoTrace() async throws {
        let ledger = InMemoryLedger(clock: ManualClock(Timestamp(seconds: 0)))
        let first = DecisionID(prefix: 3, sequence: 1)
        guard case .reserved = try await ledger.reserve(LedgerReservation(id: first, entries: [entry(6)], ttlSeconds: 60)) else {
            Issue.record("the first reserve was refused")
            return
        }
        guard case .reserved(let before, let after) = try await ledger.reserve(LedgerReservation(id: first, entries: [entry(6)], ttlSeconds: 60)) else {
            Issue.record("a retried reserve was refused")
            return
        }
        #expect(before == after, "a retry changes nothing")
        #expect(try await ledger.read([counter])[0].reserved.usd == 6 * USD.scale)

        let second = DecisionID(prefix: 3, sequence: 2)
        guard case .exceeded = try await ledger.reserve(LedgerReservation(id: second, entries: [entry(6)], ttlSeconds: 60)) else {
            Issue.record("a reserve past the cap was admitted")
            return
        }
        #expect(try await ledger.reservation(second) == nil, "a refused reserve keeps no id")
        #expect(try await ledger.release(first) == .released)
        guard case .reserved = try await ledger.reserve(LedgerReservation(id: second, entries: [entry(6)], ttlSeconds: 60)) else {
            Issue.record("the refused id could not reserve once headroom returned")
            return
        }
        #expect(try await ledger.settle(LedgerSettlement(id: second, entries: [entry(5)])).outcome == .settled)
        await #expect(throws: LedgerError.self) {
            try await ledger.reserve(LedgerReservation(id: second, entries: [entry(1)], ttlSeconds: 60))
        }
        let state = try await ledger.read([counter])[0]
        #expect(state.spent.usd == 5 * USD.scale && state.reserved.usd == 0)
    }

    /// Every id of a long run is found again, whichever shard it lands in, and each one's
    /// release takes exactly its own estimate off the counter.
    @Test func manyIDsAcrossEveryShard() async throws {
        let ledger = InMemoryLedger(clock: ManualClock(Timestamp(seconds: 0)))
        let prefixes: [UInt64] = [1, 0xFFFF_FFFF_FFFF_FFFF, 0x1234_5678_9ABC_DEF0]
        let perPrefix = 20_000
        let one = CounterReservation(counter: counter, amount: Amount(usd: 1, requests: 1),
                                     limits: BudgetLimits(usd: USD(nanos: Int64.max)), enforced: true)
        for prefix in prefixes {
            for sequence in 1...perPrefix {
                let id = DecisionID(prefix: prefix, sequence: UInt64(sequence))
                guard case .reserved = try await ledger.reserve(LedgerReservation(id: id, entries: [one], ttlSeconds: 600)) else {
                    Issue.record("\(id) was refused")
                    return
                }
            }
        }
        #expect(try await ledger.read([counter])[0].reserved.usd == Int64(prefixes.count * perPrefix))
        for prefix in prefixes {
            for sequence in stride(from: 1, through: perPrefix, by: 2) {
                #expect(try await ledger.release(DecisionID(prefix: prefix, sequence: UInt64(sequence))) == .released)
            }
        }
        #expect(try await ledger.read([counter])[0].reserved.usd == Int64(prefixes.count * perPrefix / 2))
        for prefix in prefixes {
            let held = try await ledger.reservation(DecisionID(prefix: prefix, sequence: UInt64(perPrefix)))
            #expect(held?.state == .held)
            let released = try await ledger.reservation(DecisionID(prefix: prefix, sequence: 1))
            #expect(released?.state == .released)
        }
        #expect(try await ledger.reservation(DecisionID(prefix: 2, sequence: 1)) == nil)
    }

    /// Finished ids are remembered up to a bound, the oldest forgotten first, so that a process
    /// settling calls for days keeps bounded memory; held reservations are never forgotten, and a
    /// duplicate settle of an id still remembered counts nothing.
    @Test func finishedIDsAreBoundedOldestFirst() async throws {
        let ledger = InMemoryLedger(clock: ManualClock(Timestamp(seconds: 0)), maximumFinishedIDs: 100)
        let one = CounterReservation(counter: counter, amount: Amount(usd: 1, requests: 1),
                                     limits: BudgetLimits(usd: USD(nanos: Int64.max)), enforced: true)
        let held = (1...300).map { DecisionID(prefix: 9, sequence: UInt64($0)) }
        for id in held {
            guard case .reserved = try await ledger.reserve(LedgerReservation(id: id, entries: [one], ttlSeconds: 600)) else {
                Issue.record("\(id) was refused")
                return
            }
        }
        for sequence in 1...1_000 {
            let id = DecisionID(prefix: 7, sequence: UInt64(sequence))
            guard case .reserved = try await ledger.reserve(LedgerReservation(id: id, entries: [one], ttlSeconds: 600)) else {
                Issue.record("\(id) was refused")
                return
            }
            #expect(try await ledger.settle(LedgerSettlement(id: id, entries: [one])).outcome == .settled)
        }
        #expect(ledger.rememberedIDs == 300 + 100, "300 held and the last 100 finished")
        #expect(try await ledger.settle(LedgerSettlement(id: DecisionID(prefix: 7, sequence: 1_000), entries: [one])).outcome == .alreadySettled)
        #expect(try await ledger.settle(LedgerSettlement(id: DecisionID(prefix: 7, sequence: 901), entries: [one])).outcome == .alreadySettled)
        // The trade-off the bound makes (docs/ledgers.md): an id forgotten early counts again.
        #expect(try await ledger.settle(LedgerSettlement(id: DecisionID(prefix: 7, sequence: 1), entries: [one])).outcome == .settledWithoutReservation)
        // Exactly the last 100 (901 to 1,000) are remembered: 900 is the newest forgotten.
        #expect(try await ledger.settle(LedgerSettlement(id: DecisionID(prefix: 7, sequence: 900), entries: [one])).outcome == .settledWithoutReservation)
        for id in held {
            #expect(try await ledger.release(id) == .released, "a held reservation is never forgotten")
        }
        let state = try await ledger.read([counter])[0]
        #expect(state.spent.usd == 1_002 && state.reserved.usd == 0)
    }

    /// An id released and later settled is remembered from its settle, not from its release: a
    /// duplicate settle inside the retention after the settle counts nothing.
    @Test func aReleasedThenSettledIDIsRememberedFromItsSettle() async throws {
        let clock = ManualClock(Timestamp(seconds: 0))
        let ledger = InMemoryLedger(clock: clock, settledRetentionSeconds: 10)
        let id = DecisionID(prefix: 4, sequence: 1)
        guard case .reserved = try await ledger.reserve(LedgerReservation(id: id, entries: [entry(1)], ttlSeconds: 60)) else {
            Issue.record("the reserve was refused")
            return
        }
        #expect(try await ledger.release(id) == .released)
        clock.advance(seconds: 5)
        // Released first, so nothing was held: the spend counts, the id is now settled.
        #expect(try await ledger.settle(LedgerSettlement(id: id, entries: [entry(1)])).outcome == .settledWithoutReservation)
        clock.advance(seconds: 7)  // 12 s after the release, 7 after the settle
        #expect(try await ledger.settle(LedgerSettlement(id: id, entries: [entry(1)])).outcome == .alreadySettled)
        clock.advance(seconds: 4)  // 11 s after the settle: forgotten
        #expect(ledger.rememberedIDs == 0)
        #expect(try await ledger.read([counter])[0].spent.usd == 1 * USD.scale)
    }
}
