import Dispatch
import Purser
import PurserCore
import PurserPolicy
import Synchronization

/// A ledger in a SQLite file: spend survives restarts, and every process on the host that
/// opens the same file shares it (docs/library.md, "Ledgers").
///
/// Each call is one SQLite transaction begun with `BEGIN IMMEDIATE`, which takes the file's
/// write lock first: the cap checks and the reservation on every counter are one step for
/// every process and thread, so none of them can overspend a cap. The file is in WAL mode.
///
/// The failure model (docs/ledgers.md, "SQLite"): a process that is killed loses nothing
/// it committed, and the next process to open the file finds every settled cent. After a
/// power loss the last transactions may be lost with `synchronous=normal` (the default);
/// with `synchronous=full` every commit is on disk before the call returns.
public final class SQLiteLedger: Ledger, SynchronousLedger, CounterListing {
    /// How the file is opened.
    public struct Options: Sendable, Equatable {
        /// Whether a commit waits for the disk (`full`) or only for the operating system (`normal`).
        public enum Durability: String, Sendable, CaseIterable {
            /// A killed process loses nothing; a power loss may lose the last transactions.
            case normal
            /// Nothing committed is lost to a power loss either; each commit waits for an fsync.
            case full
        }

        /// See ``Durability``.
        public var durability: Durability
        /// How long a call waits for another process's transaction before failing (milliseconds).
        public var timeoutMilliseconds: Int32
        /// How long finished reservation ids are remembered, so that a late duplicate settle counts once.
        public var retentionSeconds: Int64

        /// Creates options.
        public init(durability: Durability = .normal, timeoutMilliseconds: Int32 = 2_000, retentionSeconds: Int64 = 86_400) {
            self.durability = durability
            self.timeoutMilliseconds = timeoutMilliseconds
            self.retentionSeconds = retentionSeconds
        }
    }

    /// The schema version this build writes (docs/ledgers.md, "SQLite").
    public static let schemaVersion: Int64 = 1

    private let connection: Mutex<SQLiteConnection>
    /// Where the blocking SQLite calls of the async methods run, off the caller's executor.
    private let worker: BlockingThread
    /// The store's clock: it judges expiry.
    public let clock: any PurserClock
    /// The file.
    public let path: String
    /// The options it was opened with.
    public let options: Options
    private let calls = Atomic<Int>(0)

    /// Opens (and creates or upgrades) a ledger file.
    public init(path: String, options: Options = Options(), clock: any PurserClock = SystemClock()) throws(LedgerError) {
        let connection = try SQLiteConnection(path: path, busyTimeoutMilliseconds: options.timeoutMilliseconds)
        try connection.execute("PRAGMA journal_mode = WAL")
        try connection.execute("PRAGMA synchronous = \(options.durability == .full ? "FULL" : "NORMAL")")
        try Self.migrate(connection)
        self.connection = Mutex(connection)
        worker = BlockingThread(name: "purser.sqlite-ledger")
        self.clock = clock
        self.path = path
        self.options = options
    }

    // MARK: Schema

