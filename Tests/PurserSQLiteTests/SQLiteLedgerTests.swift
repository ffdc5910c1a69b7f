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
    static func request(cost: String = "0.01", at timestamp: Timestamp? = nil) -> Request {
        LedgerContract.request(cost: cost, at: timestamp)
    }

    /// A fresh file in a directory of its own, removed by `body`'s end.
    static func withFile(_ body: (String) async throws -> Void) async throws {
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        try await body(directory + "/ledger.db")
    }

    static func enforcer(_ ledger: any Ledger, clock: ManualClock = ManualClock(EngineFixture.monday)) throws -> Enforcer {
        try LedgerContract.enforcer(ledger, clock: clock)
    }

    static let capCounter = LedgerContract.capCounter

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
            try await LedgerContract.settleAndReleaseByDecisionID(try SQLiteLedger(path: path), try SQLiteLedger(path: path))
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
            try await LedgerContract.neverOverspend(try (0..<4).map { _ in try SQLiteLedger(path: path) }, tasks: 4, calls: 250)
        }
    }

    @Test func anAlertFiresOnceAcrossConnections() async throws {
        try await Self.withFile { path in
            try await LedgerContract.alertFiresOnce(try SQLiteLedger(path: path), try SQLiteLedger(path: path))
        }
    }

    /// A ledger on `path` with the given timeout, its enforcer, and another connection holding
    /// the file's write lock (as another process would) until it commits.
    static func locked(_ path: String, timeoutMilliseconds: Int32) throws -> (SQLiteLedger, Enforcer, SQLiteConnection) {
        let ledger = try SQLiteLedger(path: path, options: SQLiteLedger.Options(timeoutMilliseconds: timeoutMilliseconds))
        let blocker = try SQLiteConnection(path: path, busyTimeoutMilliseconds: 10)
        try blocker.execute("BEGIN EXCLUSIVE")
        return (ledger, try enforcer(ledger), blocker)
    }

    @Test func aLockHeldPastTheTimeoutIsLedgerUnavailableAndServiceResumes() async throws {
        try await Self.withFile { path in
            let (ledger, enforcer, blocker) = try Self.locked(path, timeoutMilliseconds: 50)
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

    /// A call that finds another process's write lock does not fail at once: it is run again on
    /// the ledger's own thread, which waits for the lock (up to the timeout), and reserves.
    @Test func aLockHeldBrieflyIsWaitedForAndTheCallReserves() async throws {
        try await Self.withFile { path in
            let (ledger, enforcer, blocker) = try Self.locked(path, timeoutMilliseconds: 20_000)
            async let decision = enforcer.authorize(Self.request())
            try await Task.sleep(for: .milliseconds(300))
            try blocker.execute("COMMIT")
            let admitted = await decision
            #expect(admitted.isAllowed, "\(admitted.violations.map(\.message))")
            #expect(try await ledger.read([Self.capCounter]).first?.reserved.usd == USD("0.01")?.nanos)
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
            let sqlite = try SQLiteLedger(path: path)
            try await LedgerContract.dstWindowsMatchMemory(sqlite) { try sqlite.countersNow() }
        }
    }
}
