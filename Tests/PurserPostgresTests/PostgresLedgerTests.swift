import Foundation
import Synchronization
import Testing
import Purser
@testable import PurserPostgres
import PurserTestSupport

/// The `postgres://` ledger against a real PostgreSQL server that the tests start themselves
/// (``PostgresTestServer``; docs/ledgers.md, "PostgreSQL"). The cross-process tests drive the
/// `purser` binary (PurserCLITests).
@Suite("PostgreSQL ledger", .enabled(if: PostgresTestServer.enabled, "PostgreSQL is not installed"))
struct PostgresLedgerTests {
    static func policy(ttl: String = "10m") -> String {
        """
        version: 1
        settings: {timezone: America/New_York, reservation_ttl: \(ttl)}
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
    }

    static func request(cost: String = "0.01", at timestamp: Timestamp? = nil) -> Request {
        Request(timestamp: timestamp, team: "t", environment: "prod", model: "m", cost: USD(cost))
    }

    static func enforcer(_ ledger: any Ledger, ttl: String = "10m", clock: any PurserClock = ManualClock(EngineFixture.monday)) throws -> Enforcer {
        try Enforcer(policy: try #require(load(policy(ttl: ttl)).policy), ledger: ledger, clock: clock)
    }

    static let capCounter = CounterKey(budget: "cap", key: "org", period: .month, window: 2026 * 12 + 10)

    /// A new database with the schema in place, and a ledger on it.
    static func migrated(options: String = "") async throws -> (url: String, ledger: PostgresLedger) {
        let server = try PostgresTestServer.shared()
        let url = try server.database() + (options.isEmpty ? "" : "?" + options)
        let ledger = try PostgresLedger(url: url)
        #expect(try await ledger.migrate() == (from: 0, to: PostgresLedger.schemaVersion))
        return (url, ledger)
    }

    @Test func spendSurvivesReconnecting() async throws {
        let (url, ledger) = try await Self.migrated()
        do {
            let enforcer = try Self.enforcer(ledger)
            let decision = await enforcer.authorize(Self.request(cost: "12.345678901"))
            #expect(decision.isAllowed && decision.reserved)
            #expect(try await enforcer.settle(decision, cost: USD("12.345678901")!).outcome == .settled)
            _ = await enforcer.authorize(Self.request(cost: "1"))  // left held
            ledger.shutdown()
        }
        let reopened = try PostgresLedger(url: url)
        let state = try #require(try await reopened.read([Self.capCounter]).first)
        #expect(state.spent.usd == 12_345_678_901 && state.spent.requests == 1)
        #expect(state.reserved.usd == USD(dollars: 1).nanos, "a held reservation is kept until it expires")
        #expect(state.peak.usd == 13_345_678_901)
    }

    @Test func settleAndReleaseWorkFromAnotherReplicaByDecisionID() async throws {
        let (url, ledger) = try await Self.migrated()
        let first = try Self.enforcer(ledger)
        let other = try Self.enforcer(try PostgresLedger(url: url))
        let decision = await first.authorize(Request(team: "t", environment: "prod", model: "m",
                                                      usage: Usage(inputTokens: 1_000_000, outputTokens: 1_000_000)))
        #expect(decision.isAllowed && decision.cost == USD(dollars: 2))

        // Another replica knows only the id: the ledger gives the counters and the model.
        let settled = try await other.settle(decisionID: decision.id, usage: Usage(inputTokens: 500_000, outputTokens: 250_000))
        #expect(settled.outcome == .settled && settled.cost == USD("0.75"))
        #expect(try await other.settle(decisionID: decision.id, usage: Usage(inputTokens: 1)).outcome == .alreadySettled)
        #expect(try await first.settle(decision, cost: USD(dollars: 5)).outcome == .alreadySettled, "settle twice counts once")
        #expect(try await !first.release(decision), "release after settle finds nothing held")
        let state = try #require(try await first.ledger.read([Self.capCounter]).first)
        #expect(state.spent.usd == USD("0.75")?.nanos && state.reserved == .zero)

        // Release by id on the other replica, then a late settle still counts.
        let second = await first.authorize(Self.request(cost: "3"))
        #expect(try await other.ledger.reservation(second.id)?.state == .held)
        #expect(try await other.release(decisionID: second.id))
        #expect(try await !other.release(decisionID: second.id))
        #expect(try await other.ledger.reservation(second.id)?.state == .released)
        #expect(try await first.settle(second, cost: USD(dollars: 3)).outcome == .settledWithoutReservation)
        let after = try #require(try await other.ledger.read([Self.capCounter]).first)
        #expect(after.spent.usd == USD("3.75")?.nanos && after.reserved == .zero)

        await #expect(throws: LedgerError.self) {
            try await other.settle(decisionID: DecisionID(prefix: 1, sequence: 1), usage: Usage(inputTokens: 1))
        }
    }

    /// Expiry is the server's clock: a replica whose clock runs a day ahead cannot expire
    /// others' reservations, and a settle after expiry still counts, once.
    @Test func reservationsExpireByTheServersClock() async throws {
        let (_, ledger) = try await Self.migrated()
        let now = Timestamp(seconds: Int64(Date().timeIntervalSince1970))
        let honest = try Self.enforcer(ledger, ttl: "2s", clock: ManualClock(now))
        let skewed = try Self.enforcer(ledger, ttl: "2s", clock: ManualClock(Timestamp(seconds: now.seconds + 86_400)))
        let held = await honest.authorize(Self.request(cost: "99", at: nil))
        #expect(held.isAllowed)
        let month = try #require(held.counters.first { $0.counter.budget == "cap" }?.counter)
        #expect(await !skewed.authorize(Self.request(cost: "2", at: now)).isAllowed, "a skewed clock does not expire the hold")
        #expect(try await ledger.reservation(held.id)?.state == .held)
        try await Task.sleep(for: .milliseconds(2_300))
        #expect(try await ledger.reservation(held.id)?.state == .expired)
        #expect(try await ledger.read([month]).first?.reserved == .zero, "a read sees the hold gone before anyone sweeps it")
        let again = await honest.authorize(Self.request(cost: "2"))
        #expect(again.isAllowed, "the TTL passed by the server's clock")
        #expect(try await honest.settle(held, cost: USD(dollars: 99)).outcome == .settledWithoutReservation)
        #expect(try await honest.settle(held, cost: USD(dollars: 99)).outcome == .alreadySettled)
        #expect(try await !honest.release(held))
        let state = try #require(try await ledger.read([month]).first)
        #expect(state.spent.usd == USD(dollars: 99).nanos && state.reserved.usd == USD(dollars: 2).nanos)
        #expect(try await ledger.reservation(held.id)?.state == .settled)
    }

    /// Several pools (as several replicas hold) never admit more than the cap, and the counter
    /// ends at exactly the sum of what was settled.
    @Test func replicasSharingADatabaseNeverOverspend() async throws {
        let (url, first) = try await Self.migrated()
        let enforcers = try [first, try PostgresLedger(url: url), try PostgresLedger(url: url), try PostgresLedger(url: url)]
            .map { try Self.enforcer($0) }
        let admitted = await withTaskGroup(of: Int.self) { group in
            for enforcer in enforcers {
                for _ in 0..<8 {
                    group.addTask {
                        var count = 0
                        for _ in 0..<40 {
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
        #expect(admitted == 1_000, "4 pools × 8 tasks × 40 calls at $0.10 against $100: exactly 1,000 fit")
        let state = try #require(try await enforcers[0].ledger.read([Self.capCounter]).first)
        #expect(state.spent.usd == USD(dollars: 100).nanos && state.reserved == .zero && state.spent.requests == 1_000)
    }

    @Test func anAlertFiresOnceAcrossReplicas() async throws {
        let (url, ledger) = try await Self.migrated()
        let first = try Self.enforcer(ledger)
        let second = try Self.enforcer(try PostgresLedger(url: url))
        let crossing = await first.authorize(Self.request(cost: "60"))
        #expect(crossing.alerts.map(\.threshold) == [500_000])
        #expect(try await first.release(crossing))
        let again = await second.authorize(Self.request(cost: "60"))
        #expect(again.isAllowed && again.alerts.isEmpty, "the peak already passed 50%")
    }

    /// Sums saturate at Int64.max, as in Swift: a hostile amount never wraps a counter negative.
    @Test func sumsSaturateInsteadOfWrapping() async throws {
        let (_, ledger) = try await Self.migrated()
        let limits = BudgetLimits(usd: USD(dollars: 100))
        for sequence in 1...2 as ClosedRange<UInt64> {
            let entry = CounterReservation(counter: Self.capCounter, amount: Amount(usd: .max, tokens: .max, requests: 1), limits: limits, enforced: true)
            let result = try await ledger.settle(LedgerSettlement(id: DecisionID(prefix: 7, sequence: sequence), entries: [entry]))
            #expect(result.outcome == .settledWithoutReservation)
        }
        let state = try #require(try await ledger.read([Self.capCounter]).first)
        #expect(state.spent.usd == .max && state.spent.tokens == .max && state.spent.requests == 2)
        let reserve = try await ledger.reserve(LedgerReservation(id: DecisionID(prefix: 7, sequence: 3), entries: [
            CounterReservation(counter: Self.capCounter, amount: Amount(usd: 1), limits: limits, enforced: true),
        ], ttlSeconds: 60))
        #expect(reserve == .exceeded(entry: 0, states: [state]), "a saturated counter stays over every cap")
        // A reservation naming a counter twice, with the second over its cap, reserves nothing.
        let other = CounterKey(budget: "other", key: "org", period: .month, window: 1)
        let refused = try await ledger.reserve(LedgerReservation(id: DecisionID(prefix: 7, sequence: 4), entries: [
            CounterReservation(counter: other, amount: Amount(usd: 5), limits: limits, enforced: true),
            CounterReservation(counter: other, amount: Amount(usd: USD(dollars: 200).nanos), limits: limits, enforced: true),
        ], ttlSeconds: 60))
        guard case .exceeded(entry: 1, _) = refused else { Issue.record("expected the second entry to exceed: \(refused)"); return }
        #expect(try await ledger.read([other]).first == CounterState())
    }

    @Test func migrationIsIdempotentAndSafeFromManyReplicasAtOnce() async throws {
        let server = try PostgresTestServer.shared()
        let url = try server.database("migrate")
        let fresh = try PostgresLedger(url: url)
        await #expect {
            _ = try await fresh.read([Self.capCounter])
        } throws: { error in
            (error as? LedgerError)?.message.contains("has no Purser ledger; create it with `purser ledger migrate") == true
        }
        let ledgers = try (0..<6).map { _ in try PostgresLedger(url: url) }
        let results = await withTaskGroup(of: Result<Int, LedgerError>.self) { group in
            for ledger in ledgers {
                group.addTask {
                    do throws(LedgerError) { return .success(try await ledger.migrate().from) } catch { return .failure(error) }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let froms = results.compactMap { try? $0.get() }.sorted()
        #expect(froms == [0, 1, 1, 1, 1, 1], "one replica created the schema; the others found it current: \(results)")
        #expect(try await fresh.migrate() == (from: 1, to: 1))
        #expect(try await fresh.read([Self.capCounter]) == [CounterState()])

        let database = String(url.split(separator: "/").last ?? "")
        try server.sql("UPDATE purser_schema SET version = 99", database: database)
        await #expect {
            try await PostgresLedger(url: url).migrate()
        } throws: { error in
            (error as? LedgerError)?.message.contains("schema version 99, written by a newer Purser") == true
        }
        await #expect {
            _ = try await PostgresLedger(url: url).read([Self.capCounter])
        } throws: { error in
            (error as? LedgerError)?.message.contains("has Purser schema version 99") == true
        }
    }

    /// PostgreSQL stopped under load: every decision in between is `ledger-unavailable` and none
    /// waits past the timeout; decisions resume by themselves when it is back; nothing is
    /// counted twice.
    @Test func theServerStoppedUnderLoadFailsClosedFastAndServiceResumes() async throws {
        let server = try PostgresTestServer()
        defer { server.destroy() }
        let url = try server.database("outage") + "?timeout_ms=300"
        let ledger = try PostgresLedger(url: url)
        try await ledger.migrate()
        let enforcer = try Self.enforcer(ledger)
        let shared = Shared()
        let load = Task {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        while shared.phase.load(ordering: .acquiring) < 3 {
                            let started = ContinuousClock.now
                            let decision = await enforcer.authorize(Self.request(cost: "0.01"))
                            let waited = ContinuousClock.now - started
                            let unavailable = decision.violations.contains { $0.rule == "ledger-unavailable" }
                            var settled = false
                            if decision.isAllowed {
                                // A settle that fails is retried until it lands: idempotent by id.
                                while true {
                                    if (try? await enforcer.settle(decision, cost: USD("0.01")!)) != nil { settled = true; break }
                                    if shared.phase.load(ordering: .acquiring) >= 3 { break }
                                    try? await Task.sleep(for: .milliseconds(50))
                                }
                            }
                            shared.tally.withLock { $0.add(unavailable: unavailable, allowed: decision.isAllowed, settled: settled, waited: waited) }
                        }
                    }
                }
            }
        }
        try await Task.sleep(for: .seconds(1))
        server.stop()
        shared.phase.store(1, ordering: .releasing)
        let downAt = shared.tally.withLock { $0 }
        try await Task.sleep(for: .seconds(2))
        let whileDown = shared.tally.withLock { $0 }
        try server.restart()
        shared.phase.store(2, ordering: .releasing)
        var resumed = false
        for _ in 0..<100 {  // up to 20 s for the pool to reconnect (it backs off from 100 ms)
            try await Task.sleep(for: .milliseconds(200))
            if shared.tally.withLock({ $0.allowed }) > whileDown.allowed + 20 { resumed = true; break }
        }
        shared.phase.store(3, ordering: .releasing)
        await load.value
        let final = shared.tally.withLock { $0 }
        #expect(whileDown.unavailable > downAt.unavailable, "decisions made while the server was down say ledger-unavailable")
        #expect(final.longest < .seconds(3), "no decision waited past the 300 ms timeout by more than scheduling: \(final.longest)")
        #expect(resumed, "decisions resumed without a restart")
        #expect(final.unavailableAllowed == 0, "ledger_unavailable: deny fails closed")
        let reader = try PostgresLedger(url: url)
        let state = try #require(try await reader.read([Self.capCounter]).first)
        #expect(state.spent.usd == Int64(final.settled) * USD("0.01")!.nanos, "every settled cent counted once: \(final)")
        #expect(state.spent.requests == Int64(final.settled))
    }

    /// What the load tasks share: the phase (0 up, 1 down, 2 back up, 3 stop) and the tally.
    final class Shared: Sendable {
        let phase = Atomic<Int>(0)
        let tally = Mutex(Tally())
    }

    struct Tally: Sendable, CustomStringConvertible {
        var allowed = 0
        var settled = 0
        var unavailable = 0
        var unavailableAllowed = 0
        var longest: Duration = .zero

        mutating func add(unavailable: Bool, allowed: Bool, settled: Bool, waited: Duration) {
            if allowed { self.allowed += 1 }
            if settled { self.settled += 1 }
            if unavailable { self.unavailable += 1 }
            if unavailable && allowed { unavailableAllowed += 1 }
            longest = max(longest, waited)
        }

        var description: String { "allowed \(allowed), settled \(settled), unavailable \(unavailable), longest \(longest)" }
    }

    @Test func aServerThatIsNotThereIsLedgerUnavailableWithinTheTimeout() async throws {
        let ledger = try PostgresLedger(url: "postgres://purser@127.0.0.1:9/none?timeout_ms=200")
        let enforcer = try Self.enforcer(ledger)
        let started = ContinuousClock.now
        let decision = await enforcer.authorize(Self.request())
        #expect(ContinuousClock.now - started < .seconds(3))
        #expect(decision.verdict == .deny && decision.violations.map(\.rule) == ["ledger-unavailable"])
        #expect(decision.violations.first?.message.contains("127.0.0.1:9") == true)
    }

    /// The same requests across a DST change land on the same counters in memory and in PostgreSQL.
    @Test func calendarWindowsAcrossADSTChangeAreTheSameCountersInEveryLedger() async throws {
        let (_, postgres) = try await Self.migrated()
        let memory = InMemoryLedger()
        let instants = [1_793_511_000, 1_793_514_600, 1_793_518_200, 1_793_593_800, 1_793_597_400].map { Timestamp(seconds: Int64($0)) }
        for ledger in [memory, postgres] as [any Ledger] {
            let enforcer = try Self.enforcer(ledger)
            for instant in instants {
                let decision = await enforcer.authorize(Self.request(cost: "1", at: instant))
                _ = try await enforcer.settle(decision, cost: USD(dollars: 1))
            }
        }
        let inMemory = memory.snapshot().sorted { $0.key.description < $1.key.description }
        let inDatabase = try await postgres.counters().sorted { $0.0.description < $1.0.description }
        #expect(inMemory.map(\.key) == inDatabase.map(\.0))
        #expect(inMemory.map(\.value.spent) == inDatabase.map(\.1.spent))
        #expect(inDatabase.filter { $0.0.budget == "daily" }.map(\.0.windowLabel) == ["2026-11-01", "2026-11-02"])
    }
}

/// URLs and options, without a server.
@Suite("PostgreSQL ledger URLs")
struct PostgresURLTests {
    @Test func partsAndDefaults() throws {
        let full = try PostgresURL("postgres://app%40corp:s%3Acret@db.internal:6432/spend?sslmode=require&timeout_ms=500")
        #expect(full.endpoint == PostgresLedger.Endpoint(host: "db.internal", port: 6432, user: "app@corp", database: "spend"))
        #expect(full.password == "s:cret" && full.options == ["sslmode": "require", "timeout_ms": "500"])
        let bare = try PostgresURL("postgresql://db")
        #expect(bare.endpoint == PostgresLedger.Endpoint(host: "db", port: 5432, user: "postgres", database: "postgres"))
        #expect(try PostgresURL("postgres://u@[::1]:5433/d").endpoint.host == "[::1]")
        #expect(try PostgresURL("postgres://u@%2Fvar%2Frun%2Fpostgresql/d").endpoint.host == "/var/run/postgresql")
        #expect(try PostgresURL("postgres://u@/d?host=/tmp").endpoint.host == "/tmp")
    }

    @Test func badURLsAreRefusedWithTheReason() throws {
        for (text, message) in [("postgres://u@h:0/d", "not a number from 1 to 65535"), ("postgres://u@h:99999/d", "from 1 to 65535"),
                                ("postgres://u@/d", "names no host"), ("postgres://u@h/d?sslmode=maybe", "not one of disable, prefer, require"),
                                ("postgres://u@h/d?timeout_ms=0", "from 1 to 600000"), ("postgres://u@h/d?pool_size=5000", "from 1 to 1000"),
                                ("postgres://u@h/d?colour=red", "unknown option"), ("postgres://u@h/d?a", "is not NAME=VALUE"),
                                ("postgres://u@h/d?password_file=/nonexistent", "cannot read the password file"),
                                ("postgres://u@h/d?timeout_ms=1&timeout_ms=2", "given twice"), ("postgres://@h/d", "names no user")] {
            #expect { _ = try PostgresLedger(url: text, environment: [:]) } throws: { error in
                (error as? LedgerError)?.message.contains(message) == true
            }
        }
    }

    @Test func thePasswordComesFromAFileOrTheEnvironmentAndIsNeverShown() throws {
        let location = try LedgerLocation(parsing: "postgres://u:hunter2@h/d")
        #expect(location.hasPassword && location.description == "postgres://u:***@h/d")
        #expect(try !LedgerLocation(parsing: "postgres://u@h/d").hasPassword)
        #expect { _ = try LedgerLocation(parsing: "postgres:h") } throws: { ($0 as? LedgerError)?.message.contains("starts with postgres://") == true }
        let ledger = try PostgresLedger(url: "postgres://u@h/d", environment: ["PGPASSWORD": "hunter2"])
        #expect(!ledger.endpoint.description.contains("hunter2"))
        #expect(PostgresLedger.ledgerError(LedgerError("x"), ledger.endpoint).message.contains("hunter2") == false)
    }
}