    /// Creates or upgrades the schema; safe to run from several processes at once (one
    /// `BEGIN IMMEDIATE` transaction, statements that check before they create).
    static func migrate(_ connection: SQLiteConnection) throws(LedgerError) {
        try transaction(connection) { () throws(LedgerError) in
            let version = try connection.statement("PRAGMA user_version")
            let current = try version.step() ? version.integer(0) : 0
            guard current <= schemaVersion else {
                throw LedgerError("the ledger file \(connection.path) has schema version \(current), written by a newer Purser; this one knows version \(schemaVersion)")
            }
            guard current < schemaVersion else { return }
            try connection.execute("""
                CREATE TABLE IF NOT EXISTS purser_counters (
                    budget TEXT NOT NULL, scope_key TEXT NOT NULL, period TEXT NOT NULL, window INTEGER NOT NULL,
                    spent_usd INTEGER NOT NULL, spent_tokens INTEGER NOT NULL, spent_requests INTEGER NOT NULL,
                    reserved_usd INTEGER NOT NULL, reserved_tokens INTEGER NOT NULL, reserved_requests INTEGER NOT NULL,
                    peak_usd INTEGER NOT NULL, peak_tokens INTEGER NOT NULL, peak_requests INTEGER NOT NULL,
                    PRIMARY KEY (budget, scope_key, period, window)
                ) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS purser_reservations (
                    id TEXT NOT NULL PRIMARY KEY, state TEXT NOT NULL, model TEXT,
                    expires_at INTEGER NOT NULL, finished_at INTEGER
                ) WITHOUT ROWID;
                CREATE INDEX IF NOT EXISTS purser_reservations_held ON purser_reservations (expires_at) WHERE state = 'held';
                CREATE INDEX IF NOT EXISTS purser_reservations_finished ON purser_reservations (finished_at) WHERE state <> 'held';
                CREATE TABLE IF NOT EXISTS purser_reservation_entries (
                    id TEXT NOT NULL, entry INTEGER NOT NULL,
                    budget TEXT NOT NULL, scope_key TEXT NOT NULL, period TEXT NOT NULL, window INTEGER NOT NULL,
                    usd INTEGER NOT NULL, tokens INTEGER NOT NULL, requests INTEGER NOT NULL,
                    PRIMARY KEY (id, entry)
                ) WITHOUT ROWID;
                PRAGMA user_version = \(schemaVersion);
                """)
        }
    }

    /// Runs `body` in a `BEGIN IMMEDIATE` transaction: committed if it returns, rolled back if it throws.
    /// `begun`: the transaction was begun already.
    private static func transaction<T>(_ connection: SQLiteConnection, begun: Bool = false, _ body: () throws(LedgerError) -> T) throws(LedgerError) -> T {
        if !begun { try connection.execute("BEGIN IMMEDIATE") }
        do {
            let result = try body()
            connection.resetStatements()
            try connection.execute("COMMIT")
            return result
        } catch {
            connection.resetStatements()
            try? connection.execute("ROLLBACK")
            throw error
        }
    }

    /// One ledger call's work, inside its transaction, given the store's time.
    typealias Work<T> = @Sendable (SQLiteConnection, Timestamp) throws(LedgerError) -> T

    /// Runs one ledger call: a transaction that first expires what is due, waiting up to the
    /// timeout for another process's write lock.
    private func call<T>(_ body: Work<T>) throws(LedgerError) -> T {
        let now = clock.now()
        return try connection.withLock { connection throws(LedgerError) -> T in
            try transaction(connection, now: now, body)
        }
    }

    /// Runs one ledger call now if it needs no waiting, or returns nil: when another call of
    /// this ledger holds the connection, or another process the file's write lock (`BEGIN
    /// IMMEDIATE` is refused at once: the busy timeout is 0 for it), or commits wait for the
    /// disk (`durability=full`).
    private func attempt<T>(_ body: Work<T>) throws(LedgerError) -> T? {
        guard options.durability == .normal else { return nil }
        let now = clock.now()
        let timeout = options.timeoutMilliseconds
        let outcome: T?? = try connection.withLockIfAvailable { connection throws(LedgerError) -> T? in
            guard connection.beginImmediateAtOnce(restoringTimeout: timeout) else { return nil }
            return try transaction(connection, now: now, begun: true, body)
        }
        return outcome ?? nil
    }

    private func transaction<T>(_ connection: SQLiteConnection, now: Timestamp, begun: Bool = false, _ body: Work<T>) throws(LedgerError) -> T {
        let prune = calls.wrappingAdd(1, ordering: .relaxed).newValue % 1024 == 1
        return try Self.transaction(connection, begun: begun) { () throws(LedgerError) -> T in
            try expire(connection, now: now)
            if prune { try self.prune(connection, now: now) }
            return try body(connection, now)
        }
    }

    // MARK: Counters

    private static let selectCounter = """
        SELECT spent_usd, spent_tokens, spent_requests, reserved_usd, reserved_tokens, reserved_requests,
               peak_usd, peak_tokens, peak_requests
        FROM purser_counters WHERE budget = ?1 AND scope_key = ?2 AND period = ?3 AND window = ?4
        """

