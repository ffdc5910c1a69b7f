import ArgumentParser
import Purser
import PurserAudit
import PurserPolicyCommands
import PurserSQLite

extension LedgerCommand {
    /// `purser ledger reconcile`: what a ledger holds against what the usage logs say was spent.
    struct Reconcile: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare a ledger's counters with a replay of the usage logs.",
            discussion: """
                Replays the logs as purser audit does (every record's cost on every budget
                counter it counts against, whether or not it broke policy) and prints, per
                counter and window, the settled spend the ledger holds, the spend the logs
                say, and the difference (ledger minus logs). A positive difference is spend
                the ledger counted that no log shows (estimates settled as actuals, records
                missing from the logs); a negative one is spend the logs show that the
                ledger never counted (calls around the gateway, failed settles). Counters
                only one side has are listed too. Exit codes: 0 every counter agrees within
                --tolerance; 1 some counter differs; 2 an unreadable ledger, policy or log.

                Example:
                  purser ledger reconcile --ledger sqlite:ledger.db --since 2026-11-01 logs/2026-11/
                """
        )

        enum Format: String, ExpressibleByArgument, CaseIterable {
            case table, json
        }

        @Option(help: ArgumentHelp("The ledger: sqlite:PATH or postgres://USER@HOST/DATABASE.", valueName: "url"), transform: LedgerURL.parse)
        var ledger: LedgerLocation

        @Argument(help: "Usage log files or directories of them.")
        var logs: [String]

        @Option(help: "The policy files or directories (their budgets say which counters a record counts on).")
        var policy: [String] = ["policies"]

        @Option(name: .customLong("input-format"), help: "Log format: auto, purser, litellm, openai-usage, focus.")
        var inputFormat: UsageLogFormat = .auto

        @Option(name: .customLong("map"), help: ArgumentHelp("Take a field from a log path, as purser audit --map does (repeatable).",
                                                             valueName: "field=path"))
        var mappings: [String] = []

        @Option(help: ArgumentHelp("Only records, and ledger windows, at or after this date or RFC 3339 time.", valueName: "time"))
        var since: NowOption?

        @Option(help: ArgumentHelp("Only records, and ledger windows, before this date or RFC 3339 time.", valueName: "time"))
        var until: NowOption?

        @Option(help: ArgumentHelp("The difference in USD below which a counter agrees (default 0: to the nano-dollar).", valueName: "usd"))
        var tolerance: String = "0"

        @Flag(help: "List only the counters that differ.")
        var differencesOnly = false

        @Option(help: "table or json.")
        var format: Format = .table

        @Option(name: .shortAndLong, help: "Write to a file instead of standard output.")
        var output: String?

        @OptionGroup var reading: PolicyReadOptions

        func run() throws {
            guard let tolerance = USD(tolerance), tolerance.nanos >= 0 else {
                Output.error("purser: --tolerance \(tolerance) is not a USD amount of 0 or more")
                throw ExitCode(2)
            }
            try LedgerOpening.refuseMemory(ledger, "reconcile")
            let policySet = try PolicyLoading.load(policy, output: output, reading: reading)
            let compiled = try PolicyLoading.compile(policySet)
            var options = AuditOptions()
            options.logs = try Audit.logOptions(format: inputFormat, mappings: mappings)
            options.since = since?.timestamp
            options.until = until?.timestamp
            options.violationsKept = 0
            options.keepCounters = true
            options.maxMalformed = .count(Int.max)
            let files = try Audit.inputs(logs, temporaryDirectory: options.temporaryDirectory)
            try Output.refuseOverwriting(output, sources: files.sources)
            let report: AuditReport
            do {
                report = try Auditor(policy: compiled, options: options).run(files)
            } catch {
                Output.error("purser: \(error.message)")
                throw ExitCode(2)
            }
            if report.summary.malformed > 0 {
                Output.error("purser: \(report.summary.malformed) malformed record\(report.summary.malformed == 1 ? "" : "s") left out of the logs' side (purser audit lists them)")
            }
            var held: [CounterKey: CounterState] = [:]
            for (key, state) in try LedgerOpening.counters(ledger) where inRange(key, compiled) { held[key] = state }
            let rows = Reconciliation(ledger: held, logs: report.counters, tolerance: tolerance)
            try Output.write(format == .json ? rows.json(differencesOnly: differencesOnly) : rows.table(differencesOnly: differencesOnly),
                             to: output)
            if rows.differing > 0 { throw ExitCode(1) }
        }

        /// Whether a ledger counter's window overlaps --since/--until (the logs' side is cut the same way by time).
        private func inRange(_ key: CounterKey, _ policy: CompiledPolicy) -> Bool {
            guard since != nil || until != nil else { return true }
            let (start, end) = policy.windowBounds(key)
            if let since = since?.timestamp, end <= since.seconds { return false }
            if let until = until?.timestamp, start >= until.seconds { return false }
            return true
        }
    }
}

