import Foundation
import Synchronization
import Testing
import Purser
import PurserCore
@testable import PurserPostgres
import PurserTestSupport

/// The `postgres://` ledger against a real PostgreSQL server that the tests start themselves
/// (``PostgresTestServer``; docs/ledgers.md, "PostgreSQL"). The cross-process tests drive the
/// `purser` binary (PurserCLITests).
@Suite("PostgreSQL ledger", .enabled(if: PostgresTestServer.enabled, "PostgreSQL is not installed"))
struct PostgresLedgerTests {
    static func request(cost: String = "0.01", at timestamp: Timestamp? = nil) -> Request {
        LedgerContract.request(cost: cost, at: timestamp)
    }

    static func enforcer(_ ledger: any Ledger, ttl: String = "10m", clock: any PurserClock = ManualClock(EngineFixture.monday)) throws -> Enforcer {
        try LedgerContract.enforcer(ledger, ttl: ttl, clock: clock)
    }

    static let capCounter = LedgerContract.capCounter

    /// Runs a test's body on a queue of its own (``onOwnExecutor(_:_:)``): these tests time
    /// ledger calls and wait on a server's clock.
    static func onOwnExecutor(_ body: () async throws -> Void) async throws {
        try await PurserTestSupport.onOwnExecutor("purser.postgres-test", body)
    }

    /// A new database with the schema in place, and a ledger on it. The timeout is generous:
    /// these tests run beside hundreds of others on two cores, and only the outage tests time calls.
    static func migrated(options: String = "timeout_ms=20000") async throws -> (url: String, ledger: PostgresLedger) {
        let server = try PostgresTestServer.shared()
        let url = try server.database() + (options.isEmpty ? "" : "?" + options)
        let ledger = try PostgresLedger(url: url)
        #expect(try await ledger.migrate() == (from: 0, to: PostgresLedger.schemaVersion))
        return (url, ledger)
    }

