import Dispatch
import Synchronization
import Testing
import Purser
@testable import PurserSQLite
import PurserTestSupport

/// The `sqlite:` ledger against real files (docs/ledgers.md, "SQLite"): what it keeps across
/// connections, restarts and clocks. The cross-process tests drive the `purser` binary
/// (PurserCLITests, "Ledgers across processes").
@Suite("SQLite ledger")
struct SQLiteLedgerTests {
    static let policy = """
        version: 1
        settings: {timezone: America/New_York, reservation_ttl: 10m}
        models:
          m: {provider: p, tier: small, price: {input: 1, output: 1}}
        environments:
          prod: {}
        teams:
          t: {}
        budgets:
          - {id: cap, scope: org, period: month, limit: 100, alerts: [0.5]}
          - {id: daily, scope: team, period: day, limit: 1000}
        """

    static func request(cost: String = "0.01", at timestamp: Timestamp? = nil) -> Request {
        Request(timestamp: timestamp, team: "t", environment: "prod", model: "m", cost: USD(cost))
    }

    /// A fresh file in a directory of its own, removed by `body`'s end.
    static func withFile(_ body: (String) async throws -> Void) async throws {
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        try await body(directory + "/ledger.db")
    }

    static func enforcer(_ ledger: any Ledger, clock: ManualClock = ManualClock(EngineFixture.monday)) throws -> Enforcer {
        try Enforcer(policy: try #require(load(policy).policy), ledger: ledger, clock: clock)
    }

    static let capCounter = CounterKey(budget: "cap", key: "org", period: .month, window: 2026 * 12 + 10)

    @Test func spendSurvivesClosingAndReopeningTheFile() async throws {
        try await Self.withFile { path in
            do {
                let enforcer = try Self.enforcer(try SQLiteLedger(path: path))
                let decision = await enforcer.authorize(Self.request(cost: "12.345678901"))
                #expect(decision.isAllowed && decision.reserved)
                #expect(try await enforcer.settle(decision, cost: USD("12.345678901")!).outcome == .settled)
                _ = await enforcer.authorize(Self.request(cost: "1"))  // left held
            }
            let reopened = try SQLiteLedger(path: path)
            let state = try #require(try await reopened.read([Self.capCounter]).first)
            #expect(state.spent.usd == 12_345_678_901 && state.spent.requests == 1)
            #expect(state.reserved.usd == USD(dollars: 1).nanos, "a held reservation is kept until it expires")
        }
    }

    @Test func settleAndReleaseWorkFromAnotherConnectionByDecisionID() async throws {
        try await Self.withFile { path in
            let first = try Self.enforcer(try SQLiteLedger(path: path))
            let other = try Self.enforcer(try SQLiteLedger(path: path))
            let decision = await first.authorize(Request(team: "t", environment: "prod", model: "m",
                                                          usage: Usage(inputTokens: 1_000_000, outputTokens: 1_000_000)))
            #expect(decision.isAllowed && decision.cost == USD(dollars: 2))

            // Another process knows only the id: the ledger gives the counters and the model.
            let settled = try await other.settle(decisionID: decision.id, usage: Usage(inputTokens: 500_000, outputTokens: 250_000))
            #expect(settled.outcome == .settled && settled.cost == USD("0.75"))
            #expect(try await other.settle(decisionID: decision.id, usage: Usage(inputTokens: 1)).outcome == .alreadySettled)
            #expect(try await first.settle(decision, cost: USD(dollars: 5)).outcome == .alreadySettled)
            #expect(try await !first.release(decision), "release after settle finds nothing held")
            let state = try #require(try await first.ledger.read([Self.capCounter]).first)
            #expect(state.spent.usd == USD("0.75")?.nanos && state.reserved == .zero)

            // Release by id on the other connection, then a late settle still counts.
            let second = await first.authorize(Self.request(cost: "3"))
            #expect(try await other.release(decisionID: second.id))
            #expect(try await !other.release(decisionID: second.id))
            #expect(try await first.settle(second, cost: USD(dollars: 3)).outcome == .settledWithoutReservation)
            let after = try #require(try await other.ledger.read([Self.capCounter]).first)
            #expect(after.spent.usd == USD("3.75")?.nanos && after.reserved == .zero)

            await #expect(throws: LedgerError.self) {
                try await other.settle(decisionID: DecisionID(prefix: 1, sequence: 1), usage: Usage(inputTokens: 1))
            }
        }
    }

