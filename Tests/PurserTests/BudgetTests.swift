import Testing
import Purser
import PurserTestSupport

@Suite("Budgets and ledger")
struct BudgetTests {
    static let capped = """
        version: 1
        settings: {timezone: America/New_York, reservation_ttl: 10m}
        models:
          m: {provider: p, tier: small, price: {input: 1, output: 1}}
        environments:
          prod: {}
        teams:
          t: {}
        budgets:
          - {id: cap, scope: org, period: month, limit: 100, alerts: [0.5, 0.9]}

        """

    static func enforcer(_ yaml: String = capped, clock: ManualClock = ManualClock(EngineFixture.monday), ledger: InMemoryLedger? = nil) throws -> Enforcer {
        let policy = try #require(load(yaml).policy)
        return try Enforcer(policy: policy, ledger: ledger ?? InMemoryLedger(clock: clock), clock: clock)
    }

    static func request(cost: String, at timestamp: Timestamp? = nil) -> Request {
        Request(timestamp: timestamp, team: "t", environment: "prod", model: "m", cost: USD(cost), allowReroute: false)
    }

    @Test func neverOverspendsUnderConcurrency() async throws {
        let enforcer = try Self.enforcer()
        let admitted = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    var count = 0
                    for _ in 0..<6250 where await enforcer.authorize(Self.request(cost: "0.01")).isAllowed { count += 1 }
                    return count
                }
            }
            return await group.reduce(0, +)
        }
        #expect(admitted == 10_000, "16 × 6,250 = 100,000 calls at $0.01 against $100: exactly 10,000 fit")
        let state = try await enforcer.ledger.read([CounterKey(budget: "cap", key: "org", period: .month, window: 2026 * 12 + 10)])
        #expect(state[0].reserved.usd == USD(dollars: 100).nanos)
    }

    @Test func exactlyAtTheLimitIsAdmittedOneCentOverIsNot() async throws {
        let enforcer = try Self.enforcer()
        #expect(await enforcer.authorize(Self.request(cost: "99.99")).isAllowed)
        let over = await enforcer.authorize(Self.request(cost: "0.02"))
        #expect(!over.isAllowed)
        #expect(over.violations.first?.rule == "cap")
        #expect(over.violations.first?.message == "budget cap for org in 2026-11 would reach 100.01 of 100 USD")
        #expect(await enforcer.authorize(Self.request(cost: "0.01")).isAllowed, "exactly 100.00 is within the cap")
        #expect(await !enforcer.authorize(Self.request(cost: "0.000000001")).isAllowed)
    }

    @Test func settlingBelowTheEstimateFreesBudget() async throws {
        let enforcer = try Self.enforcer()
        let big = await enforcer.authorize(Self.request(cost: "90"))
        #expect(big.isAllowed && big.reserved)
        #expect(await !enforcer.authorize(Self.request(cost: "20")).isAllowed)
        let settlement = try await enforcer.settle(big, cost: USD(dollars: 50))
        #expect(settlement.outcome == .settled)
        #expect(await enforcer.authorize(Self.request(cost: "20")).isAllowed, "50 spent + 20 fits in 100")
    }

    @Test func settlingTwiceCountsOnce() async throws {
        let enforcer = try Self.enforcer()
        let decision = await enforcer.authorize(Self.request(cost: "10"))
        #expect(try await enforcer.settle(decision, cost: USD(dollars: 30)).outcome == .settled)
        #expect(try await enforcer.settle(decision, cost: USD(dollars: 30)).outcome == .alreadySettled)
        let state = await enforcer.evaluate(Self.request(cost: "0")).budgets[0]
        #expect(state.spent == USD(dollars: 30).nanos && state.reserved == 0)
    }

    @Test func unsettledReservationsStopCountingAfterTheirTTL() async throws {
        let clock = ManualClock(EngineFixture.monday)
        let enforcer = try Self.enforcer(clock: clock)
        let held = await enforcer.authorize(Self.request(cost: "100"))
        #expect(held.isAllowed)
        #expect(await !enforcer.authorize(Self.request(cost: "1")).isAllowed)
        clock.advance(seconds: 599)
        #expect(await !enforcer.authorize(Self.request(cost: "1")).isAllowed, "still held just before the TTL")
        clock.advance(seconds: 1)
        let after = await enforcer.authorize(Self.request(cost: "1"))
        #expect(after.isAllowed, "the 10-minute reservation expired")
        // A late settle still counts the spend that happened: no spend is lost.
        #expect(try await enforcer.settle(held, cost: USD(dollars: 40)).outcome == .settledWithoutReservation)
        let state = await enforcer.evaluate(Self.request(cost: "0")).budgets[0]
        #expect(state.spent == USD(dollars: 40).nanos)
        #expect(state.reserved == USD(dollars: 1).nanos)
    }

    @Test func releaseDropsTheReservation() async throws {
        let enforcer = try Self.enforcer()
        let decision = await enforcer.authorize(Self.request(cost: "100"))
        #expect(try await enforcer.release(decision))
        #expect(try await !enforcer.release(decision))
        #expect(await enforcer.authorize(Self.request(cost: "100")).isAllowed)
    }

    @Test func alertsFireOnceWhenAFractionIsFirstCrossed() async throws {
        let enforcer = try Self.enforcer()
        #expect(await enforcer.authorize(Self.request(cost: "49")).alerts.isEmpty)
        let crossing = await enforcer.authorize(Self.request(cost: "2"))
        #expect(crossing.alerts.map(\.threshold) == [500_000])
        #expect(crossing.alerts.first?.used == USD(dollars: 51).nanos)
        #expect(await enforcer.authorize(Self.request(cost: "1")).alerts.isEmpty, "0.5 already crossed")
        #expect(await enforcer.authorize(Self.request(cost: "40")).alerts.map(\.threshold) == [900_000])
    }

    @Test func anAlertFiresOnceAcrossAuthorizeAndSettle() async throws {
        let enforcer = try Self.enforcer()
        let decision = await enforcer.authorize(Self.request(cost: "51"))
        #expect(decision.alerts.map(\.threshold) == [500_000])
        let settlement = try await enforcer.settle(decision, cost: USD(dollars: 52))
        #expect(settlement.alerts.isEmpty, "0.5 already fired when the reservation crossed it")
        let released = await enforcer.authorize(Self.request(cost: "1"))
        #expect(released.alerts.isEmpty)
    }

    @Test func settlingADeniedDecisionCountsNothing() async throws {
        let enforcer = try Self.enforcer()
        let denied = await enforcer.authorize(Self.request(cost: "150"))
        #expect(!denied.isAllowed)
        #expect(try await enforcer.settle(denied, cost: USD(dollars: 150)).outcome == .denied)
        #expect(await enforcer.evaluate(Self.request(cost: "0")).budgets[0].spent == 0)
    }

    @Test func recordCountsSpendThatHappenedElsewhere() async throws {
        let enforcer = try Self.enforcer()
        let settlement = try await enforcer.record(Self.request(cost: "150"))
        #expect(settlement.outcome == .settledWithoutReservation && settlement.cost == USD(dollars: 150))
        #expect(settlement.alerts.map(\.threshold) == [500_000, 900_000])
        let status = await enforcer.evaluate(Self.request(cost: "0")).budgets[0]
        #expect(status.spentUSD == USD(dollars: 150) && status.remainingUSD == USD(dollars: -50))
        #expect(await !enforcer.authorize(Self.request(cost: "0.01")).isAllowed)
    }

    @Test func countersForABudgetAtAnInstant() async throws {
        let enforcer = try Self.enforcer()
        let counter = try #require(enforcer.policy.counter(budget: "cap", key: "org", at: EngineFixture.monday))
        #expect(counter.windowLabel == "2026-11" && counter.period == .month)
        #expect(enforcer.policy.counter(budget: "nope", key: "org", at: EngineFixture.monday) == nil)
        try #require(enforcer.ledger as? InMemoryLedger).seed(counter, spent: Amount(usd: USD(dollars: 99, cents: 99).nanos))
        #expect(await enforcer.authorize(Self.request(cost: "0.01")).isAllowed)
        #expect(await !enforcer.authorize(Self.request(cost: "0.01")).isAllowed)
    }

    @Test func evaluateChangesNothing() async throws {
        let enforcer = try Self.enforcer()
        for _ in 0..<5 { #expect(await enforcer.evaluate(Self.request(cost: "60")).isAllowed) }
        #expect(await enforcer.evaluate(Self.request(cost: "60")).budgets[0].reserved == 0)
    }

    // MARK: Windows

    static func window(_ period: BudgetPeriod, _ time: String, zone: String = "America/New_York") throws -> String {
        let rules = try #require(ZoneRules(identifier: zone))
        let seconds = try #require(Timestamp(rfc3339: time)).seconds
        return CalendarWindow.label(CalendarWindow.index(of: seconds, period: period, zone: rules), period: period)
    }

    @Test(arguments: [
        // Month and year turn at local midnight, not at UTC midnight.
        (BudgetPeriod.month, "2026-12-01T04:59:59Z", "2026-11"),
        (.month, "2026-12-01T05:00:00Z", "2026-12"),
        (.year, "2027-01-01T04:59:59Z", "2026"),
        (.quarter, "2026-10-01T04:00:00Z", "2026-Q4"),
        (.quarter, "2026-10-01T03:59:59Z", "2026-Q3"),
        // DST ends 2026-11-01 at 06:00Z (02:00 EDT → 01:00 EST): the day is 25 hours long.
        (.day, "2026-11-01T03:59:59Z", "2026-10-31"),
        (.day, "2026-11-01T04:00:00Z", "2026-11-01"),
        (.day, "2026-11-02T04:59:59Z", "2026-11-01"),
        (.day, "2026-11-02T05:00:00Z", "2026-11-02"),
        // DST starts 2026-03-08 at 07:00Z: a 23-hour day.
        (.day, "2026-03-09T03:59:59Z", "2026-03-08"),
        (.day, "2026-03-09T04:00:00Z", "2026-03-09"),
        // ISO weeks start on Monday, local time.
        (.week, "2026-11-23T04:59:59Z", "2026-W47"),
        (.week, "2026-11-23T05:00:00Z", "2026-W48"),
        (.week, "2027-01-01T12:00:00Z", "2026-W53"),
        (.week, "2024-12-30T12:00:00Z", "2025-W01"),
        (.hour, "2026-11-22T15:30:00Z", "2026-11-22T10"),
        (.minute, "2026-11-22T15:05:59Z", "2026-11-22T10:05"),
    ])
    func windowsFollowTheLocalCalendar(period: BudgetPeriod, time: String, label: String) throws {
        #expect(try Self.window(period, time) == label)
    }

    @Test func windowLabelsParseBack() {
        // Every period, from 1970 to 2200 (the supported range), in ~500 steps.
        let first = Int64(0)
        let last = Int64(CivilDate(year: 2200, month: 1, day: 1).days) * 86_400
        for period in BudgetPeriod.allCases {
            let low = CalendarWindow.index(local: first, period: period)
            let high = CalendarWindow.index(local: last, period: period)
            for index in stride(from: low, through: high, by: max(1, Int((high - low) / 500))) {
                let label = CalendarWindow.label(index, period: period)
                #expect(CalendarWindow.index(label: label, period: period) == index, "\(period) \(label)")
                #expect(CalendarWindow.index(local: CalendarWindow.localStart(index, period: period), period: period) == index)
            }
        }
    }

    @Test func aDailyCapResetsAtLocalMidnightAcrossDST() async throws {
        let yaml = Self.capped.replacingOccurrences(of: "period: month, limit: 100, alerts: [0.5, 0.9]", with: "period: day, limit: 10")
        let enforcer = try Self.enforcer(yaml)
        // 2026-11-01 is 25 hours long in New York: 04:00Z to 05:00Z next day.
        let early = try #require(Timestamp(rfc3339: "2026-11-01T04:00:00Z"))
        let late = try #require(Timestamp(rfc3339: "2026-11-02T04:59:59Z"))
        let next = try #require(Timestamp(rfc3339: "2026-11-02T05:00:00Z"))
        #expect(await enforcer.authorize(Self.request(cost: "10", at: early)).isAllowed)
        #expect(await !enforcer.authorize(Self.request(cost: "0.01", at: late)).isAllowed, "same local day")
        #expect(await enforcer.authorize(Self.request(cost: "10", at: next)).isAllowed, "a new local day")
    }
}