    @Test func spendSurvivesReconnecting() async throws {
        try await Self.onOwnExecutor {
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
    }

    @Test func settleAndReleaseWorkFromAnotherReplicaByDecisionID() async throws {
        try await Self.onOwnExecutor {
            let (url, ledger) = try await Self.migrated()
            try await LedgerContract.settleAndReleaseByDecisionID(ledger, try PostgresLedger(url: url))
        }
    }

    /// Expiry is the server's clock: a replica whose clock runs a day ahead cannot expire
    /// others' reservations, and a settle after expiry still counts, once.
    @Test func reservationsExpireByTheServersClock() async throws {
        try await Self.onOwnExecutor {
            let (_, ledger) = try await Self.migrated()
            let now = Timestamp(seconds: Int64(Date().timeIntervalSince1970))
            let honest = try Self.enforcer(ledger, ttl: "5s", clock: ManualClock(now))
            let skewed = try Self.enforcer(ledger, ttl: "5s", clock: ManualClock(Timestamp(seconds: now.seconds + 86_400)))
            let asked = ContinuousClock.now
            let held = await honest.authorize(Self.request(cost: "99", at: nil))
            let heldAt = ContinuousClock.now  // the server's expiry is at most 5 s after this
            #expect(held.isAllowed)
            let month = try #require(held.counters.first { $0.counter.budget == "cap" }?.counter)
            let refused = await skewed.authorize(Self.request(cost: "2", at: now))
            let state = try await ledger.reservation(held.id)?.state
            // Checked only if this ran within the TTL: a loaded test run may pause a task for seconds.
            if ContinuousClock.now - asked < .seconds(4) {
                #expect(!refused.isAllowed, "a skewed clock does not expire the hold")
                #expect(state == .held)
            }
            try await Task.sleep(until: heldAt + .milliseconds(5_300))
            let expired = try await ledger.reservation(held.id)?.state
            #expect(expired == .expired, "\(ContinuousClock.now - heldAt) after the hold: \(String(describing: expired))")
            #expect(try await ledger.read([month]).first?.reserved == .zero, "a read sees the hold gone before anyone sweeps it")
            let again = await honest.authorize(Self.request(cost: "2"))
            #expect(again.isAllowed, "the TTL passed by the server's clock")
            #expect(try await honest.settle(held, cost: USD(dollars: 99)).outcome == .settledWithoutReservation)
            #expect(try await honest.settle(held, cost: USD(dollars: 99)).outcome == .alreadySettled)
            #expect(try await !honest.release(held))
            let after = try #require(try await ledger.read([month]).first)
            #expect(after.spent.usd == USD(dollars: 99).nanos && after.reserved.usd == USD(dollars: refused.isAllowed ? 4 : 2).nanos)
            #expect(try await ledger.reservation(held.id)?.state == .settled)
        }
    }

    /// Several pools (as several replicas hold) never admit more than the cap, and the counter
    /// ends at exactly the sum of what was settled.
    @Test func replicasSharingADatabaseNeverOverspend() async throws {
        try await Self.onOwnExecutor {
            let (url, first) = try await Self.migrated()
            try await LedgerContract.neverOverspend([first, try PostgresLedger(url: url), try PostgresLedger(url: url), try PostgresLedger(url: url)],
                                                    tasks: 8, calls: 40)
        }
    }

    @Test func anAlertFiresOnceAcrossReplicas() async throws {
        try await Self.onOwnExecutor {
            let (url, ledger) = try await Self.migrated()
            try await LedgerContract.alertFiresOnce(ledger, try PostgresLedger(url: url))
        }
    }

    /// Sums saturate at Int64.max, as in Swift: a hostile amount never wraps a counter negative.
    @Test func sumsSaturateInsteadOfWrapping() async throws {
        try await Self.onOwnExecutor {
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
    }

    @Test func migrationIsIdempotentAndSafeFromManyReplicasAtOnce() async throws {
        try await Self.onOwnExecutor {
            let server = try PostgresTestServer.shared()
            let url = try server.database("migrate") + "?timeout_ms=20000"
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
            let current = PostgresLedger.schemaVersion
            #expect(froms == [0] + Array(repeating: current, count: 5), "one replica created the schema; the others found it current: \(results)")
            #expect(try await fresh.migrate() == (from: current, to: current))
            #expect(try await fresh.read([Self.capCounter]) == [CounterState()])

            let database = String(url.split(separator: "/").last?.split(separator: "?").first ?? "")
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
    }

    /// Several counters named in another order than their keys': the reserve takes each in key
    /// order; when one of them is over its cap after others were reserved, those are put back
    /// exactly (reserved and peak, which the attempt had raised), the answer names the entry in
    /// the request's order, and the next reserve sees the same states.
    @Test func aReserveOverOneOfSeveralCapsLeavesEveryCounterAsItWas() async throws {
        try await Self.onOwnExecutor {
            let (_, ledger) = try await Self.migrated()
            let keys = ["c", "a", "b"].map { CounterKey(budget: $0, key: "org", period: .month, window: 1) }
            let limits = BudgetLimits(usd: USD(dollars: 10))
            let dollar: Int64 = 1_000_000_000
            func reservation(_ sequence: UInt64, _ dollars: [Int64]) -> LedgerReservation {
                LedgerReservation(id: DecisionID(prefix: 9, sequence: sequence), entries: zip(keys, dollars).map {
                    CounterReservation(counter: $0, amount: Amount(usd: $1 * dollar, requests: 1), limits: limits, enforced: true)
                }, ttlSeconds: 60)
            }
            func state(_ reserved: Int64, _ requests: Int64, peak: Int64, peakRequests: Int64) -> CounterState {
                CounterState(reserved: Amount(usd: reserved * dollar, requests: requests), peak: Amount(usd: peak * dollar, requests: peakRequests))
            }
            _ = try await ledger.reserve(reservation(1, [1, 2, 3]))  // creates the counters
            let second = try await ledger.reserve(reservation(2, [1, 1, 1]))
            #expect(second == .reserved(before: [state(1, 1, peak: 1, peakRequests: 1), state(2, 1, peak: 2, peakRequests: 1), state(3, 1, peak: 3, peakRequests: 1)],
                                        after: [state(2, 2, peak: 2, peakRequests: 2), state(3, 2, peak: 3, peakRequests: 2), state(4, 2, peak: 4, peakRequests: 2)]))
            #expect(try await ledger.release(DecisionID(prefix: 9, sequence: 2)) == .released)
            let held = [state(1, 1, peak: 2, peakRequests: 2), state(2, 1, peak: 3, peakRequests: 2), state(3, 1, peak: 4, peakRequests: 2)]
            #expect(try await ledger.read(keys) == held)
            // Key order a, b, c: a's $2 raises its peak to $4 before b's $8 is refused ($3 + $8 > $10).
            let refused = try await ledger.reserve(reservation(3, [1, 2, 8]))
            #expect(refused == .exceeded(entry: 2, states: held))
            #expect(try await ledger.read(keys) == held, "nothing reserved, no peak moved")
            #expect(try await ledger.reservation(DecisionID(prefix: 9, sequence: 3)) == nil, "a refused reserve leaves no reservation")
            let fourth = try await ledger.reserve(reservation(4, [1, 1, 1]))
            #expect(fourth == .reserved(before: held,
                                        after: [state(2, 2, peak: 2, peakRequests: 2), state(3, 2, peak: 3, peakRequests: 2), state(4, 2, peak: 4, peakRequests: 2)]))
        }
    }

    /// A database written by version 1's functions, with a reservation held: `purser ledger
    /// migrate` brings it to the current version, and the reservation is read, settled and
    /// counted by the new functions as if they had written it.
    @Test func aVersion1DatabaseUpgradesWithWhatItHolds() async throws {
        try await Self.onOwnExecutor {
            let server = try PostgresTestServer.shared()
            let url = try server.database("upgrade") + "?timeout_ms=20000"
            let database = String(url.split(separator: "/").last?.split(separator: "?").first ?? "")
            for statement in [PostgresSchema.versionTable] + PostgresSchema.version1 + ["INSERT INTO purser_schema (id, version) VALUES (1, 1)"] {
                _ = try server.sql(statement, database: database)
            }
            let key = Self.capCounter
            let held = DecisionID(prefix: 0x5eed, sequence: 1)
            let outcome = try server.sql("""
                SELECT outcome FROM purser_reserve('\(held)', 600, 'm', ARRAY['\(key.budget)'], ARRAY['\(key.key)'], ARRAY['\(key.period.rawValue)'],
                    ARRAY[\(key.window)]::bigint[], ARRAY[10000000]::bigint[], ARRAY[0]::bigint[], ARRAY[1]::bigint[],
                    ARRAY[100000000]::bigint[], ARRAY[-1]::bigint[], ARRAY[-1]::bigint[], ARRAY[true])
                """, database: database)
            #expect(outcome.trimmingCharacters(in: .whitespacesAndNewlines) == "reserved")
            let ledger = try PostgresLedger(url: url)
            await #expect {
                _ = try await ledger.read([key])
            } throws: { error in
                (error as? LedgerError)?.message.contains("has Purser schema version 1 and this Purser needs \(PostgresLedger.schemaVersion)") == true
            }
            #expect(try await ledger.migrate() == (from: 1, to: PostgresLedger.schemaVersion))
            let upgraded = try PostgresLedger(url: url)
            #expect(try await upgraded.read([key]).first?.reserved == Amount(usd: 10_000_000, requests: 1))
            #expect(try await upgraded.reservation(held)?.state == .held)
            let limits = BudgetLimits(usd: USD("0.1"))
            let entry = { (usd: Int64) in CounterReservation(counter: key, amount: Amount(usd: usd, requests: 1), limits: limits, enforced: true) }
            // The cap is $0.10: the $0.01 held leaves room for nine more, not ten.
            for sequence in 2...10 as ClosedRange<UInt64> {
                let result = try await upgraded.reserve(LedgerReservation(id: DecisionID(prefix: 0x5eed, sequence: sequence), entries: [entry(10_000_000)], ttlSeconds: 60))
                guard case .reserved = result else { Issue.record("call \(sequence) was refused: \(result)"); return }
            }
            let refused = try await upgraded.reserve(LedgerReservation(id: DecisionID(prefix: 0x5eed, sequence: 11), entries: [entry(10_000_000)], ttlSeconds: 60))
            guard case .exceeded(entry: 0, _) = refused else { Issue.record("expected the cap to refuse: \(refused)"); return }
            #expect(try await upgraded.settle(LedgerSettlement(id: held, entries: [entry(7_000_000)])).outcome == .settled)
            let state = try #require(try await upgraded.read([key]).first)
            #expect(state.spent == Amount(usd: 7_000_000, requests: 1) && state.reserved == Amount(usd: 90_000_000, requests: 9), "\(state)")
        }
    }

    /// PostgreSQL stopped under load: every decision in between is `ledger-unavailable` and none
    /// waits past the timeout; decisions resume by themselves when it is back; nothing is
    /// counted twice.
    @Test func theServerStoppedUnderLoadFailsClosedFastAndServiceResumes() async throws {
        try await Self.onOwnExecutor {
            let server = try PostgresTestServer()
            defer { server.destroy() }
            let url = try server.database("outage") + "?timeout_ms=300"
            let ledger = try PostgresLedger(url: url)
            try await ledger.migrate()
            let enforcer = try Self.enforcer(ledger)
            let shared = Shared()
            // The ledger's timeout fires from a task on Swift's global pool, which the rest of the
            // suite can keep busy: a heartbeat there measures how late that pool runs, so that a
            // decision is held to the timeout plus the pool's own lateness, not to the machine's load.
            let heartbeat = Task.detached {
                var latest = Duration.zero
                while shared.phase.load(ordering: .acquiring) < 3 {
                    let started = ContinuousClock.now
                    try? await Task.sleep(for: .milliseconds(20))
                    latest = max(latest, ContinuousClock.now - started - .milliseconds(20))
                }
                return latest
            }
            // A child task (not `Task {}`), so that it runs on this test's own executor too.
            async let load: Void = withTaskGroup(of: Void.self) { group in
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
                                    // Not answered by the end (it may still have committed): settled again below.
                                    if !settled { shared.unanswered.withLock { $0.append(decision) } }
                                }
                                shared.tally.withLock { $0.add(unavailable: unavailable, allowed: decision.isAllowed, settled: settled, waited: waited) }
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
            await load
            let poolLateness = await heartbeat.value
            let final = shared.tally.withLock { $0 }
            #expect(whileDown.unavailable > downAt.unavailable, "decisions made while the server was down say ledger-unavailable")
            #expect(final.longest < .seconds(3) + poolLateness,
                    "no decision waited past the 300 ms timeout by more than scheduling: \(final.longest), the global pool ran up to \(poolLateness) late")
            #expect(resumed, "decisions resumed without a restart")
            #expect(final.unavailableAllowed == 0, "ledger_unavailable: deny fails closed")
            // Another replica, with a generous timeout (only the decisions above are timed), settles
            // the decisions whose settle got no answer: some of those had committed, and must not
            // count twice. Then every allowed decision is settled, each cent exactly once.
            let reader = try PostgresLedger(url: url.replacingOccurrences(of: "timeout_ms=300", with: "timeout_ms=20000"))
            let replica = try Self.enforcer(reader)
            let unanswered = shared.unanswered.withLock { $0 }
            for decision in unanswered {
                let outcome = try await replica.settle(decision, cost: USD("0.01")!).outcome
                #expect(outcome == .settled || outcome == .alreadySettled || outcome == .settledWithoutReservation, "\(outcome)")
            }
            #expect(final.settled + unanswered.count == final.allowed, "\(final), \(unanswered.count) unanswered")
            let state = try #require(try await reader.read([Self.capCounter]).first)
            #expect(state.spent.usd == Int64(final.allowed) * USD("0.01")!.nanos, "every settled cent counted once: \(final)")
            #expect(state.spent.requests == Int64(final.allowed))
        }
    }

    /// What the load tasks share: the phase (0 up, 1 down, 2 back up, 3 stop) and the tally.
    final class Shared: Sendable {
        let phase = Atomic<Int>(0)
        let tally = Mutex(Tally())
        let unanswered = Mutex<[Decision]>([])
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
        try await Self.onOwnExecutor {
            let ledger = try PostgresLedger(url: "postgres://purser@127.0.0.1:9/none?timeout_ms=200")
            let enforcer = try Self.enforcer(ledger)
            let started = ContinuousClock.now
            let decision = await enforcer.authorize(Self.request())
            #expect(ContinuousClock.now - started < .seconds(3))
            #expect(decision.verdict == .deny && decision.violations.map(\.rule) == ["ledger-unavailable"])
            #expect(decision.violations.first?.message.contains("127.0.0.1:9") == true)
        }
    }

    /// The same requests across a DST change land on the same counters in memory and in PostgreSQL.
    @Test func calendarWindowsAcrossADSTChangeAreTheSameCountersInEveryLedger() async throws {
        try await Self.onOwnExecutor {
            let (_, postgres) = try await Self.migrated()
            try await LedgerContract.dstWindowsMatchMemory(postgres) { try await postgres.counters() }
        }
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
                                ("postgres://u@h/d?password_file=/dev/zero", "at most 4 KiB"),
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

/// A database that takes only TLS with a password, as a managed one does (docs/ledgers.md,
/// "PostgreSQL"): its own server, since it changes the server's configuration.
@Suite("PostgreSQL ledger over TLS", .enabled(if: PostgresTestServer.enabled, "PostgreSQL is not installed"))
struct PostgresTLSTests {
    @Test func verifiedTLSWithThePasswordFromAFileOrTheEnvironment() async throws {
        try await onOwnExecutor("purser.postgres-tls-test") {
            let server = try PostgresTestServer()
            defer { server.destroy() }
            try server.sql("CREATE DATABASE tls")
            let secret = "s3cret-" + UUID().uuidString.prefix(8)
            let ca = try server.requireTLS(password: String(secret))
            let passwordFile = server.directory + "/password"
            try (secret + "\n").write(toFile: passwordFile, atomically: true, encoding: .utf8)
            let base = "postgres://purser@127.0.0.1:\(server.port)/tls?timeout_ms=20000"

            // Verified against the test's own CA, the password from a file: the ledger works.
            let ledger = try PostgresLedger(url: base + "&sslmode=require&sslrootcert=\(ca)&password_file=\(passwordFile)", environment: [:])
            #expect(try await ledger.migrate().to == PostgresLedger.schemaVersion)
            let enforcer = try LedgerContract.enforcer(ledger, ttl: "10m", clock: ManualClock(EngineFixture.monday))
            let decision = await enforcer.authorize(LedgerContract.request(cost: "0.25"))
            #expect(decision.isAllowed && decision.reserved)
            // The password from PGPASSWORD reads the same counter.
            let fromEnvironment = try PostgresLedger(url: base + "&sslmode=require&sslrootcert=\(ca)", environment: ["PGPASSWORD": String(secret)])
            #expect(try await fromEnvironment.read([LedgerContract.capCounter]).first?.reserved.usd == 250_000_000)

            // What is refused, each with a reason and never the password.
            let refusals: [(url: String, environment: [String: String], reason: String)] = [
                (base + "&sslmode=disable", ["PGPASSWORD": String(secret)], "no encryption"),  // the server's pg_hba.conf answer
                (base + "&sslmode=require", ["PGPASSWORD": String(secret)], "certificate"),  // the system's roots do not know this CA
                (base + "&sslmode=require&sslrootcert=\(ca)", ["PGPASSWORD": "wrong-password"], "password authentication failed"),
                (base + "&sslmode=require&sslrootcert=\(ca)", [:], "asks for a password"),
            ]
            for refusal in refusals {
                let other = try PostgresLedger(url: refusal.url, environment: refusal.environment)
                await #expect {
                    _ = try await other.read([LedgerContract.capCounter])
                } throws: { error in
                    let message = (error as? LedgerError)?.message ?? "\(error)"
                    return message.localizedCaseInsensitiveContains(refusal.reason) && !message.contains(secret) && !message.contains("wrong-password")
                }
            }
            #expect { _ = try PostgresLedger(url: base + "&sslmode=require&sslrootcert=\(passwordFile)", environment: [:]) } throws: { error in
                (error as? LedgerError)?.message.contains("cannot read the sslrootcert file") == true
            }
        }
    }
}
