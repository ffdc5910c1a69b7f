import Dispatch
import PostgresNIO
import Purser
import PurserCore
import PurserPolicy
import Synchronization

/// A ledger in PostgreSQL: the one store a fleet of replicas shares (docs/library.md, "Ledgers").
///
/// Every call is one statement calling a function that `purser ledger migrate` installed
/// (``PostgresSchema``): a reservation checks every enforced cap and reserves every counter
/// in one round trip, under row locks taken in key order, so no replica can overspend a cap
/// and none can deadlock another. Expiry is judged by the server's clock (`now()`), so the
/// replicas' clocks do not matter. Connections come from a pool (postgres-nio's
/// `PostgresClient`), which reconnects by itself when the server comes back.
///
/// No call waits longer than ``Options/timeout``: a server that is down, slow or unreachable
/// makes the call throw ``LedgerError``, which the enforcer turns into a `ledger-unavailable`
/// decision (docs/ledgers.md, "When the ledger cannot answer").
public final class PostgresLedger: Ledger, CounterListing {
    /// How the ledger connects and how long it waits.
    public struct Options: Sendable {
        /// How to use TLS.
        public enum TLSMode: String, Sendable, CaseIterable {
            /// Plain TCP (the default on loopback and Unix sockets).
            case disable
            /// TLS when the server offers it, plain TCP otherwise.
            case prefer
            /// TLS with the server's certificate verified against the system's roots (the default off loopback).
            case require
        }

        /// The longest a call may take, connecting included; also the server's
        /// `statement_timeout` and `lock_timeout` for the ledger's sessions.
        public var timeout: Duration
        /// The most connections the pool opens.
        public var maximumConnections: Int
        /// How long finished reservation ids are remembered, so that a late duplicate settle counts once.
        public var retentionSeconds: Int64
        /// TLS; nil picks `disable` on loopback and `require` elsewhere.
        public var tls: TLSMode?
        /// A PEM file of the certificate authorities to verify the server against, instead of the
        /// system's roots (a private CA, as `sslrootcert` is for libpq).
        public var rootCertificates: String?

        /// Creates options.
        public init(timeout: Duration = .seconds(2), maximumConnections: Int = 16, retentionSeconds: Int64 = 86_400, tls: TLSMode? = nil,
                    rootCertificates: String? = nil)
        {
            self.timeout = timeout
            self.maximumConnections = maximumConnections
            self.retentionSeconds = retentionSeconds
            self.tls = tls
            self.rootCertificates = rootCertificates
        }
    }

    /// Where to connect: host (or Unix socket directory), port, user, database. The password
    /// is not kept here, so that describing a ledger never shows it.
    public struct Endpoint: Sendable, Equatable, CustomStringConvertible {
        /// The host name or address, or the directory of a Unix socket (starting with `/`).
        public var host: String
        /// The port.
        public var port: Int
        /// The user.
        public var user: String
        /// The database.
        public var database: String

        /// Creates an endpoint.
        public init(host: String = "127.0.0.1", port: Int = 5432, user: String = "postgres", database: String = "postgres") {
            self.host = host
            self.port = port
            self.user = user
            self.database = database
        }

        /// Whether the server is on this machine.
        var isLocal: Bool { host.hasPrefix("/") || ["localhost", "127.0.0.1", "::1", "[::1]"].contains(host) }

        public var description: String { "postgres://\(user)@\(host.hasPrefix("/") ? "[\(host)]" : host):\(port)/\(database)" }
    }

    /// The schema version this build writes and reads (docs/ledgers.md, "PostgreSQL").
    public static var schemaVersion: Int { Int(PostgresSchema.version) }