    private static let upsertCounter = """
        INSERT INTO purser_counters VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
        ON CONFLICT (budget, scope_key, period, window) DO UPDATE SET
            spent_usd = ?5, spent_tokens = ?6, spent_requests = ?7, reserved_usd = ?8, reserved_tokens = ?9,
            reserved_requests = ?10, peak_usd = ?11, peak_tokens = ?12, peak_requests = ?13
        """

    private func state(_ connection: SQLiteConnection, _ key: CounterKey) throws(LedgerError) -> CounterState {
        let select = try connection.statement(Self.selectCounter)
        select.bind(.text(key.budget), .text(key.key), .text(key.period.rawValue), .integer(key.window))
        guard try select.step() else { return CounterState() }
        return CounterState(spent: Amount(usd: select.integer(0), tokens: select.integer(1), requests: select.integer(2)),
                            reserved: Amount(usd: select.integer(3), tokens: select.integer(4), requests: select.integer(5)),
                            peak: Amount(usd: select.integer(6), tokens: select.integer(7), requests: select.integer(8)))
    }

    private func write(_ connection: SQLiteConnection, _ key: CounterKey, _ state: CounterState) throws(LedgerError) {
        try connection.statement(Self.upsertCounter).bind(
            .text(key.budget), .text(key.key), .text(key.period.rawValue), .integer(key.window),
            .integer(state.spent.usd), .integer(state.spent.tokens), .integer(state.spent.requests),
            .integer(state.reserved.usd), .integer(state.reserved.tokens), .integer(state.reserved.requests),
            .integer(state.peak.usd), .integer(state.peak.tokens), .integer(state.peak.requests)
        ).run()
    }

    // MARK: Reservations

    private struct Stored {
        let state: StoredReservation.State
        let model: String?
    }

    private func stored(_ connection: SQLiteConnection, _ id: DecisionID) throws(LedgerError) -> Stored? {
        let select = try connection.statement("SELECT state, model FROM purser_reservations WHERE id = ?1")
        select.bind(.text(id.description))
        guard try select.step() else { return nil }
        guard let text = select.text(0), let state = StoredReservation.State(rawValue: text) else {
            throw LedgerError("the ledger file \(path) holds a reservation \(id) in an unknown state; was it edited by hand?")
        }
        return Stored(state: state, model: select.text(1))
    }

    private func entries(_ connection: SQLiteConnection, _ id: String) throws(LedgerError) -> [(CounterKey, Amount)] {
        let select = try connection.statement("""
            SELECT budget, scope_key, period, window, usd, tokens, requests FROM purser_reservation_entries WHERE id = ?1 ORDER BY entry
            """)
        select.bind(.text(id))
        var result: [(CounterKey, Amount)] = []
        while try select.step() {
            guard let budget = select.text(0), let key = select.text(1), let period = select.text(2).flatMap(BudgetPeriod.init(rawValue:)) else {
                throw LedgerError("the ledger file \(path) holds an unreadable entry of reservation \(id)")
            }
            result.append((CounterKey(budget: budget, key: key, period: period, window: select.integer(3)),
                           Amount(usd: select.integer(4), tokens: select.integer(5), requests: select.integer(6))))
        }
        return result
    }

    private func record(_ connection: SQLiteConnection, _ id: DecisionID, _ state: StoredReservation.State, model: String?,
                        expiresAt: Timestamp, finishedAt: Timestamp?, entries: [(CounterKey, Amount)]) throws(LedgerError)
    {
        let text = id.description
        try connection.statement("""
            INSERT INTO purser_reservations VALUES (?1, ?2, ?3, ?4, ?5)
            ON CONFLICT (id) DO UPDATE SET state = ?2, model = ?3, expires_at = ?4, finished_at = ?5
            """).bind(.text(text), .text(state.rawValue), model.map { .text($0) } ?? .null, .integer(expiresAt.nanoseconds),
                      finishedAt.map { .integer($0.nanoseconds) } ?? .null).run()
        try connection.statement("DELETE FROM purser_reservation_entries WHERE id = ?1").bind(.text(text)).run()
        let insert = "INSERT INTO purser_reservation_entries VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
        for (index, (key, amount)) in entries.enumerated() {
            try connection.statement(insert).bind(
                .text(text), .integer(Int64(index)), .text(key.budget), .text(key.key), .text(key.period.rawValue), .integer(key.window),
                .integer(amount.usd), .integer(amount.tokens), .integer(amount.requests)).run()
        }
    }

