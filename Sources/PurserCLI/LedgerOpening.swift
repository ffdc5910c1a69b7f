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
}