    /// Where the ledger connects.
    public let endpoint: Endpoint
    /// The options it was opened with.
    public let options: Options
    private let client: PostgresClient
    /// One connection outside the pool, for the schema check: its failure says why (refused,
    /// unknown database, bad password), where the pool would only keep retrying.
    private let probe: PostgresConnection.Configuration
    private let runner: Task<Void, Never>
    /// Where the pool's background work, every query's task and its timeout run: the one event
    /// loop of the pool's connections, so that a busy cooperative pool delays neither the
    /// connections nor the timeouts, and a query's answer resumes it without a thread hop.
    private let executor: EventLoopTaskExecutor
    /// Whether the schema version was found current (checked on the first call).
    private let checked = Atomic<Bool>(false)
    private let calls = Atomic<Int>(0)

    /// Connects to a database (the pool opens one connection at once, in the background, and the
    /// others on demand). The schema must have been
    /// created by ``migrate()`` (or `purser ledger migrate`).
    public init(endpoint: Endpoint, password: String?, options: Options = Options()) throws(LedgerError) {
        guard options.timeout > .zero, options.timeout <= .seconds(600) else {
            throw LedgerError("postgres: the timeout must be from 1 ms to 600 s")
        }
        guard (1...1000).contains(options.maximumConnections) else {
            throw LedgerError("postgres: the pool size must be from 1 to 1000 connections")
        }
        var configuration: PostgresClient.Configuration
        var probe: PostgresConnection.Configuration
        if endpoint.host.hasPrefix("/") {
            let socket = endpoint.host.hasSuffix(".s.PGSQL.\(endpoint.port)") ? endpoint.host : "\(endpoint.host)/.s.PGSQL.\(endpoint.port)"
            configuration = PostgresClient.Configuration(unixSocketPath: socket, username: endpoint.user, password: password,
                                                         database: endpoint.database)
            probe = PostgresConnection.Configuration(unixSocketPath: socket, username: endpoint.user, password: password,
                                                     database: endpoint.database)
        } else {
            let tls: PostgresClient.Configuration.TLS
            let probeTLS: PostgresConnection.Configuration.TLS
            var verification = TLSConfiguration.makeClientConfiguration()
            if let roots = options.rootCertificates {
                // Read now, so that a missing or malformed file is an error at start, not at the first call.
                do {
                    verification.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(roots))
                } catch {
                    throw LedgerError("postgres: cannot read the sslrootcert file \(Self.safe(roots)) (a PEM file of certificates): \(error)")
                }
            }
            do {
                switch options.tls ?? (endpoint.isLocal ? .disable : .require) {
                case .disable:
                    (tls, probeTLS) = (.disable, .disable)
                case .prefer:
                    (tls, probeTLS) = (.prefer(verification), .prefer(try NIOSSLContext(configuration: verification)))
                case .require:
                    (tls, probeTLS) = (.require(verification), .require(try NIOSSLContext(configuration: verification)))
                }
            } catch {
                throw LedgerError("postgres: cannot set up TLS: \(error)")
            }
            let host = endpoint.host.hasPrefix("[") ? String(endpoint.host.dropFirst().dropLast()) : endpoint.host
            configuration = PostgresClient.Configuration(host: host, port: endpoint.port, username: endpoint.user, password: password,
                                                         database: endpoint.database, tls: tls)
            probe = PostgresConnection.Configuration(host: host, port: endpoint.port, username: endpoint.user, password: password,
                                                     database: endpoint.database, tls: probeTLS)
        }
        let milliseconds = max(1, options.timeout.components.seconds * 1000 + options.timeout.components.attoseconds / 1_000_000_000_000_000)
        configuration.options.connectTimeout = options.timeout
        probe.options.connectTimeout = .milliseconds(milliseconds)
        configuration.options.maximumConnections = options.maximumConnections
        // One connection stays open: postgres-nio's pool arms an idle timer (a task group and a
        // Dispatch timer) each time a connection above the minimum goes back to it, about a tenth of
        // a call's CPU when one caller at a time uses the ledger. docs/ledgers.md, "PostgreSQL".
        configuration.options.minimumConnections = 1
        configuration.options.additionalStartupParameters = [
            ("statement_timeout", "\(milliseconds)"), ("lock_timeout", "\(milliseconds)"),
            ("application_name", "purser"),
        ]
        var logger = Logger(label: "purser.postgres-ledger")
        logger.logLevel = .critical
        let executor = EventLoopTaskExecutor(PostgresClient.defaultEventLoopGroup.next())
        let client = PostgresClient(configuration: configuration, eventLoopGroup: executor.loop, backgroundLogger: logger)
        self.executor = executor
        self.client = client
        self.probe = probe
        self.endpoint = endpoint
        self.options = options
        runner = Task(executorPreference: executor) { await client.run() }
    }

    deinit {
        runner.cancel()
    }

    /// Closes the pool's connections; calls made afterwards fail.
    public func shutdown() {
        runner.cancel()
    }

    // MARK: Schema

    /// Creates or upgrades the schema to ``schemaVersion``; idempotent, and safe to run from
    /// several replicas at once (one transaction under an advisory lock). Returns the version
    /// found and the version now.
    @discardableResult
    public func migrate() async throws(LedgerError) -> (from: Int, to: Int) {
        try await bounded(timeout: max(options.timeout, .seconds(30))) { [client, endpoint] () async throws(LedgerError) -> (from: Int, to: Int) in
            do {
                return try await client.withConnection { connection in
                    try await connection.query("BEGIN", logger: Self.quiet)
                    do {
                        try await connection.query("SELECT pg_advisory_xact_lock(\(PostgresSchema.migrationLock))", logger: Self.quiet)
                        try await connection.query(PostgresQuery(unsafeSQL: PostgresSchema.versionTable), logger: Self.quiet)
                        var found: Int32 = 0
                        for try await version in try await connection.query("SELECT version FROM purser_schema WHERE id = 1", logger: Self.quiet)
                            .decode(Int32.self) { found = version }
                        guard found <= PostgresSchema.version else {
                            throw LedgerError("the database \(endpoint) has Purser schema version \(found), written by a newer Purser; this one knows version \(PostgresSchema.version)")
                        }
                        for version in (found + 1)..<(PostgresSchema.version + 1) {
                            for statement in PostgresSchema.migrations[version] ?? [] {
                                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: Self.quiet)
                            }
                        }
                        try await connection.query("""
                            INSERT INTO purser_schema (id, version) VALUES (1, \(PostgresSchema.version))
                            ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, migrated_at = now()
                            """, logger: Self.quiet)
                        try await connection.query("COMMIT", logger: Self.quiet)
                        return (from: Int(found), to: Int(PostgresSchema.version))
                    } catch {
                        _ = try? await connection.query("ROLLBACK", logger: Self.quiet)
                        throw error
                    }
                }
            } catch let error as LedgerError {
                throw error
            } catch {
                throw Self.ledgerError(error, endpoint)
            }
        }
    }

    /// Checks that the database holds the schema this Purser writes, or throws what to run:
    /// `purser ledger migrate` naming `url` (the URL as the operator gave it; the endpoint
    /// when nil). The first ledger call checks it too.
    public func checkSchema(url: String? = nil) async throws(LedgerError) {
        let found = try await databaseSchemaVersion()
        guard found == Self.schemaVersion else {
            throw found == 0
                ? LedgerError("the database \(endpoint) has no Purser ledger; create it with `purser ledger migrate \(url ?? "\(endpoint)")`")
                : LedgerError("the database \(endpoint) has Purser schema version \(found) and this Purser needs \(Self.schemaVersion); run `purser ledger migrate` with the newer of the two")
        }
        checked.store(true, ordering: .releasing)
    }

    /// The schema version the database holds (0 when it has none), on a connection of its own,
    /// so that a failure says why the database cannot be reached.
    public func databaseSchemaVersion() async throws(LedgerError) -> Int {
        try await run { [probe] in
            let connection = try await PostgresConnection.connect(configuration: probe, id: 0, logger: Self.quiet)
            do {
                var present = false
                for try await value in try await connection.query("SELECT to_regclass('purser_schema') IS NOT NULL", logger: Self.quiet)
                    .decode(Bool.self) { present = value }
                var found: Int32 = 0
                if present {
                    for try await version in try await connection.query("SELECT coalesce(max(version), 0) FROM purser_schema", logger: Self.quiet)
                        .decode(Int32.self) { found = version }
                }
                try? await connection.close()
                return Int(found)
            } catch {
                try? await connection.close()
                throw error
            }
        }
    }

    // MARK: Ledger

    public func read(_ counters: [CounterKey]) async throws(LedgerError) -> [CounterState] {
        let keys = Keys(counters)
        return try await call { [client] in
            let rows = try await client.query("""
                SELECT purser_read(\(keys.budgets), \(keys.scopes), \(keys.periods), \(keys.windows))
                """, logger: Self.quiet)
            var numbers: [Int64] = []
            for try await value in rows.decode([Int64].self) { numbers = value }
            return try Self.states(numbers, count: counters.count)
        }
    }

    public func reserve(_ reservation: LedgerReservation) async throws(LedgerError) -> ReserveResult {
        let entries = reservation.entries
        let keys = Keys(entries.map(\.counter))
        let amounts = Amounts(entries.map(\.amount))
        let usdCaps = entries.map { $0.limits.usd?.nanos ?? -1 }
        let tokenCaps = entries.map { $0.limits.tokens ?? -1 }
        let requestCaps = entries.map { $0.limits.requests ?? -1 }
        let enforced = entries.map(\.enforced)
        let id = reservation.id.description
        let ttl = min(max(reservation.ttlSeconds, 1), 315_360_000)
        let model = reservation.model
        let statement = ReserveStatement(id: id, ttl: ttl, model: model, keys: keys, amounts: amounts,
                                         caps: Amounts(usd: usdCaps, tokens: tokenCaps, requests: requestCaps), enforced: enforced)
        return try await call { [client] in
            var result: ReserveResult?
            for try await (outcome, exceeded, before, after) in try await client.execute(statement, logger: Self.quiet) {
                let states = try Self.states(before, count: entries.count)
                if outcome == "exceeded" {
                    result = .exceeded(entry: Int(exceeded), states: states)
                } else {
                    result = .reserved(before: states, after: try Self.states(after, count: entries.count))
                }
            }
            guard let result else { throw LedgerError("purser_reserve returned no row") }
            return result
        }
    }

    public func settle(_ settlement: LedgerSettlement) async throws(LedgerError) -> SettleResult {
        let entries = settlement.entries
        let keys = Keys(entries.map(\.counter))
        let amounts = Amounts(entries.map(\.amount))
        let id = settlement.id.description
        let statement = SettleStatement(id: id, keys: keys, amounts: amounts)
        return try await call { [client] in
            var result: SettleResult?
            for try await (outcome, before, after) in try await client.execute(statement, logger: Self.quiet) {
                switch outcome {
                case "already_settled": result = SettleResult(outcome: .alreadySettled)
                case "settled", "settled_without_reservation":
                    result = SettleResult(outcome: outcome == "settled" ? .settled : .settledWithoutReservation,
                                          before: try Self.states(before, count: entries.count),
                                          after: try Self.states(after, count: entries.count))
                default: throw LedgerError("purser_settle answered \(outcome)")
                }
            }
            guard let result else { throw LedgerError("purser_settle returned no row") }
            return result
        }
    }

    public func release(_ id: DecisionID) async throws(LedgerError) -> ReleaseResult {
        let text = id.description
        return try await call { [client] in
            var outcome = ""
            for try await value in try await client.query("SELECT purser_release(\(text))", logger: Self.quiet).decode(String.self) {
                outcome = value
            }
            return outcome == "released" ? .released : .notHeld
        }
    }

    public func reservation(_ id: DecisionID) async throws(LedgerError) -> StoredReservation? {
        let text = id.description
        return try await call { [client, endpoint] in
            let rows = try await client.query("""
                SELECT CASE WHEN r.state = 'held' AND r.expires_at <= now() THEN 'expired' ELSE r.state END, r.model,
                       coalesce(array_agg(e.budget ORDER BY e.entry) FILTER (WHERE e.id IS NOT NULL), '{}'),
                       coalesce(array_agg(e.scope_key ORDER BY e.entry) FILTER (WHERE e.id IS NOT NULL), '{}'),
                       coalesce(array_agg(e.period ORDER BY e.entry) FILTER (WHERE e.id IS NOT NULL), '{}'),
                       coalesce(array_agg(e.win ORDER BY e.entry) FILTER (WHERE e.id IS NOT NULL), '{}'),
                       coalesce(array_agg(e.usd ORDER BY e.entry) FILTER (WHERE e.id IS NOT NULL), '{}'),
                       coalesce(array_agg(e.tokens ORDER BY e.entry) FILTER (WHERE e.id IS NOT NULL), '{}'),
                       coalesce(array_agg(e.requests ORDER BY e.entry) FILTER (WHERE e.id IS NOT NULL), '{}')
                FROM purser_reservations r LEFT JOIN purser_reservation_entries e ON e.id = r.id
                WHERE r.id = \(text) GROUP BY r.id, r.state, r.expires_at, r.model
                """, logger: Self.quiet)
            var found: StoredReservation?
            for try await (state, model, budgets, scopes, periods, windows, usd, tokens, requests)
                in rows.decode((String, String?, [String], [String], [String], [Int64], [Int64], [Int64], [Int64]).self)
            {
                let count = budgets.count
                guard let state = StoredReservation.State(rawValue: state),
                      [scopes.count, periods.count, windows.count, usd.count, tokens.count, requests.count].allSatisfy({ $0 == count })
                else { throw LedgerError("the database \(endpoint) holds an unreadable reservation \(text)") }
                var counters: [CounterKey] = []
                for index in budgets.indices {
                    guard let period = BudgetPeriod(rawValue: periods[index]) else {
                        throw LedgerError("the database \(endpoint) holds a reservation with an unknown period \(periods[index])")
                    }
                    counters.append(CounterKey(budget: budgets[index], key: scopes[index], period: period, window: windows[index]))
                }
                let stored = budgets.indices.map { Amount(usd: usd[$0], tokens: tokens[$0], requests: requests[$0]) }
                found = StoredReservation(counters: counters, amounts: stored, model: model, state: state)
            }
            return found
        }
    }

    /// Every counter the database holds, in key order, as reads see them.
    public func counters() async throws(LedgerError) -> [(CounterKey, CounterState)] {
        try await call { [client, endpoint] in
            let rows = try await client.query("""
                SELECT budget, scope_key, period, win,
                       purser_read(ARRAY[budget], ARRAY[scope_key], ARRAY[period], ARRAY[win])
                FROM purser_counters ORDER BY budget, scope_key, period, win
                """, logger: Self.quiet)
            var result: [(CounterKey, CounterState)] = []
            for try await (budget, scope, period, window, numbers) in rows.decode((String, String, String, Int64, [Int64]).self) {
                guard let period = BudgetPeriod(rawValue: period) else {
                    throw LedgerError("the database \(endpoint) holds a counter with an unknown period \(period)")
                }
                result.append((CounterKey(budget: budget, key: scope, period: period, window: window), try Self.states(numbers, count: 1)[0]))
            }
            return result
        }
    }

    // MARK: Calls

    private static let quiet: Logger = {
        var logger = Logger(label: "purser.postgres-ledger")
        logger.logLevel = .critical
        return logger
    }()

    /// Runs one ledger call within the timeout, checking the schema version on the first, and
    /// now and then forgetting finished reservations past the retention.
    private func call<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws(LedgerError) -> T {
        if !checked.load(ordering: .acquiring) { try await checkSchema() }
        if calls.wrappingAdd(1, ordering: .relaxed).newValue % 4096 == 0 {
            let retention = options.retentionSeconds
            Task(executorPreference: executor) { [client] in _ = try? await client.query("SELECT purser_prune(\(retention))", logger: Self.quiet) }
        }
        return try await run(body)
    }

    /// Runs a query within the timeout, mapping every failure to a ``LedgerError``.
    private func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws(LedgerError) -> T {
        let endpoint = endpoint
        return try await bounded(timeout: options.timeout) { () async throws(LedgerError) -> T in
            do {
                return try await body()
            } catch let error as LedgerError {
                throw error
            } catch {
                throw Self.ledgerError(error, endpoint)
            }
        }
    }

    /// Runs `body`, or throws once `timeout` has passed, whichever comes first. The body and its
    /// timer run on the ledger's event loop, so neither waits for a thread of the caller's pool.
    /// At the timeout the body is cancelled (a connection still being waited for is given up)
    /// and may finish on its own later; the caller does not wait.
    private func bounded<T: Sendable>(timeout: Duration, _ body: @escaping @Sendable () async throws(LedgerError) -> T) async throws(LedgerError) -> T {
        let endpoint = endpoint
        let executor = executor
        let race = Race<T>()
        let result: Result<T, LedgerError> = await withCheckedContinuation { continuation in
            race.pending.withLock { $0 = continuation }
            let query = Task(executorPreference: executor) {
                // Scheduled from the loop itself, the timer costs no wake-up; one that fires after
                // the call finished finds nobody waiting and does nothing.
                let timer = executor.loop.scheduleTask(in: .nanoseconds(Self.nanoseconds(timeout))) {
                    race.finish(.failure(LedgerError("PostgreSQL at \(endpoint) did not answer within \(Self.milliseconds(timeout)) ms")))
                    race.query.withLock { $0?.cancel() }
                }
                do throws(LedgerError) { race.finish(.success(try await body())) } catch { race.finish(.failure(error)) }
                timer.cancel()
            }
            race.query.withLock { $0 = query }
        }
        return try result.get()
    }

    /// A call racing its timeout: whichever finishes first resumes the caller, once.
    private final class Race<T: Sendable>: Sendable {
        let pending = Mutex<CheckedContinuation<Result<T, LedgerError>, Never>?>(nil)
        let query = Mutex<Task<Void, Never>?>(nil)

        func finish(_ result: Result<T, LedgerError>) {
            pending.withLock { waiting in
                waiting?.resume(returning: result)
                waiting = nil
            }
        }
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    /// A message for a failure: the server's own, or what went wrong with the connection. Never
    /// the password (postgres-nio's errors do not carry it).
    static func ledgerError(_ error: any Error, _ endpoint: Endpoint) -> LedgerError {
        if let error = error as? PostgresDecodingError {
            return LedgerError("PostgreSQL at \(endpoint) answered in an unexpected shape (\(error.code)); is the schema one this Purser wrote?")
        }
        guard let error = error as? PSQLError else { return LedgerError("PostgreSQL at \(endpoint): \(error)") }
        if let info = error.serverInfo, let message = info[.message] {
            let state = info[.sqlState] ?? ""
            if state == "42883" || state == "42P01" {
                return LedgerError("the database \(endpoint) has no Purser ledger, or an older one; run `purser ledger migrate \(endpoint)`")
            }
            return LedgerError("PostgreSQL at \(endpoint): \(message)\(state.isEmpty ? "" : " (SQLSTATE \(state))")")
        }
        let cause = error.underlying.map { ": \($0)" } ?? ""
        switch error.code {
        case .connectionError, .uncleanShutdown, .serverClosedConnection, .clientClosedConnection:
            return LedgerError("cannot reach PostgreSQL at \(endpoint)\(cause)")
        case .poolClosed:
            return LedgerError("the ledger's connections to \(endpoint) are closed")
        case .sslUnsupported:
            return LedgerError("PostgreSQL at \(endpoint) does not offer TLS; use sslmode=disable only on a network you trust")
        case .authMechanismRequiresPassword:
            return LedgerError("PostgreSQL at \(endpoint) asks for a password; give it with password_file= or PGPASSWORD")
        default:
            return LedgerError("PostgreSQL at \(endpoint): \(error.code)\(cause)")
        }
    }

    /// Nine numbers per counter (``PostgresSchema``'s order) as states.
    private static func states(_ numbers: [Int64], count: Int) throws(LedgerError) -> [CounterState] {
        guard numbers.count == 9 * count else {
            throw LedgerError("the ledger answered \(numbers.count) numbers for \(count) counters")
        }
        return (0..<count).map { index in
            let n = numbers[(9 * index)...]
            let base = n.startIndex
            return CounterState(spent: Amount(usd: n[base], tokens: n[base + 1], requests: n[base + 2]),
                                reserved: Amount(usd: n[base + 3], tokens: n[base + 4], requests: n[base + 5]),
                                peak: Amount(usd: n[base + 6], tokens: n[base + 7], requests: n[base + 8]))
        }
    }

    /// Counter keys as the four arrays the functions take.
    private struct Keys: Sendable {
        let budgets: [String]
        let scopes: [String]
        let periods: [String]
        let windows: [Int64]

        init(_ keys: [CounterKey]) {
            budgets = keys.map(\.budget)
            scopes = keys.map(\.key)
            periods = keys.map(\.period.rawValue)
            windows = keys.map(\.window)
        }

        func append(to bindings: inout PostgresBindings) {
            bindings.append(budgets)
            bindings.append(scopes)
            bindings.append(periods)
            bindings.append(windows)
        }
    }

    /// Amounts as the three arrays the functions take.
    private struct Amounts: Sendable {
        let usd: [Int64]
        let tokens: [Int64]
        let requests: [Int64]

        init(_ amounts: [Amount]) {
            usd = amounts.map(\.usd)
            tokens = amounts.map(\.tokens)
            requests = amounts.map(\.requests)
        }

        init(usd: [Int64], tokens: [Int64], requests: [Int64]) {
            self.usd = usd
            self.tokens = tokens
            self.requests = requests
        }

        func append(to bindings: inout PostgresBindings) {
            bindings.append(usd)
            bindings.append(tokens)
            bindings.append(requests)
        }
    }

    /// `purser_reserve`, prepared once per connection: the server parses and plans the call once.
    private struct ReserveStatement: PostgresPreparedStatement {
        static let name = "purser_reserve_v2"
        static let sql = """
            SELECT outcome, exceeded, before, after
            FROM purser_reserve($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
            """
        typealias Row = (String, Int32, [Int64], [Int64])

        let id: String
        let ttl: Int64
        let model: String?
        let keys: Keys
        let amounts: Amounts
        let caps: Amounts
        let enforced: [Bool]

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 14)
            bindings.append(id)
            bindings.append(ttl)
            bindings.append(model)
            keys.append(to: &bindings)
            amounts.append(to: &bindings)
            caps.append(to: &bindings)
            bindings.append(enforced)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
    }

    /// `purser_settle`, prepared once per connection.
    private struct SettleStatement: PostgresPreparedStatement {
        static let name = "purser_settle_v2"
        static let sql = "SELECT outcome, before, after FROM purser_settle($1, $2, $3, $4, $5, $6, $7, $8)"
        typealias Row = (String, [Int64], [Int64])

        let id: String
        let keys: Keys
        let amounts: Amounts

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 8)
            bindings.append(id)
            keys.append(to: &bindings)
            amounts.append(to: &bindings)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
    }
}
