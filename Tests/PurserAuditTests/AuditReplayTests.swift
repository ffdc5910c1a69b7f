import Foundation
import Testing
import PurserAudit
import Purser
import PurserTestSupport

@Suite("Audit replay")
struct AuditReplayTests {
    static let policy: CompiledPolicy = {
        guard let compiled = try? CompiledPolicy(EngineFixture.policy) else { fatalError("fixture") }
        return compiled
    }()

    /// A JSON Lines log of payments' production haiku calls, $1 each, one a minute from 2026-11-23T10:00Z.
    static func log(_ count: Int, reversed: Bool = false) -> String {
        let lines = (0..<count).map { minute in
            let time = Timestamp(seconds: EngineFixture.monday.seconds + Int64(minute) * 60)
            return #"{"id":"r-\#(minute)","timestamp":"\#(time)","team":"payments","environment":"production","model":"haiku","cost":1}"#
        }
        return (reversed ? lines.reversed() : lines).joined(separator: "\n") + "\n"
    }

    static func audit(_ files: [(String, String)], batchSize: Int = 4096) throws -> AuditReport {
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        var paths: [String] = []
        for (name, text) in files {
            try Data(text.utf8).write(to: URL(fileURLWithPath: directory + "/" + name))
            paths.append(directory + "/" + name)
        }
        var options = AuditOptions()
        options.logs.batchSize = batchSize
        options.runSize = 7
        return try Auditor(policy: policy, options: options).run(paths)
    }

    static func violations(_ report: AuditReport) throws -> [AuditViolation] {
        var all: [AuditViolation] = []
        try report.forEachViolation { all.append($0) }
        return all
    }

    @Test func countsEverySpendAndFlagsTheRecordThatCrossesTheCap() throws {
        // payments has a $10 daily cap: the 11th $1 record takes the counter to $11.
        let report = try Self.audit([("a.jsonl", Self.log(15))])
        #expect(report.summary.records == 15 && report.summary.totalSpend == USD(dollars: 15))
        let budget = try Self.violations(report).filter { $0.violation.rule == "team.payments.day" }
        #expect(budget.map(\.requestID) == (10..<15).map { "r-\($0)" })
        let crossing = try #require(report.budgets.first { $0.counter.budget == "team.payments.day" })
        #expect(crossing.spent == USD(dollars: 15).nanos && crossing.overspend == USD(dollars: 5).nanos)
        #expect(crossing.firstCrossedInput.line == 11)
        #expect(report.summary.spendBreakingPolicy == USD(dollars: 5))
    }

    @Test func sortsLogsOutOfOrderBeyondABatchWithoutLosingRecords() throws {
        let sorted = try Self.audit([("a.jsonl", Self.log(40))], batchSize: 5)
        let reversed = try Self.audit([("a.jsonl", Self.log(40, reversed: true))], batchSize: 5)
        #expect(!sorted.summary.sorted && reversed.summary.sorted)
        #expect(reversed.summary.records == 40)
        #expect(try Self.violations(reversed).map(\.requestID) == Self.violations(sorted).map(\.requestID))
        #expect(reversed.budgets.first?.firstCrossedInput.line == 30, "the 11th record in time is line 30 of the reversed file")
    }

