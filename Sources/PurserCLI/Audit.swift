import PurserAudit
import ArgumentParser
import Purser
import PurserPolicyCommands

/// `purser audit`: replay usage logs against the policy.
struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay usage logs against the policy and report what broke it.",
        discussion: """
            Replays every record in time order across the logs, with fresh budget
            counters: each record's actual cost is counted whether or not it broke
            policy, and a record violates a budget when the counter, with the record
            added, is over the limit. Reports every violation with the log file:line
            it came from, budget crossings (when, by how much), alerts, the spend that
            broke policy, and what rerouting would have saved.

            Logs are files, directories (walked recursively: *.jsonl, *.ndjson, *.json,
            *.csv, *.log in any case, each also gzip-compressed as .gz) or - for standard
            input. Each file is read once, however often it is named; every file not read
            (a repeat, a hidden or non-log name, a .zst) is listed with the reason on
            standard error and in the report. A UTF-8 byte order mark is skipped.

            Malformed records are counted and listed by file and line, and the audit
            goes on (unless --strict-input); a log with malformed records was not
            audited whole, so the audit then exits 1 whatever --fail-on says, unless
            --max-malformed tolerates that many. Records outside --since/--until are
            counted in the summary, not replayed.

            Input formats (--input-format, detected by auto): purser, litellm,
            openai-usage, focus, and decision-log: the decision logs of purser serve
            --decision-log, whose allowed authorizations count at their settled cost
            (once per decision id); denials, dry runs, releases and checkpoints are
            skipped and counted. purser eval's logs hold no requests: their allowed
            decisions are malformed records.

            Formats: table (default on a terminal), json (default otherwise), jsonl
            (one violation per line), csv, html (one self-contained page with charts),
            sarif, ocsf (OCSF Compliance Findings, one per line).

            Exit codes: 0 nothing at or above --fail-on and no malformed record beyond
            --max-malformed; 1 violations found, or more malformed records than
            --max-malformed allows; 2 an unreadable log, a malformed record under
            --strict-input, bad arguments (--since not before --until) or an invalid
            policy.

            Examples:
              purser audit examples/usage/*.jsonl
              purser audit --format html -o report.html logs/litellm-*.csv
              purser audit --input-format litellm --map team=metadata.user_api_key_team_alias spend.csv
              purser audit --since 2026-11-01 --until 2026-12-01 --fail-on warn logs/
              purser audit /var/log/purser/decisions/
            """
    )

    /// When the exit code says "violations found".
    enum FailOn: String, ExpressibleByArgument, CaseIterable {
        case deny, warn, never
    }

    @Option(help: "The policy files or directories.")
    var policy: [String] = ["policies"]

    @Argument(help: "Usage log files or directories of them (or - for standard input).")
    var logs: [String]

    @Option(help: "Report format: table, json, jsonl, csv, html, sarif, ocsf.")
    var format: AuditReportFormat?

    @Option(name: .customLong("input-format"), help: "Log format: auto, purser, litellm, openai-usage, focus, decision-log.")
    var inputFormat: UsageLogFormat = .auto

    @Option(name: .customLong("map"), help: ArgumentHelp("Take a field from a log path, e.g. team=metadata.user_api_key_team_alias, or a FOCUS cost column, e.g. cost=EffectiveCost (repeatable).", valueName: "field=path"))
    var mappings: [String] = []

    @Option(help: ArgumentHelp("Only records at or after this date or RFC 3339 time.", valueName: "time"))
    var since: NowOption?

    @Option(help: ArgumentHelp("Only records before this date or RFC 3339 time.", valueName: "time"))
    var until: NowOption?

    @Option(name: .customLong("fail-on"), help: "Exit 1 when violations with this effect or worse are found: deny, warn or never.")
    var failOn: FailOn = .deny

    @Flag(name: .customLong("strict-input"), help: "Fail (exit 2) on the first malformed record.")
    var strictInput = false

    @Option(name: .customLong("max-malformed"),
            help: ArgumentHelp("Tolerate this many malformed records (a count, or a percentage of the records read such as 0.1%) instead of exiting 1.",
                               valueName: "n"))
    var maxMalformed: MalformedTolerance?

    @Option(name: .shortAndLong, help: "Write the report to a file instead of standard output (whole or not at all; never one of the inputs).")
    var output: String?

    @Flag(name: .customLong("no-progress"), help: "Do not show a progress bar on a terminal.")
    var noProgress = false

    @OptionGroup var reading: PolicyReadOptions

    func validate() throws {
        if logs.isEmpty { throw ValidationError("Give at least one usage log.") }
        if let since = since?.timestamp, let until = until?.timestamp, since >= until {
            throw ValidationError("--since (\(since)) must be before --until (\(until)): no record could be in that window.")
        }
    }

    func run() throws {
        let policySet = try PolicyLoading.load(policy, output: output, reading: reading)
        let compiled = try PolicyLoading.compile(policySet)
        var options = AuditOptions()
        options.logs = try Self.logOptions(format: inputFormat, mappings: mappings)
        options.since = since?.timestamp
        options.until = until?.timestamp
        options.strictInput = strictInput
        if let maxMalformed { options.maxMalformed = maxMalformed }
        // The table and the HTML page list the first violations only: keep no more (counts cover all).
        let chosen = format ?? (output == nil && Output.stdoutIsTerminal ? .table : .json)
        let renderDefaults = AuditRenderOptions()
        switch chosen {
        case .table: options.violationsKept = renderDefaults.tableViolations
        case .html: options.violationsKept = renderDefaults.htmlViolations
        case .json, .jsonl, .csv, .sarif, .ocsf: options.violationsKept = nil
        }
        let files = try Self.inputs(logs, temporaryDirectory: options.temporaryDirectory)
        try Output.refuseOverwriting(output, sources: files.sources)
        // JSON Lines to a file: the violations are written into the output as they are found (the
        // spool is the report) rather than spooled and copied; the file is put in place on success only.
        let early = chosen == .jsonl ? try OutputWriter(output) : nil
        if let file = early?.regularFile { options.violationsFile = file }
        let bar = ProgressBar(enabled: !noProgress && Output.stderrIsTerminal)
        let auditor = Auditor(policy: compiled, options: options, progress: { progress in bar.update(progress) })
        let report: AuditReport
        do {
            report = try auditor.run(files)
        } catch {
            bar.finish()
            early?.close()  // the output file is left as it was
            Output.error("purser: \(error.message)")
            throw ExitCode(2)
        }
        bar.finish()
        let writer = try early ?? OutputWriter(output)
        defer { writer.close() }
        do {
            var renderOptions = AuditRenderOptions()
            renderOptions.width = Output.terminalWidth
            renderOptions.toolVersion = PurserVersion.current
            if options.violationsFile == nil {
                try AuditRenderer.render(report, as: chosen, options: renderOptions) { try writer.write($0) }
            }
            try writer.commit()
        } catch let exit as ExitCode {
            throw exit
        } catch {
            Output.error("purser: cannot write the report: \(error)")
            throw ExitCode(2)
        }
        let summary = report.summary
        for (reason, count) in summary.skipped.sorted(by: { $0.key < $1.key }) {
            Output.error("purser: \(count) log entr\(count == 1 ? "y" : "ies") left out: \(reason)")
        }
        if summary.outOfWindow > 0 {
            Output.error("purser: \(summary.outOfWindow) record\(summary.outOfWindow == 1 ? "" : "s") outside --since/--until, not replayed")
        }
        if summary.malformed > 0 {
            let records = "\(summary.malformed) malformed record\(summary.malformed == 1 ? "" : "s") skipped (listed in the report)"
            if summary.malformedExceeded {
                let allowed = summary.malformedAllowed
                Output.error("purser: \(records); the logs were not audited whole (exit 1): "
                             + (allowed == 0 ? "pass --max-malformed to tolerate some" : "--max-malformed allows \(allowed)"))
                throw ExitCode(1)
            }
            Output.error("purser: \(records); tolerated: --max-malformed allows \(summary.malformedAllowed)")
        }
        switch failOn {
        case .deny: if summary.denied > 0 { throw ExitCode(1) }
        case .warn: if summary.denied + summary.warned > 0 { throw ExitCode(1) }
        case .never: break
        }
    }

    /// How to read logs: `--input-format` and the `--map` rules, or exit 2 with the bad rule's message.
    static func logOptions(format: UsageLogFormat, mappings: [String]) throws -> UsageLogOptions {
        var options = UsageLogOptions()
        options.format = format
        for rule in mappings {
            do {
                try options.mapping.add(rule)
            } catch {
                Output.error("purser: \(error.message)")
                throw ExitCode(2)
            }
        }
        return options
    }

    /// The log files of the paths given, saying which were skipped and why; exit 2 when none can be read.
    static func inputs(_ paths: [String], temporaryDirectory: String) throws -> LogInputs {
        var files = LogInputs()
        do {
            for path in paths { try files.add(path, temporaryDirectory: temporaryDirectory) }
        } catch {
            // What was skipped on the way explains an empty directory.
            for file in files.skipped { Output.error("purser: \(file.path): skipped: \(file.reason)") }
            Output.error("purser: \(error.description)")
            throw ExitCode(2)
        }
        for file in files.skipped {
            Output.error("purser: \(file.path): skipped: \(file.reason)")
        }
        return files
    }
}

extension AuditReportFormat: ExpressibleByArgument {}

extension MalformedTolerance: ExpressibleByArgument {
    public init?(argument: String) {
        self.init(argument)
    }
}
extension UsageLogFormat: ExpressibleByArgument {
}
