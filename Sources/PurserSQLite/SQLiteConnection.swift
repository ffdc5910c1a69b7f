import CSQLite
import Purser

/// One connection to a database file: the only code that calls SQLite's C API.
///
/// Not thread-safe: ``SQLiteLedger`` keeps it behind a mutex. Statements are prepared once
/// and cached by their text.
final class SQLiteConnection {
    private let handle: OpaquePointer
    private var statements: [String: Statement] = [:]
    /// The file, for messages.
    let path: String

    /// Opens (creating if needed) a database file.
    init(path: String, busyTimeoutMilliseconds: Int32) throws(LedgerError) {
        var opened: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let status = sqlite3_open_v2(path, &opened, flags, nil)
        guard status == SQLITE_OK, let opened else {
            let message = opened.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(status))
            if let opened { sqlite3_close_v2(opened) }
            throw LedgerError("cannot open the ledger file \(path): \(message)")
        }
        handle = opened
        self.path = path
        sqlite3_busy_timeout(handle, busyTimeoutMilliseconds)
        sqlite3_extended_result_codes(handle, 1)
    }

    deinit {
        statements.removeAll()
        sqlite3_close_v2(handle)
    }

    /// Runs statements that return no rows (schema, pragmas, transactions).
    func execute(_ sql: String) throws(LedgerError) {
        var error: UnsafeMutablePointer<CChar>?
        let status = sqlite3_exec(handle, sql, nil, nil, &error)
        defer { sqlite3_free(error) }
        guard status == SQLITE_OK else {
            throw failure(status, error.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle)))
        }
    }

    /// Begins a write transaction (`BEGIN IMMEDIATE`) if no other connection holds the file's
    /// write lock, without waiting for it; false if one does (or the begin failed otherwise:
    /// the caller then runs the call the waiting way, which reports why). The busy timeout is
    /// `restoringTimeout` again afterwards, for the transaction's statements.
    func beginImmediateAtOnce(restoringTimeout timeout: Int32) -> Bool {
        sqlite3_busy_timeout(handle, 0)
        defer { sqlite3_busy_timeout(handle, timeout) }
        return sqlite3_exec(handle, "BEGIN IMMEDIATE", nil, nil, nil) == SQLITE_OK
    }

    /// Resets every cached statement. A statement left on a row keeps the connection's read
    /// transaction open past COMMIT, on a snapshot that the next write transaction then cannot
    /// upgrade (SQLITE_BUSY at once, whatever the timeout): transactions end with this.
    func resetStatements() {
        for statement in statements.values { statement.reset() }
    }

    /// A prepared statement, from the cache when it was prepared before; reset and unbound.
    func statement(_ sql: String) throws(LedgerError) -> Statement {
        if let cached = statements[sql] {
            cached.reset()
            return cached
        }
        var prepared: OpaquePointer?
        let status = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &prepared, nil)
        guard status == SQLITE_OK, let prepared else { throw failure(status, String(cString: sqlite3_errmsg(handle))) }
        let statement = Statement(prepared, connection: self)
        statements[sql] = statement
        return statement
    }

    /// A ledger error for a failed call, saying what SQLite said.
    func failure(_ status: Int32, _ message: String) -> LedgerError {
        switch status & 0xFF {
        case SQLITE_BUSY, SQLITE_LOCKED:
            return LedgerError("the ledger file \(path) stayed locked by another process past the timeout: \(message) (SQLite error \(status))")
        case SQLITE_FULL:
            return LedgerError("the disk holding the ledger file \(path) is full: \(message)")
        case SQLITE_READONLY, SQLITE_PERM, SQLITE_CANTOPEN:
            return LedgerError("cannot write the ledger file \(path): \(message)")
        default:
            return LedgerError("the ledger file \(path): \(message) (SQLite error \(status))")
        }
    }

    /// One prepared statement.
    final class Statement {
        private let handle: OpaquePointer
        private unowned let connection: SQLiteConnection

        fileprivate init(_ handle: OpaquePointer, connection: SQLiteConnection) {
            self.handle = handle
            self.connection = connection
        }

        deinit { sqlite3_finalize(handle) }

        fileprivate func reset() {
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
        }

        /// Binds parameters from 1 on.
        @discardableResult
        func bind(_ values: SQLiteValue...) -> Statement {
            for (offset, value) in values.enumerated() {
                let index = Int32(offset + 1)
                switch value {
                case .integer(let number): sqlite3_bind_int64(handle, index, number)
                case .text(let text): sqlite3_bind_text(handle, index, text, -1, SQLiteConnection.transient)
                case .null: sqlite3_bind_null(handle, index)
                }
            }
            return self
        }

        /// Steps once: true while a row is available.
        func step() throws(LedgerError) -> Bool {
            let status = sqlite3_step(handle)
            switch status {
            case SQLITE_ROW: return true
            case SQLITE_DONE: return false
            default: throw connection.failure(status, String(cString: sqlite3_errmsg(sqlite3_db_handle(handle))))
            }
        }

        /// Runs a statement that returns no rows.
        func run() throws(LedgerError) {
            while try step() {}
        }

        /// The integer in column `index` of the current row.
        func integer(_ index: Int32) -> Int64 { sqlite3_column_int64(handle, index) }

        /// The text in column `index` of the current row (nil for NULL).
        func text(_ index: Int32) -> String? {
            guard let bytes = sqlite3_column_text(handle, index) else { return nil }
            return String(cString: bytes)
        }
    }

    /// SQLite copies bound text before `bind` returns.
    fileprivate static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
}

/// A value bound to a statement.
enum SQLiteValue {
    case integer(Int64)
    case text(String)
    case null
}