    /// `--format jsonl -o FILE` has the violations written into the output file as they are found
    /// (``AuditOptions/violationsFile``): the file holds what the jsonl report renders, also when
    /// the input is out of order and the replay starts again after sorting (the file is emptied).
    @Test func violationsWrittenIntoTheReportFileAreTheJSONLReport() throws {
        for reversed in [false, true] {
            let directory = try temporaryDirectory()
            defer { cleanup(directory) }
            try Data(Self.log(40, reversed: reversed).utf8).write(to: URL(fileURLWithPath: directory + "/a.jsonl"))
            var options = AuditOptions()
            options.logs.batchSize = 5
            options.runSize = 7
            let spooled = try Auditor(policy: Self.policy, options: options).run([directory + "/a.jsonl"])
            let expected = try AuditRenderer.text(spooled, as: .jsonl)
            let path = directory + "/report.jsonl"
            let descriptor = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            try #require(descriptor >= 0)
            defer { close(descriptor) }
            options.violationsFile = descriptor
            let direct = try Auditor(policy: Self.policy, options: options).run([directory + "/a.jsonl"])
            #expect(direct.summary.sorted == reversed)
            #expect(direct.violationCount == spooled.violationCount && direct.violationCount > 0)
            let written = try String(decoding: Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
            #expect(written == expected)
            // The descriptor is the caller's: still open after the audit and its report.
            #expect(fcntl(descriptor, F_GETFD) != -1)
        }
    }

    /// A report that keeps only its first violations builds no message for the budget violations it
    /// drops: what it keeps, counts and totals are those of the full report.
    @Test func budgetViolationsDroppedUnread() throws {
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        try Data(Self.log(15).utf8).write(to: URL(fileURLWithPath: directory + "/a.jsonl"))
        var options = AuditOptions()
        let full = try Auditor(policy: Self.policy, options: options).run([directory + "/a.jsonl"])
        options.violationsKept = 2
        let kept = try Auditor(policy: Self.policy, options: options).run([directory + "/a.jsonl"])
        #expect(full.violationCount == 5 && kept.violationCount == 5 && kept.spool.count == 2)
        #expect(kept.byRule == full.byRule && kept.summary.violations == full.summary.violations)
        #expect(kept.summary.denied == full.summary.denied && kept.summary.spendBreakingPolicy == full.summary.spendBreakingPolicy)
        var first: [AuditViolation] = []
        try full.forEachViolation(first: 2) { first.append($0) }
        let listed = try Self.violations(kept)
        func line(_ item: AuditViolation) -> String {
            var json = JSONWriter()
            ViolationSpool.encode(item, into: &json)
            return json.text
        }
        #expect(listed.map(line) == first.map(line) && listed.count == 2)
        #expect(listed.allSatisfy { $0.violation.message.hasPrefix("budget team.payments.day") })
    }

    @Test func mergesFilesByTime() throws {
        let all = Self.log(20).split(separator: "\n").map(String.init)
        let even = all.enumerated().filter { $0.offset % 2 == 0 }.map(\.element).joined(separator: "\n")
        let odd = all.enumerated().filter { $0.offset % 2 == 1 }.map(\.element).joined(separator: "\n")
        let report = try Self.audit([("even.jsonl", even), ("odd.jsonl", odd)])
        #expect(report.summary.records == 20 && !report.summary.sorted)
        #expect(try Self.violations(report).filter { $0.violation.rule == "team.payments.day" }.map(\.requestID) == (10..<20).map { "r-\($0)" })
    }

    @Test func reportsMalformedRecordsAndGoesOn() throws {
        let text = Self.log(3) + "not json\n{\"team\":\"payments\",\"model\":\"haiku\"}\n" + Self.log(1).replacingOccurrences(of: "\n", with: "")
        let report = try Self.audit([("a.jsonl", text)])
        #expect(report.summary.records == 4 && report.summary.malformed == 2)
        #expect(report.malformed.map(\.location.line) == [4, 5])
        #expect(report.malformed[1].message.contains("no timestamp"))
    }

    @Test func strictInputFailsOnTheFirstMalformedRecord() throws {
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        try Data((Self.log(3) + "oops\n").utf8).write(to: URL(fileURLWithPath: directory + "/a.jsonl"))
        var options = AuditOptions()
        options.strictInput = true
        #expect(throws: AuditError.self) { try Auditor(policy: Self.policy, options: options).run([directory + "/a.jsonl"]) }
    }

    @Test func reroutingSavingsReprice() throws {
        // opus in qa is not approved: the policy would have sent it to sonnet ($3/$15 instead of $5/$25).
        // (For payments it would be haiku: its $2 max_request_cost rules sonnet out.)
        let line = #"{"id":"q","timestamp":"2026-11-23T10:00:00Z","team":"eu","environment":"qa","model":"opus","usage":{"input_tokens":1000000,"output_tokens":0}}"#
        let report = try Self.audit([("a.jsonl", line)])
        let violation = try #require(try Self.violations(report).first)
        #expect(violation.violation.rule == "environment-model" && violation.violation.effect == .deny)
        #expect(violation.cost == USD(dollars: 5))
        #expect(violation.reroute == AuditViolation.Reroute(model: "sonnet", region: "eu-central-1", cost: USD(dollars: 3)))
        #expect(report.summary.reroutingSavings == USD(dollars: 2))
    }

    @Test func reroutesPastAnOptionOnlyABudgetDenies() throws {
        // As above, but sonnet's own daily cap ($1) is spent by an earlier call: the policy would
        // have sent the opus call past sonnet to haiku ($1 instead of $5). The replay prepares
        // options only up to sonnet (nothing but a budget denies it), so haiku is assessed late.
        let yaml = EngineFixture.yaml.replacingOccurrences(
            of: "\nbudgets:\n", with: "\nbudgets:\n  - {id: sonnet-day, scope: model, when: {model: sonnet}, period: day, limit: 1}\n")
        #expect(yaml.contains("sonnet-day"))
        let loaded = load(yaml, file: "engine.yaml")
        let policy = try CompiledPolicy(try #require(loaded.policy, "\(loaded.diagnostics)"))
        let lines = [
            #"{"id":"s","timestamp":"2026-11-23T09:00:00Z","team":"eu","environment":"production","model":"sonnet","region":"eu-central-1","cost":2}"#,
            #"{"id":"q","timestamp":"2026-11-23T10:00:00Z","team":"eu","environment":"qa","model":"opus","usage":{"input_tokens":1000000,"output_tokens":0}}"#,
        ]
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: directory + "/a.jsonl"))
        let report = try Auditor(policy: policy).run([directory + "/a.jsonl"])
        let opus = try #require(try Self.violations(report).first { $0.requestID == "q" && $0.violation.rule == "environment-model" })
        #expect(opus.reroute == AuditViolation.Reroute(model: "haiku", region: "eu-central-1", cost: USD(dollars: 1)))
        #expect(report.summary.reroutingSavings == USD(dollars: 4))
    }