    /// Expiry is the store's clock: a caller whose clock is a day ahead cannot expire others' reservations.
    @Test func reservationsExpireByTheStoresClockNotTheCallers() async throws {
        try await Self.withFile { path in
            let storeClock = ManualClock(EngineFixture.monday)
            let ledger = try SQLiteLedger(path: path, clock: storeClock)
            let honest = try Self.enforcer(ledger)
            let skewed = try Self.enforcer(ledger, clock: ManualClock(Timestamp(seconds: EngineFixture.monday.seconds + 86_400)))
            let held = await honest.authorize(Self.request(cost: "99"))
            #expect(held.isAllowed)
            // The skewed caller's requests count in the next day's window but the same month: the hold still counts.
            #expect(await !skewed.authorize(Self.request(cost: "2")).isAllowed)
            storeClock.advance(seconds: 599)
            #expect(await !honest.authorize(Self.request(cost: "2")).isAllowed, "still held a second before the TTL")
            storeClock.advance(seconds: 1)
            let again = await honest.authorize(Self.request(cost: "2"))
            #expect(again.isAllowed, "the TTL passed by the store's clock")
            #expect(try await honest.settle(held, cost: USD(dollars: 99)).outcome == .settledWithoutReservation)
            let state = try #require(try await ledger.read([Self.capCounter]).first)
            #expect(state.spent.usd == USD(dollars: 99).nanos && state.reserved.usd == USD(dollars: 2).nanos)
            let stored = try #require(try await ledger.reservation(held.id))
            #expect(stored.state == .settled && stored.model == "m")
        }
    }