    private func finish(_ connection: SQLiteConnection, _ id: String, _ state: StoredReservation.State, now: Timestamp) throws(LedgerError) {
        try connection.statement("UPDATE purser_reservations SET state = ?2, finished_at = ?3 WHERE id = ?1")
            .bind(.text(id), .text(state.rawValue), .integer(now.nanoseconds)).run()
    }

    /// Gives back what a held reservation reserved.
    private func unreserve(_ connection: SQLiteConnection, _ id: String) throws(LedgerError) {
        for (key, amount) in try entries(connection, id) {
            try write(connection, key, try state(connection, key).changed(released: amount))
        }
    }

    /// Expires the held reservations whose time has come by the store's clock.
    private func expire(_ connection: SQLiteConnection, now: Timestamp) throws(LedgerError) {
        let due = try connection.statement("SELECT id FROM purser_reservations WHERE state = 'held' AND expires_at <= ?1 LIMIT 256")
        due.bind(.integer(now.nanoseconds))
        var ids: [String] = []
        while try due.step() { if let id = due.text(0) { ids.append(id) } }
        for id in ids {
            try unreserve(connection, id)
            try finish(connection, id, .expired, now: now)
        }
    }

    /// Forgets finished reservations past the retention.
    private func prune(_ connection: SQLiteConnection, now: Timestamp) throws(LedgerError) {
        let cutoff = Int64(clamping: Int128(now.nanoseconds) - Int128(options.retentionSeconds) * 1_000_000_000)
        try connection.statement("""
            DELETE FROM purser_reservation_entries WHERE id IN
                (SELECT id FROM purser_reservations WHERE state <> 'held' AND finished_at < ?1)
            """).bind(.integer(cutoff)).run()
        try connection.statement("DELETE FROM purser_reservations WHERE state <> 'held' AND finished_at < ?1").bind(.integer(cutoff)).run()
    }

    // MARK: SynchronousLedger

    package func readNow(_ counters: [CounterKey]) throws(LedgerError) -> [CounterState] {
        try call(readWork(counters))
    }

    private func readWork(_ counters: [CounterKey]) -> Work<[CounterState]> {
        { [self] connection, _ throws(LedgerError) in
            var states: [CounterState] = []
            for key in counters { states.append(try state(connection, key)) }
            return states
        }
    }

    package func readNow(entries: [CounterReservation]) throws(LedgerError) -> [CounterState] {
        try readNow(entries.map(\.counter))
    }

    package func reserveNow(_ reservation: LedgerReservation) throws(LedgerError) -> ReserveResult {
        try call(reserveWork(reservation))
    }

    private func reserveWork(_ reservation: LedgerReservation) -> Work<ReserveResult> {
        { [self] connection, now throws(LedgerError) -> ReserveResult in
            if let existing = try stored(connection, reservation.id) {
                // A retried reserve (its answer was lost) holds nothing twice.
                guard existing.state == .held else {
                    throw LedgerError("the decision id \(reservation.id) was already used, and its reservation is \(existing.state.rawValue)")
                }
                var current: [CounterState] = []
                for entry in reservation.entries { current.append(try state(connection, entry.counter)) }
                return .reserved(before: current, after: current)
            }
            var before: [CounterState] = []
            for entry in reservation.entries { before.append(try state(connection, entry.counter)) }
            for (index, entry) in reservation.entries.enumerated() where entry.enforced && !entry.admits(before[index]) {
                return .exceeded(entry: index, states: before)
            }
            var after: [CounterState] = []
            for entry in reservation.entries {
                // Read again: a reservation may name a counter twice.
                let changed = try state(connection, entry.counter).changed(reserved: entry.amount)
                try write(connection, entry.counter, changed)
                after.append(changed)
            }
            let expiresAt = Timestamp(nanoseconds: Int64(clamping: Int128(now.nanoseconds) + Int128(reservation.ttlSeconds) * 1_000_000_000))
            try record(connection, reservation.id, .held, model: reservation.model, expiresAt: expiresAt, finishedAt: nil,
                       entries: reservation.entries.map { ($0.counter, $0.amount) })
            return .reserved(before: before, after: after)
        }
    }

