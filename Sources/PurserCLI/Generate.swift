import PurserAudit
import ArgumentParser
import Purser
import PurserPolicyCommands

/// `purser generate`: realistic usage logs for a policy, for examples, tests and benchmarks.
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate realistic usage logs for a policy (seeded, any supported format).",
        discussion: """
            Records follow the policy's teams, environments, models and regions, with a
            working-day traffic curve in its time zone and heavy-tailed token counts
            priced exactly at its prices; --violations percent of them break the policy
            in every way it can be broken (frontier models in QA, residency, rules,
            unknown names, runaway bursts that exhaust budgets). The same seed gives the
            same file on every machine.

            Examples:
              purser generate --records 1000000 -o usage.jsonl
              purser generate --format litellm-csv --records 300000 --seed 7 -o spend.csv
              purser generate --format openai-usage --start 2026-11-01 --days 30 -o usage.jsonl
            """
    )

    @Option(help: "The policy the logs are for.")
    var policy: [String] = ["policies"]

    @Option(help: "Format: purser, litellm-json, litellm-csv, openai-usage, focus.")
    var format: UsageLogWriter.Format = .purser

    @Option(help: "Number of records.")
    var records = 10_000

    @Option(help: "Random seed.")
    var seed: UInt64 = 2026

    @Option(help: ArgumentHelp("First day (date or RFC 3339 time, default 2026-11-01 in the policy's time zone).", valueName: "time"))
    var start: NowOption?

    @Option(help: "Days covered.")
    var days = 30

    @Option(help: "Percent of records that break the policy.")
    var violations = 6

    @Option(name: .shortAndLong, help: "Write to a file instead of standard output (whole or not at all; never one of the inputs).")
    var output: String?

    @OptionGroup var reading: PolicyReadOptions

    func validate() throws {
        guard records >= 0 else { throw ValidationError("--records must not be negative.") }
        guard days > 0 else { throw ValidationError("--days must be at least 1.") }
        guard (0...100).contains(violations) else { throw ValidationError("--violations is a percentage from 0 to 100.") }
    }

    func run() throws {
        let policySet = try PolicyLoading.load(policy, output: output, reading: reading)
        var options = UsageGenerator.Options()
        options.records = records
        options.seed = seed
        options.days = days
        options.violationPercent = violations
        if let start {
            options.start = start.timestamp
        } else if let zone = ZoneRules(identifier: policySet.settings.timezoneIdentifier) {
            options.start = Timestamp(seconds: zone.utc(fromLocal: 1_793_491_200))  // 2026-11-01 00:00 local
        }
        let generator = UsageGenerator(policy: policySet, options: options)
        let writer = try OutputWriter(output)
        defer { writer.close() }
        var stream = UsageLogWriter.Stream(format: format, policy: policySet)
        var failure: (any Error)?
        try writer.write(stream.header())
        generator.forEachRecord { request in
            guard failure == nil else { return }
            do { try writer.write(stream.row(request)) } catch { failure = error }
        }
        if let failure { throw failure }
        try writer.write(stream.footer())
        try writer.commit()
    }
}

extension UsageLogWriter.Format: ExpressibleByArgument {}