    /// A violation of a made-up record `number`, with fields that vary with it (some nil).
    static func spooled(_ number: Int) -> AuditViolation {
        let violation = Violation(rule: "rule-\(number % 7)", kind: .rule, effect: number % 3 == 0 ? .warn : .deny, severity: .high,
                                  message: "record \(number) says \"\(String(repeating: "é", count: number % 50))\"",
                                  source: SourceLocation(file: "policies/rules.yaml", line: number % 90 + 1, column: 3),
                                  waivedBy: number % 11 == 0 ? "EXC-\(number)" : nil)
        return AuditViolation(
            violation: violation, requestID: number % 5 == 0 ? nil : "req-\(number)",
            timestamp: Timestamp(seconds: EngineFixture.monday.seconds + Int64(number)), team: "team-\(number % 13)",
            environment: number % 4 == 0 ? nil : "production", model: "gpt-5-mini", region: "us-east-1",
            cost: USD(dollars: Int64(number), cents: Int64(number % 100)), input: RecordLocation(file: "usage.jsonl", line: number + 1),
            reroute: number % 2 == 0 ? AuditViolation.Reroute(model: "haiku", region: nil, cost: USD(dollars: 1)) : nil)
    }

    /// The spool writes full buffers on another thread while the next one fills: whatever the
    /// buffers' boundaries, every violation comes back once, whole and in order, also after a reset.
    @Test func theSpoolGivesBackEveryViolationInOrderAcrossBuffers() throws {
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        let spool = try ViolationSpool(directory: directory)
        for number in 0..<3_000 { spool.append(Self.spooled(number)) }
        spool.reset()
        // About 9 MiB: nine buffers handed to the writing queue, and a partial last one.
        let numbers = Array(10_000..<40_000)
        for number in numbers { spool.append(Self.spooled(number)) }
        spool.flush()
        #expect(spool.failure == nil)
        var lines: [String] = []
        try spool.forEach { lines.append($0.requestID ?? "-") }
        #expect(spool.count == numbers.count)
        #expect(lines == numbers.map { Self.spooled($0).requestID ?? "-" })
        var back: [String] = []
        try spool.forEachChunk { chunk in back.append(String(decoding: chunk, as: UTF8.self)) }
        let expected = numbers.map { number -> String in
            var json = JSONWriter()
            ViolationSpool.encode(Self.spooled(number), into: &json)
            return json.text + "\n"
        }
        #expect(back.joined() == expected.joined())
    }

    /// A spool the disk refuses (`/dev/full`: no space left) says so, and the audit fails
    /// with that message instead of a report that misses violations.
    @Test func aSpoolTheDiskRefusesIsAnError() throws {
        let descriptor = open("/dev/full", O_WRONLY | O_CLOEXEC)
        try #require(descriptor >= 0)
        let spool = ViolationSpool(descriptor: descriptor, path: "/dev/full")
        for number in 0..<6_000 { spool.append(Self.spooled(number)) }
        spool.flush()
        let failure = try #require(spool.failure)
        #expect(failure.contains("cannot write the violation spool /dev/full"))
        #expect(failure.contains(String(cString: strerror(ENOSPC))))
        #expect(throws: AuditError.self) { try spool.forEach { _ in } }
    }
}
