import ArgumentParser
import Purser
import PurserPolicyCommands
import PurserSQLite

/// Parses a `--ledger` argument (docs/cli.md, "Ledger URLs"), so that a bad URL is refused
/// with the reason before anything runs.
enum LedgerURL {
    static func parse(_ argument: String) throws -> LedgerLocation {
        do throws(LedgerError) {
            return try LedgerLocation(parsing: argument)
        } catch {
            throw ValidationError(error.message)
        }
    }
}

/// Opens the ledger a URL names, or exits 2 with the store's message.
enum LedgerOpening {
    static func open(_ location: LedgerLocation) throws -> any Ledger {
        do throws(LedgerError) {
            switch location {
            case .memory: return InMemoryLedger()
            case .sqlite: return try SQLiteLedger(location: location)
            }
        } catch {
            Output.error("purser: \(error.message)")
            throw ExitCode(2)
        }
    }

    /// Exits 2 for `memory:`, which a separate command can never look into.
    static func refuseMemory(_ location: LedgerLocation, _ command: String) throws {
        guard location == .memory else { return }
        Output.error("purser: memory: keeps nothing between processes; \(command) a sqlite: ledger")
        throw ExitCode(2)
    }

    /// Every counter a ledger holds, or exit 2 with the store's message.
    static func counters(_ location: LedgerLocation) throws -> [(CounterKey, CounterState)] {
        let store = try open(location)
        do throws(LedgerError) {
            guard let sqlite = store as? SQLiteLedger else { throw LedgerError("\(location) cannot list its counters") }
            return try sqlite.countersNow()
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