    package func settleNow(_ settlement: LedgerSettlement) throws(LedgerError) -> SettleResult {
        try call(settleWork(settlement))
    }

    private func settleWork(_ settlement: LedgerSettlement) -> Work<SettleResult> {
        { [self] connection, now throws(LedgerError) -> SettleResult in
            let existing = try stored(connection, settlement.id)
            if existing?.state == .settled { return SettleResult(outcome: .alreadySettled) }
            if existing?.state == .held { try unreserve(connection, settlement.id.description) }
            var before: [CounterState] = []
            var after: [CounterState] = []
            for entry in settlement.entries {
                let current = try state(connection, entry.counter)
                let changed = current.changed(spent: entry.amount)
                try write(connection, entry.counter, changed)
                before.append(current)
                after.append(changed)
            }
            // A settled id is kept only to answer a duplicate settle: its entries go (released and
            // expired ones keep theirs, for a late settle by id).
            try record(connection, settlement.id, .settled, model: existing?.model, expiresAt: now, finishedAt: now, entries: [])
            return SettleResult(outcome: existing?.state == .held ? .settled : .settledWithoutReservation, before: before, after: after)
        }
    }

    package func releaseNow(_ id: DecisionID) throws(LedgerError) -> ReleaseResult {
        try call(releaseWork(id))
    }

    private func releaseWork(_ id: DecisionID) -> Work<ReleaseResult> {
        { [self] connection, now throws(LedgerError) -> ReleaseResult in
            guard try stored(connection, id)?.state == .held else { return .notHeld }
            try unreserve(connection, id.description)
            try finish(connection, id.description, .released, now: now)
            return .released
        }
    }

    /// The reservation kept under an id.
    package func reservationNow(_ id: DecisionID) throws(LedgerError) -> StoredReservation? {
        try call(reservationWork(id))
    }

    private func reservationWork(_ id: DecisionID) -> Work<StoredReservation?> {
        { [self] connection, _ throws(LedgerError) -> StoredReservation? in
            guard let stored = try stored(connection, id) else { return nil }
            let entries = try entries(connection, id.description)
            return StoredReservation(counters: entries.map(\.0), amounts: entries.map(\.1), model: stored.model, state: stored.state)
        }
    }

    /// Every counter the file holds, in key order.
    package func counters() async throws(LedgerError) -> [(CounterKey, CounterState)] { try countersNow() }

    /// Every counter the file holds, in key order, on the calling thread.
    package func countersNow() throws(LedgerError) -> [(CounterKey, CounterState)] {
        try call { connection, _ throws(LedgerError) -> [(CounterKey, CounterState)] in
            let select = try connection.statement("""
                SELECT budget, scope_key, period, window, spent_usd, spent_tokens, spent_requests,
                       reserved_usd, reserved_tokens, reserved_requests, peak_usd, peak_tokens, peak_requests
                FROM purser_counters ORDER BY budget, scope_key, period, window
                """)
            var result: [(CounterKey, CounterState)] = []
            while try select.step() {
                guard let budget = select.text(0), let key = select.text(1), let period = select.text(2).flatMap(BudgetPeriod.init(rawValue:)) else {
                    throw LedgerError("the ledger file \(path) holds an unreadable counter")
                }
                result.append((CounterKey(budget: budget, key: key, period: period, window: select.integer(3)),
                               CounterState(spent: Amount(usd: select.integer(4), tokens: select.integer(5), requests: select.integer(6)),
                                            reserved: Amount(usd: select.integer(7), tokens: select.integer(8), requests: select.integer(9)),
                                            peak: Amount(usd: select.integer(10), tokens: select.integer(11), requests: select.integer(12)))))
            }
            return result
        }
    }

