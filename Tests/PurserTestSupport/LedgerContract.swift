import Purser
import Testing

/// The promises every ledger makes (docs/library.md, "What every ledger guarantees"), as checks
/// each store's tests run against two connections to one store: two SQLite connections to one
/// file, two pools on one PostgreSQL database. A store passes by keeping them, not by being
/// the in-memory one.
package enum LedgerContract {
    /// A $100 monthly cap (or `cap`) with an alert at 50%, and a daily $1000 team cap, in New
    /// York time; `settings` adds to the settings mapping (`, key: value…`).
    package static func policy(ttl: String = "10m", cap: String = "100", settings: String = "") -> String {
        """
        version: 1
        settings: {timezone: America/New_York, reservation_ttl: \(ttl)\(settings)}
        models:
          m: {provider: p, tier: small, price: {input: 1, output: 1}}
        environments:
          prod: {}
        teams:
          t: {}
        budgets:
          - {id: cap, scope: org, period: month, limit: \(cap), alerts: [0.5]}
          - {id: daily, scope: team, period: day, limit: 1000}
        """
    }

    package static func request(cost: String = "0.01", at timestamp: Timestamp? = nil) -> Request {
        Request(timestamp: timestamp, team: "t", environment: "prod", model: "m", cost: USD(cost))
    }

    package static func enforcer(_ ledger: any Ledger, ttl: String = "10m",
                                 clock: any PurserClock = ManualClock(EngineFixture.monday)) throws -> Enforcer {
        try Enforcer(policy: try #require(load(policy(ttl: ttl)).policy), ledger: ledger, clock: clock)
    }

    /// The monthly cap's counter in November 2026 (``EngineFixture/monday``'s month).
    package static let capCounter = CounterKey(budget: "cap", key: "org", period: .month, window: 2026 * 12 + 10)

    /// Settle and release by decision id on another connection; settle twice; release after
    /// settle; a late settle after a release still counts.
    package static func settleAndReleaseByDecisionID(_ first: any Ledger, _ second: any Ledger) async throws {
        let first = try enforcer(first)
        let other = try enforcer(second)
        let decision = await first.authorize(Request(team: "t", environment: "prod", model: "m",
                                                      usage: Usage(inputTokens: 1_000_000, outputTokens: 1_000_000)))
        #expect(decision.isAllowed && decision.cost == USD(dollars: 2))

        // Another process knows only the id: the ledger gives the counters and the model.
        let settled = try await other.settle(decisionID: decision.id, usage: Usage(inputTokens: 500_000, outputTokens: 250_000))
        #expect(settled.outcome == .settled && settled.cost == USD("0.75"))
        #expect(try await other.settle(decisionID: decision.id, usage: Usage(inputTokens: 1)).outcome == .alreadySettled)
        #expect(try await first.settle(decision, cost: USD(dollars: 5)).outcome == .alreadySettled, "settle twice counts once")
        #expect(try await !first.release(decision), "release after settle finds nothing held")
        let state = try #require(try await first.ledger.read([capCounter]).first)
        #expect(state.spent.usd == USD("0.75")?.nanos && state.reserved == .zero)

        // Release by id on the other connection, then a late settle still counts.
        let second = await first.authorize(request(cost: "3"))
        #expect(try await other.ledger.reservation(second.id)?.state == .held)
        #expect(try await other.release(decisionID: second.id))
        #expect(try await !other.release(decisionID: second.id))
        #expect(try await other.ledger.reservation(second.id)?.state == .released)
        #expect(try await first.settle(second, cost: USD(dollars: 3)).outcome == .settledWithoutReservation)
        let after = try #require(try await other.ledger.read([capCounter]).first)
        #expect(after.spent.usd == USD("3.75")?.nanos && after.reserved == .zero)

        await #expect(throws: LedgerError.self) {
            try await other.settle(decisionID: DecisionID(prefix: 1, sequence: 1), usage: Usage(inputTokens: 1))
        }
    }

    /// Alerts come from the peak the store keeps, so a threshold fires once across connections.
    package static func alertFiresOnce(_ first: any Ledger, _ second: any Ledger) async throws {
        let first = try enforcer(first)
        let second = try enforcer(second)
        let crossing = await first.authorize(request(cost: "60"))
        #expect(crossing.alerts.map(\.threshold) == [500_000])
        #expect(try await first.release(crossing))
        let again = await second.authorize(request(cost: "60"))
        #expect(again.isAllowed && again.alerts.isEmpty, "the peak already passed 50%")
    }

    /// Connections × tasks × calls at $0.10 against the $100 cap: exactly 1,000 fit, and the
    /// counter ends at exactly the sum of what was settled.
    package static func neverOverspend(_ ledgers: [any Ledger], tasks: Int, calls: Int) async throws {
        let enforcers = try ledgers.map { try enforcer($0) }
        let admitted = await withTaskGroup(of: Int.self) { group in
            for enforcer in enforcers {
                for _ in 0..<tasks {
                    group.addTask {
                        var count = 0
                        for _ in 0..<calls {
                            let decision = await enforcer.authorize(request(cost: "0.1"))
                            guard decision.isAllowed else { continue }
                            count += 1
                            _ = try? await enforcer.settle(decision, cost: USD("0.1")!)
                        }
                        return count
                    }
                }
            }
            return await group.reduce(0, +)
        }
        #expect(admitted == 1_000, "\(ledgers.count) connections × \(tasks) tasks × \(calls) calls at $0.10 against $100")
        let state = try #require(try await enforcers[0].ledger.read([capCounter]).first)
        #expect(state.spent.usd == USD(dollars: 100).nanos && state.reserved == .zero && state.spent.requests == 1_000)
    }

    /// The same requests across a DST change land on the same counters in memory and in the
    /// store; `counters` lists what the store holds.
    package static func dstWindowsMatchMemory(_ store: any Ledger,
                                              counters: () async throws -> [(CounterKey, CounterState)]) async throws {
        let memory = InMemoryLedger()
        // New York leaves daylight time on 2026-11-01: 05:30Z is 01:30 EDT, 06:30Z is 01:30 EST again,
        // 07:30Z is 02:30 EST; 2026-11-02 04:30Z is 23:30 on the 1st, 05:30Z is 00:30 on the 2nd.
        let instants = [1_793_511_000, 1_793_514_600, 1_793_518_200, 1_793_593_800, 1_793_597_400].map { Timestamp(seconds: Int64($0)) }
        for ledger in [memory, store] as [any Ledger] {
            let enforcer = try enforcer(ledger)
            for instant in instants {
                let decision = await enforcer.authorize(request(cost: "1", at: instant))
                _ = try await enforcer.settle(decision, cost: USD(dollars: 1))
            }
        }
        let inMemory = memory.snapshot().sorted { $0.key.description < $1.key.description }
        let inStore = try await counters().sorted { $0.0.description < $1.0.description }
        #expect(inMemory.map(\.key) == inStore.map(\.0))
        #expect(inMemory.map(\.value.spent) == inStore.map(\.1.spent))
        #expect(inStore.filter { $0.0.budget == "daily" }.map(\.0.windowLabel) == ["2026-11-01", "2026-11-02"])
    }
}