/// The rows of `purser ledger reconcile`: one per counter either side holds.
struct Reconciliation {
    struct Row {
        let counter: CounterKey
        let ledger: Amount?
        let reserved: Amount
        let logs: Amount?
        var difference: Int64 { Int64(clamping: Int128(ledger?.usd ?? 0) - Int128(logs?.usd ?? 0)) }
    }

    let rows: [Row]
    let tolerance: USD
    var differing: Int { rows.filter { !agrees($0) }.count }

    init(ledger: [CounterKey: CounterState], logs: [CounterKey: Amount], tolerance: USD) {
        let keys = Set(ledger.keys).union(logs.keys).sorted { ($0.budget, $0.key, $0.window) < ($1.budget, $1.key, $1.window) }
        rows = keys.map { key in
            Row(counter: key, ledger: ledger[key]?.spent, reserved: ledger[key]?.reserved ?? .zero, logs: logs[key])
        }
        self.tolerance = tolerance
    }

    func agrees(_ row: Row) -> Bool {
        row.difference.magnitude <= tolerance.nanos.magnitude
    }

    private static func money(_ amount: Amount?) -> String {
        amount.map { USD(nanos: $0.usd).description } ?? "-"
    }

    func table(differencesOnly: Bool) -> String {
        var lines = [["BUDGET", "KEY", "WINDOW", "LEDGER", "LOGS", "DIFFERENCE", "RESERVED"]]
        for row in rows where !differencesOnly || !agrees(row) {
            lines.append([row.counter.budget, row.counter.key, row.counter.windowLabel, Self.money(row.ledger), Self.money(row.logs),
                          USD(nanos: row.difference).description, USD(nanos: row.reserved.usd).description])
        }
        var text = TextTable.render(lines)
        var ledgerTotal = USDTotal.zero
        var logsTotal = USDTotal.zero
        for row in rows {
            ledgerTotal += USD(nanos: row.ledger?.usd ?? 0)
            logsTotal += USD(nanos: row.logs?.usd ?? 0)
        }
        text += "\(rows.count) counter\(rows.count == 1 ? "" : "s"), \(differing) differ"
            + (tolerance.nanos > 0 ? " by more than $\(tolerance)" : "") + "; the ledger holds $\(ledgerTotal), the logs say $\(logsTotal) "
            + "(summed over every counter, so a call counts once per budget it counts on)\n"
        return text
    }

    func json(differencesOnly: Bool) -> String {
        let json = JSONWriter(capacity: 4096)
        json.object { json in
            json.field("counters", array: { json in
                for row in rows where !differencesOnly || !agrees(row) {
                    json.object { json in
                        json.field("id", row.counter.budget)
                        json.field("key", row.counter.key)
                        json.field("window", row.counter.windowLabel)
                        json.key("ledger")
                        if let ledger = row.ledger { json.usd(USD(nanos: ledger.usd)) } else { json.null() }
                        json.key("logs")
                        if let logs = row.logs { json.usd(USD(nanos: logs.usd)) } else { json.null() }
                        json.key("difference")
                        json.usd(USD(nanos: row.difference))
                        json.key("reserved")
                        json.usd(USD(nanos: row.reserved.usd))
                        json.field("ledger_requests", row.ledger?.requests ?? 0)
                        json.field("logs_requests", row.logs?.requests ?? 0)
                        json.field("agrees", agrees(row))
                    }
                }
            })
            json.field("differing", differing)
        }
        json.newline()
        return String(decoding: json.bytes, as: UTF8.self)
    }
}