    // MARK: Ledger

    /// Runs a call on the caller's thread when it needs no waiting (``attempt(_:)``: the common
    /// case, which saves two thread hops), else on the ledger's own thread, so that waiting for
    /// another process's lock or for the disk never holds the caller's executor.
    private func run<T: Sendable>(_ body: @escaping Work<T>) async throws(LedgerError) -> T {
        if let done = try attempt(body) { return done }
        return try await offload { () throws(LedgerError) in try self.call(body) }
    }

    /// Runs a blocking call on the ledger's own thread, so the caller's executor is not held.
    private func offload<T: Sendable>(_ body: @escaping @Sendable () throws(LedgerError) -> T) async throws(LedgerError) -> T {
        let result: Result<T, LedgerError> = await withCheckedContinuation { continuation in
            worker.run {
                do throws(LedgerError) { continuation.resume(returning: .success(try body())) }
                catch { continuation.resume(returning: .failure(error)) }
            }
        }
        return try result.get()
    }

    public func read(_ counters: [CounterKey]) async throws(LedgerError) -> [CounterState] {
        try await run(readWork(counters))
    }

    public func reserve(_ reservation: LedgerReservation) async throws(LedgerError) -> ReserveResult {
        try await run(reserveWork(reservation))
    }

    public func settle(_ settlement: LedgerSettlement) async throws(LedgerError) -> SettleResult {
        try await run(settleWork(settlement))
    }

    public func release(_ id: DecisionID) async throws(LedgerError) -> ReleaseResult {
        try await run(releaseWork(id))
    }

    public func reservation(_ id: DecisionID) async throws(LedgerError) -> StoredReservation? {
        try await run(reservationWork(id))
    }
}

extension SQLiteLedger.Options {
    /// The options of a `sqlite:` URL (docs/cli.md, "Ledger URLs"): `durability=normal|full`,
    /// `timeout_ms=N` (1 to 60000), `retention_s=N` (60 to 31536000).
    package init(_ options: [String: String]) throws(LedgerError) {
        self.init()
        for (name, value) in options.sorted(by: { $0.key < $1.key }) {
            switch name {
            case "durability":
                guard let durability = Durability(rawValue: value) else {
                    throw LedgerError("sqlite: durability=\(value) is not one of normal, full")
                }
                self.durability = durability
            case "timeout_ms":
                guard let number = Int32(value), (1...60_000).contains(number) else {
                    throw LedgerError("sqlite: timeout_ms=\(value) is not a whole number of milliseconds from 1 to 60000")
                }
                timeoutMilliseconds = number
            case "retention_s":
                guard let number = Int64(value), (60...31_536_000).contains(number) else {
                    throw LedgerError("sqlite: retention_s=\(value) is not a whole number of seconds from 60 to 31536000")
                }
                retentionSeconds = number
            default:
                throw LedgerError("sqlite: unknown option \"\(name)\"; the options are durability, timeout_ms, retention_s")
            }
        }
    }
}

extension SQLiteLedger {
    /// Opens the ledger a `sqlite:PATH[?OPTION=VALUE&…]` URL names, as `--ledger` takes it
    /// (docs/cli.md, "Ledger URLs").
    public convenience init(url: String, clock: any PurserClock = SystemClock()) throws(LedgerError) {
        try self.init(location: try LedgerLocation(parsing: url), clock: clock)
    }

    /// Opens the ledger a `sqlite:` location names.
    package convenience init(location: LedgerLocation, clock: any PurserClock = SystemClock()) throws(LedgerError) {
        guard case .sqlite(let path, let options) = location else {
            throw LedgerError("\(location) is not a sqlite: ledger")
        }
        try self.init(path: path, options: try Options(options), clock: clock)
    }
}
