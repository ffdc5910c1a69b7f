import ArgumentParser
import Dispatch
import Purser
import PurserPolicyCommands
import PurserPostgres
import PurserSQLite
import Synchronization

/// Parses a `--ledger` argument (docs/cli.md, "Ledger URLs"), so that a bad URL is refused
/// with the reason before anything runs.
enum LedgerURL {
    static func parse(_ argument: String) throws -> LedgerLocation {
        let location: LedgerLocation
        do throws(LedgerError) {
            location = try LedgerLocation(parsing: argument)
        } catch {
            throw ValidationError(error.message)
        }
        return location
    }
}

/// Opens the ledger a URL names, or exits 2 with the store's message.
enum LedgerOpening {
    ///
    /// A `postgres://` ledger is asked for its schema version first (unless `migrating`), so
    /// that a database that is unreachable or was never migrated stops the command with the
    /// reason, rather than turning every decision into `ledger-unavailable`.
    /// `blocking` wraps an async-only store (PostgreSQL) for the commands that decide on a
    /// plain thread; `purser serve`, which decides in tasks, takes the store itself.
    static func open(_ location: LedgerLocation, migrating: Bool = false, blocking: Bool = true) throws -> any Ledger {
        do throws(LedgerError) {
            switch location {
            case .memory: return InMemoryLedger()
            case .sqlite: return try SQLiteLedger(location: location)
            case .postgres(let url):
                // Refused here rather than while parsing: the parser's message would echo the URL.
                guard !location.hasPassword else {
                    throw LedgerError("the ledger URL \(location) carries a password, which the command line shows to every user of this machine; give it with ?password_file=PATH or the PGPASSWORD environment variable")
                }
                let ledger = try PostgresLedger(url: url)
                if !migrating {
                    try Blocking.wait { () async throws(LedgerError) in try await ledger.checkSchema(url: "\(location)") }.get()
                }
                return blocking ? BlockingLedger(ledger) : ledger
            }
        } catch {
            Output.error("purser: \(error.message)")
            throw ExitCode(2)
        }
    }

    /// Exits 2 for `memory:`, which a separate command can never look into.
    static func refuseMemory(_ location: LedgerLocation, _ command: String) throws {
        guard location == .memory else { return }
        Output.error("purser: memory: keeps nothing between processes; \(command) a sqlite: or postgres:// ledger")
        throw ExitCode(2)
    }

    /// Every counter a ledger holds, or exit 2 with the store's message.
    static func counters(_ location: LedgerLocation) throws -> [(CounterKey, CounterState)] {
        let store = try open(location)
        do throws(LedgerError) {
            guard let listing = ((store as? BlockingLedger)?.base ?? store) as? any CounterListing else {
                throw LedgerError("\(location) cannot list its counters")
            }
            return try Blocking.wait { () async throws(LedgerError) in try await listing.counters() }.get()
        } catch {
            Output.error("purser: \(error.message)")
            throw ExitCode(2)
        }
    }
}

/// A text table for a terminal: cells made safe to print, columns padded to their widest
/// cell and two spaces apart, the last one not padded.
enum TextTable {
    static func render(_ lines: [[String]]) -> String {
        let safe = lines.map { $0.map { TerminalText.sanitized($0) } }
        let columns = safe.map(\.count).max() ?? 0
        let widths = (0..<columns).map { column in safe.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
        return safe.map { line in
            line.enumerated().map { column, cell in
                column == line.count - 1 ? cell : cell + String(repeating: " ", count: widths[column] - cell.count)
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}

/// Runs async code from a synchronous command, blocking the calling thread (never a thread of
/// Swift's concurrency pool: the commands' own threads) until it is done.
enum Blocking {
    static func wait<T: Sendable>(_ body: @escaping @Sendable () async throws(LedgerError) -> T) -> Result<T, LedgerError> {
        let box = Mutex<Result<T, LedgerError>>(.failure(LedgerError("the call did not finish")))
        let done = DispatchSemaphore(value: 0)
        Task {
            let result: Result<T, LedgerError>
            do throws(LedgerError) { result = .success(try await body()) } catch { result = .failure(error) }
            box.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        return box.withLock { $0 }
    }
}

/// An async-only ledger (PostgreSQL) seen as a ``SynchronousLedger``, so that `purser eval`'s
/// batch path, which decides on a plain thread, can authorize against it. The async methods
/// go straight to the store.
final class BlockingLedger: SynchronousLedger {
    let base: any Ledger

    init(_ base: any Ledger) {
        self.base = base
    }

    func read(_ counters: [CounterKey]) async throws(LedgerError) -> [CounterState] { try await base.read(counters) }
    func reserve(_ reservation: LedgerReservation) async throws(LedgerError) -> ReserveResult { try await base.reserve(reservation) }
    func settle(_ settlement: LedgerSettlement) async throws(LedgerError) -> SettleResult { try await base.settle(settlement) }
    func release(_ id: DecisionID) async throws(LedgerError) -> ReleaseResult { try await base.release(id) }
    func reservation(_ id: DecisionID) async throws(LedgerError) -> StoredReservation? { try await base.reservation(id) }

    func readNow(_ counters: [CounterKey]) throws(LedgerError) -> [CounterState] {
        try Blocking.wait { [base] () async throws(LedgerError) in try await base.read(counters) }.get()
    }

    func readNow(entries: [CounterReservation]) throws(LedgerError) -> [CounterState] {
        try readNow(entries.map(\.counter))
    }

    func reserveNow(_ reservation: LedgerReservation) throws(LedgerError) -> ReserveResult {
        try Blocking.wait { [base] () async throws(LedgerError) in try await base.reserve(reservation) }.get()
    }

    func settleNow(_ settlement: LedgerSettlement) throws(LedgerError) -> SettleResult {
        try Blocking.wait { [base] () async throws(LedgerError) in try await base.settle(settlement) }.get()
    }

    func releaseNow(_ id: DecisionID) throws(LedgerError) -> ReleaseResult {
        try Blocking.wait { [base] () async throws(LedgerError) in try await base.release(id) }.get()
    }
}