    /// Several connections (as several processes would hold) never admit more than the cap.
    @Test func connectionsSharingAFileNeverOverspend() async throws {
        try await Self.withFile { path in
            let enforcers = try (0..<4).map { _ in try Self.enforcer(try SQLiteLedger(path: path)) }
            let admitted = await withTaskGroup(of: Int.self) { group in
                for enforcer in enforcers {
                    for _ in 0..<4 {
                        group.addTask {
                            var count = 0
                            for _ in 0..<250 {
                                let decision = await enforcer.authorize(Self.request(cost: "0.1"))
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
            #expect(admitted == 1_000, "4 connections × 4 tasks × 250 calls at $0.10 against $100: exactly 1,000 fit")
            let state = try #require(try await enforcers[0].ledger.read([Self.capCounter]).first)
            #expect(state.spent.usd == USD(dollars: 100).nanos && state.reserved == .zero && state.spent.requests == 1_000)
        }
    }

    /// Alerts come from the peak the file keeps, so a threshold fires once across connections.
    @Test func anAlertFiresOnceAcrossConnections() async throws {
        try await Self.withFile { path in
            let first = try Self.enforcer(try SQLiteLedger(path: path))
            let second = try Self.enforcer(try SQLiteLedger(path: path))
            let crossing = await first.authorize(Self.request(cost: "60"))
            #expect(crossing.alerts.map(\.threshold) == [500_000])
            #expect(try await first.release(crossing))
            let again = await second.authorize(Self.request(cost: "60"))
            #expect(again.isAllowed && again.alerts.isEmpty, "the peak already passed 50%")
        }
    }

    @Test func aLockHeldPastTheTimeoutIsLedgerUnavailableAndServiceResumes() async throws {
        try await Self.withFile { path in
            let ledger = try SQLiteLedger(path: path, options: SQLiteLedger.Options(timeoutMilliseconds: 50))
            let enforcer = try Self.enforcer(ledger)
            let blocker = try SQLiteConnection(path: path, busyTimeoutMilliseconds: 10)
            try blocker.execute("BEGIN EXCLUSIVE")
            // The store gives up after its timeout (50 ms) rather than waiting for the lock. Timed on
            // this thread: an awaited call would also time how soon a loaded test run resumes the task.
            let clock = ContinuousClock()
            let start = clock.now
            #expect(throws: LedgerError.self) { _ = try ledger.readNow([Self.capCounter]) }
            #expect(clock.now - start < .seconds(5), "nothing waits for the lock to go")
            let blocked = await enforcer.authorize(Self.request())
            #expect(blocked.verdict == .deny && blocked.violations.map(\.rule) == ["ledger-unavailable"])
            #expect(blocked.violations.first?.message.contains("locked") == true)
            try blocker.execute("COMMIT")
            #expect(await enforcer.authorize(Self.request()).isAllowed, "decisions resume when the lock is gone")
        }
    }

    /// A day of settled ids is kept to refuse duplicates, without their counters; released and
    /// expired ones keep theirs for a late settle by id.
    @Test func settledIdsKeepNoEntries() async throws {
        try await Self.withFile { path in
            let ledger = try SQLiteLedger(path: path)
            let enforcer = try Self.enforcer(ledger)
            for _ in 0..<3 {
                let decision = await enforcer.authorize(Self.request())
                _ = try await enforcer.settle(decision, cost: USD("0.01")!)
            }
            let released = await enforcer.authorize(Self.request())
            #expect(try await enforcer.release(released))
            let connection = try SQLiteConnection(path: path, busyTimeoutMilliseconds: 1_000)
            let rows = try connection.statement("SELECT count(*) FROM purser_reservation_entries")
            #expect(try rows.step() && rows.integer(0) == 2, "the released decision's two counters, nothing of the settled ones")
            let late = try await enforcer.settle(decisionID: released.id, usage: Usage(inputTokens: 10))
            #expect(late.outcome == .settledWithoutReservation)
        }
    }

    @Test func aFileFromANewerPurserIsRefused() async throws {
        try await Self.withFile { path in
            let connection = try SQLiteConnection(path: path, busyTimeoutMilliseconds: 100)
            try connection.execute("PRAGMA user_version = 99")
            #expect {
                _ = try SQLiteLedger(path: path)
            } throws: { error in
                (error as? LedgerError)?.message.contains("schema version 99, written by a newer Purser") == true
            }
        }
    }

    @Test func openingANewFileFromManyThreadsAtOnceMigratesItOnce() async throws {
        try await Self.withFile { path in
            let failures = Mutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 8) { _ in
                do throws(LedgerError) { _ = try SQLiteLedger(path: path) } catch { failures.withLock { $0.append(error.message) } }
            }
            #expect(failures.withLock { $0 }.isEmpty)
            let connection = try SQLiteConnection(path: path, busyTimeoutMilliseconds: 100)
            let version = try connection.statement("PRAGMA user_version")
            #expect(try version.step() && version.integer(0) == SQLiteLedger.schemaVersion)
        }
    }

    @Test func urlsAndOptions() throws {
        #expect(try LedgerLocation(parsing: "memory") == .memory)
        #expect(try LedgerLocation(parsing: "sqlite:/var/lib/purser/l.db?durability=full&timeout_ms=500")
            == .sqlite(path: "/var/lib/purser/l.db", options: ["durability": "full", "timeout_ms": "500"]))
        #expect(try LedgerLocation(parsing: "sqlite:///abs.db") == .sqlite(path: "/abs.db", options: [:]))
        let options = try SQLiteLedger.Options(["durability": "full", "timeout_ms": "500", "retention_s": "3600"])
        #expect(options == SQLiteLedger.Options(durability: .full, timeoutMilliseconds: 500, retentionSeconds: 3600))
        for (text, message) in [("sqlite:", "names no file"), ("sqlite:x?durability", "is not NAME=VALUE"), ("redis://h", "unknown ledger scheme"),
                                ("sqlite:x?a=1&a=2", "given twice"), ("nothing", "is not a ledger URL")] {
            #expect { _ = try LedgerLocation(parsing: text) } throws: { ($0 as? LedgerError)?.message.contains(message) == true }
        }
        for (options, message) in [(["durability": "fast"], "not one of normal, full"), (["timeout_ms": "0"], "from 1 to 60000"),
                                   (["timeout_ms": "99999999999"], "from 1 to 60000"), (["cache": "1"], "unknown option")] {
            #expect { _ = try SQLiteLedger.Options(options) } throws: { ($0 as? LedgerError)?.message.contains(message) == true }
        }
    }

    /// The same requests across a DST change land on the same counters in memory and in SQLite.
    @Test func calendarWindowsAcrossADSTChangeAreTheSameCountersInEveryLedger() async throws {
        try await Self.withFile { path in
            let memory = InMemoryLedger()
            let sqlite = try SQLiteLedger(path: path)
            // New York leaves daylight time on 2026-11-01: 05:30Z is 01:30 EDT, 06:30Z is 01:30 EST again,
            // 07:30Z is 02:30 EST; 2026-11-02 04:30Z is 23:30 on the 1st, 05:30Z is 00:30 on the 2nd.
            let instants = [1_793_511_000, 1_793_514_600, 1_793_518_200, 1_793_593_800, 1_793_597_400].map { Timestamp(seconds: Int64($0)) }
            for ledger in [memory, sqlite] as [any Ledger] {
                let enforcer = try Self.enforcer(ledger)
                for instant in instants {
                    let decision = await enforcer.authorize(Self.request(cost: "1", at: instant))
                    _ = try await enforcer.settle(decision, cost: USD(dollars: 1))
                }
            }
            let inMemory = memory.snapshot().sorted { $0.key.description < $1.key.description }
            let inFile = try sqlite.countersNow().sorted { $0.0.description < $1.0.description }
            #expect(inMemory.map(\.key) == inFile.map(\.0))
            #expect(inMemory.map(\.value.spent) == inFile.map(\.1.spent))
            #expect(inFile.filter { $0.0.budget == "daily" }.map(\.0.windowLabel) == ["2026-11-01", "2026-11-02"])
        }
    }
}
