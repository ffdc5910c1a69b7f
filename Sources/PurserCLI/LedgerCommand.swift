import ArgumentParser
import Purser
import PurserPolicyCommands
import PurserPostgres
import PurserSQLite

/// `purser ledger`: an operator's look at a ledger's budget counters.
struct LedgerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "Inspect and prepare a spend ledger (sqlite:PATH).",
        discussion: """
            A ledger keeps the spend of budget counters across requests, restarts and
            processes (docs/ledgers.md). These commands read or prepare one:

              purser ledger show --ledger sqlite:ledger.db          every counter against its cap
              purser ledger show --ledger sqlite:ledger.db --team payments --format json
              purser ledger reconcile --ledger sqlite:ledger.db logs/2026-11/   the ledger against the logs
              purser ledger migrate sqlite:ledger.db                create or upgrade the schema
              purser ledger load --ledger sqlite:ledger.db --request '{…}'   concurrent authorizations
            """,
        subcommands: [Show.self, Reconcile.self, Migrate.self, Load.self]
    )

    /// `purser ledger show`.
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a ledger's budget counters against the policy's caps.",
            discussion: """
                One row per counter and capped unit: the budget, its scope key, the window,
                the cap from the policy, the settled and reserved spend, and what remains
                (negative when over). A counter whose budget the policy no longer has is
                listed without a cap. Exit codes: 0 every counter within its caps; 1 some
                counter over a cap; 2 an unreadable ledger or policy.
                """
        )

        enum Format: String, ExpressibleByArgument, CaseIterable {
            case table, json
        }

        @Option(help: ArgumentHelp("The ledger: sqlite:PATH or postgres://USER@HOST/DATABASE.", valueName: "url"), transform: LedgerURL.parse)
        var ledger: LedgerLocation

        @Option(help: "The policy files or directories whose caps the counters are shown against.")
        var policy: [String] = ["policies"]

        @Option(help: "Only counters whose scope key names this team (payments, payments/qa, …).")
        var team: String?

        @Option(help: "Only this budget's counters.")
        var budget: String?

        @Option(help: "table or json.")
        var format: Format = .table

        @Option(name: .shortAndLong, help: "Write to a file instead of standard output.")
        var output: String?

        @OptionGroup var reading: PolicyReadOptions

        func run() throws {
            try LedgerOpening.refuseMemory(ledger, "show")
            let compiled = try PolicyLoading.compile(try PolicyLoading.load(self.policy, output: output, reading: reading))
            let counters = try LedgerOpening.counters(ledger)
            let rows = LedgerRows(counters.filter { counter, _ in
                (budget == nil || counter.budget == budget) && (team == nil || counter.key.split(separator: "/").contains { $0 == team! })
            }, policy: compiled)
            try Output.write(format == .json ? rows.json() : rows.table(), to: output)
            if rows.over > 0 { throw ExitCode(1) }
        }
    }

    /// `purser ledger migrate`.
    struct Migrate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or upgrade a ledger's schema.",
            discussion: """
                Safe to run again and from several processes or replicas at once: a ledger
                already at this build's schema version is left as it is. A postgres://
                ledger must be migrated before the first gateway uses it (run it from a
                deploy step, with an account that may create tables and functions); a
                sqlite: file is also migrated when it is opened. Exit codes: 0 done; 2 the
                ledger cannot be reached or was written by a newer Purser.

                  purser ledger migrate sqlite:/var/lib/purser/ledger.db
                  PGPASSWORD=… purser ledger migrate postgres://purser@db.internal/purser
                """
        )

        @Argument(help: ArgumentHelp("The ledger: sqlite:PATH or postgres://USER@HOST/DATABASE.", valueName: "url"),
                  transform: LedgerURL.parse)
        var ledger: LedgerLocation

        func run() throws {
            guard ledger != .memory else {
                Output.error("purser: memory: has no schema")
                throw ExitCode(2)
            }
            let store = try LedgerOpening.open(ledger, migrating: true)
            guard let postgres = (store as? BlockingLedger)?.base as? PostgresLedger else {
                print("\(ledger): schema version \(SQLiteLedger.schemaVersion)")
                return
            }
            switch Blocking.wait({ () async throws(LedgerError) in try await postgres.migrate() }) {
            case .success(let versions):
                print(versions.from == versions.to
                      ? "\(ledger): schema version \(versions.to), already current"
                      : "\(ledger): schema version \(versions.from) -> \(versions.to)")
            case .failure(let error):
                Output.error("purser: \(error.message)")
                throw ExitCode(2)
            }
        }
    }
}

/// The rows of `purser ledger show`, as a table for a terminal.
typealias LedgerRows = BudgetRows

extension BudgetRows {
    private static func number(_ value: Int64, usd: Bool) -> String {
        usd ? USD(nanos: value).description : String(value)
    }

    func table() -> String {
        var lines = [["BUDGET", "KEY", "WINDOW", "UNIT", "LIMIT", "SPENT", "RESERVED", "REMAINING"]]
        for row in rows {
            lines.append([row.counter.budget, row.counter.key, row.counter.windowLabel,
                          row.unit, row.limit.map { Self.number($0, usd: row.isUSD) } ?? "(not in the policy)",
                          Self.number(row.spent, usd: row.isUSD), Self.number(row.reserved, usd: row.isUSD),
                          row.remaining.map { Self.number($0, usd: row.isUSD) } ?? "-"])
        }
        return TextTable.render(lines) + "\(rows.count) row\(rows.count == 1 ? "" : "s"), \(over) over the cap\n"
    }
}
