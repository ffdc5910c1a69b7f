#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Testing

/// `purser audit` on inputs that used to be misread (issue #19): pipes and FIFOs,
/// the same log named twice, directories with subdirectories and odd names, gzip,
/// malformed records, an inverted window, a byte order mark. Each runs the real
/// binary through bash, the way a shell user does.
@Suite("Hostile log input")
struct HostileLogInputTests {
    /// The repository's policy.
    static let policy = Purser.packageRoot + "/policies"

    /// `count` Purser log lines costing $0.50 each, one minute apart; `reversed` puts them
    /// out of time order beyond a batch (the audit sorts them: two passes over the input).
    static func log(_ count: Int, reversed: Bool = false, firstID: Int = 0) -> String {
        let lines = (0..<count).map { index -> String in
            let minute = 1_000 + index
            let time = String(format: "2026-11-02T%02d:%02d:00Z", minute / 60 % 24, minute % 60)
            let day = 2 + minute / 1_440
            let stamp = time.replacingOccurrences(of: "2026-11-02", with: String(format: "2026-11-%02d", day))
            return "{\"id\":\"r\(firstID + index)\",\"timestamp\":\"\(stamp)\",\"team\":\"growth\",\"environment\":\"production\","
                + "\"model\":\"gpt-5-mini\",\"region\":\"us-east-1\",\"usage\":{\"input_tokens\":10,\"output_tokens\":10},\"cost\":0.5}"
        }
        return (reversed ? lines.reversed() : lines).joined(separator: "\n") + "\n"
    }

    /// Runs a bash script with `$PURSER` set to the binary and `$POLICY` to the repository's
    /// policy, in `directory`, with the test time limit (a hang is a failure, not a stall).
    static func shell(_ script: String, in directory: String, environment extra: [String: String] = [:]) throws -> Purser.Result {
        var environment = ["PURSER": Purser.executable, "POLICY": policy]
        environment.merge(extra) { _, new in new }
        return try Purser.run(["-c", script], in: directory, executable: "/bin/bash", environment: environment)
    }

    /// The JSON report's `summary` and `malformed` objects.
    static func report(_ result: Purser.Result) throws -> (summary: [String: Any], malformed: [String: Any]) {
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let summary = try #require(object?["summary"] as? [String: Any], "no summary in:\n\(result.stdout)\n\(result.stderr)")
        let malformed = try #require(object?["malformed"] as? [String: Any])
        return (summary, malformed)
    }

    /// The skipped files of a report, as `path: reason`.
    static func skippedFiles(_ summary: [String: Any]) -> [String] {
        (summary["skipped_files"] as? [[String: Any]] ?? []).map { "\($0["path"] as? String ?? ""): \($0["reason"] as? String ?? "")" }
    }

    static let audit = "\"$PURSER\" audit --policy \"$POLICY\" --format json --fail-on never --no-progress"

    /// A pipe (process substitution) holding a log that must be sorted is read once and
    /// spooled: both passes see every record (it used to report 0 records and exit 0).
    @Test func aPipeIsReadOnceAcrossBothPasses() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("unsorted.jsonl", Self.log(3_000, reversed: true))
        let result = try Self.shell("\(Self.audit) <(cat unsorted.jsonl)", in: directory.path)
        #expect(result.status == 0, "\(result.stderr)")
        let (summary, _) = try Self.report(result)
        #expect(summary["records"] as? Int == 3_000)
        #expect(summary["sorted"] as? Bool == true)
        #expect(summary["total_spend"] as? Double == 1_500)
    }

    /// A named FIFO is read once, not opened again for the second pass (that hung forever).
    @Test func aNamedFIFOIsReadOnceAndDoesNotHang() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("unsorted.jsonl", Self.log(3_000, reversed: true))
        try directory.fifo("pipe.jsonl")
        let result = try Self.shell("cat unsorted.jsonl > pipe.jsonl & \(Self.audit) pipe.jsonl", in: directory.path)
        #expect(!result.timedOut)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Self.report(result).summary["records"] as? Int == 3_000)
    }

    /// The same log named twice, through a directory, through a symlink, or as `- -`, is read
    /// once; the repeats are listed on standard error and in the report.
    @Test(arguments: [
        "x.jsonl x.jsonl",
        "logs logs/x.jsonl",
        "logs",  // logs/link.jsonl is a symlink to logs/x.jsonl
        "- - < logs/x.jsonl",
        "./logs/x.jsonl logs/../x.jsonl",
    ])
    func theSameLogTwiceCountsOnce(_ arguments: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("logs/x.jsonl", Self.log(100))
        try directory.symlink("logs/link.jsonl", to: "x.jsonl")
        try directory.symlink("x.jsonl", to: "logs/x.jsonl")
        let result = try Self.shell("\(Self.audit) \(arguments)", in: directory.path)
        #expect(result.status == 0, "\(result.stderr)")
        let (summary, _) = try Self.report(result)
        #expect(summary["records"] as? Int == 100)
        #expect(summary["total_spend"] as? Double == 50)
        let skipped = Self.skippedFiles(summary)
        #expect(!skipped.isEmpty)
        #expect(skipped.allSatisfy { $0.contains("the same file as") })
        #expect(result.stderr.contains("skipped: the same file as"))
    }

    /// A directory is walked recursively; logs in any case and gzip-compressed ones are read;
    /// every other file is listed with the reason, on standard error and in the report.
    @Test func aDirectoryIsWalkedAndEverySkippedFileIsListed() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("logs/a.jsonl", Self.log(10, firstID: 0))
        try directory.write("logs/2026/11/b.jsonl", Self.log(20, firstID: 100))
        try directory.write("logs/C.JSONL", Self.log(30, firstID: 200))
        try directory.write("logs/rotated.jsonl.plain", Self.log(40, firstID: 300))
        try directory.write("logs/notes.txt", "not a log\n")
        try directory.write("logs/README", "no extension\n")
        try directory.write("logs/.hidden.jsonl", Self.log(5, firstID: 400))
        try directory.write("logs/old.jsonl.zst", bytes: [0x28, 0xB5, 0x2F, 0xFD, 0, 0, 0, 0])
        let gzip = try Self.shell("cp logs/rotated.jsonl.plain logs/rotated.jsonl && gzip logs/rotated.jsonl", in: directory.path)
        try #require(gzip.status == 0, "\(gzip.stderr)")
        let result = try Self.shell("\(Self.audit) logs", in: directory.path)
        #expect(result.status == 0, "\(result.stderr)")
        let (summary, _) = try Self.report(result)
        #expect(summary["records"] as? Int == 10 + 20 + 30 + 40)
        #expect((summary["files"] as? [String])?.sorted() == ["logs/2026/11/b.jsonl", "logs/C.JSONL", "logs/a.jsonl", "logs/rotated.jsonl.gz"])
        let skipped = Self.skippedFiles(summary).joined(separator: "\n")
        for name in ["logs/notes.txt", "logs/README", "logs/.hidden.jsonl", "logs/old.jsonl.zst", "logs/rotated.jsonl.plain"] {
            #expect(skipped.contains(name + ": "), "\(name) is not listed in:\n\(skipped)")
            #expect(result.stderr.contains(name + ": skipped: "), "\(name) is not on standard error:\n\(result.stderr)")
        }
        #expect(skipped.contains("logs/old.jsonl.zst: compressed with zstd"))
        #expect(skipped.contains("logs/.hidden.jsonl: a hidden file"))
    }

    /// Standard input redirected from a file is read from where its offset stands, as a stream would be.
    @Test func standardInputFromAFileStartsAtItsOffset() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("x.jsonl", Self.log(100))
        let result = try Self.shell("{ head -n 1 > /dev/null; \(Self.audit) -; } < x.jsonl", in: directory.path)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Self.report(result).summary["records"] as? Int == 99)
    }

    /// A directory with no log in it is an error (exit 2) that still lists what it skipped and why.
    @Test func aDirectoryWithoutLogsListsWhatItSkipped() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("logs/notes.txt", "not a log\n")
        try directory.write("logs/old.jsonl.zst", bytes: [0x28, 0xB5, 0x2F, 0xFD])
        let result = try Self.shell("\(Self.audit) logs", in: directory.path)
        #expect(result.status == 2)
        #expect(result.stderr.contains("logs/notes.txt: skipped: not a usage log name"), "\(result.stderr)")
        #expect(result.stderr.contains("logs/old.jsonl.zst: skipped: compressed with zstd"))
        #expect(result.stderr.contains("logs: no usage logs"))
    }

    /// A gzip file named directly is read; a truncated one is a located error (exit 2), not a short count.
    @Test func gzipIsReadAndATruncatedOneIsAnError() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("x.jsonl", Self.log(2_000, reversed: true))
        let made = try Self.shell("gzip -c x.jsonl > x.jsonl.gz && head -c 2000 x.jsonl.gz > cut.jsonl.gz", in: directory.path)
        try #require(made.status == 0)
        let whole = try Self.shell("\(Self.audit) x.jsonl.gz", in: directory.path)
        #expect(whole.status == 0, "\(whole.stderr)")
        #expect(try Self.report(whole).summary["records"] as? Int == 2_000)
        let cut = try Self.shell("\(Self.audit) cut.jsonl.gz", in: directory.path)
        #expect(cut.status == 2)
        #expect(cut.stderr.contains("cut.jsonl.gz: the gzip data ends early"), "\(cut.stderr)")
    }

    /// A file name that is not UTF-8 in a log directory no longer aborts the run: the log is read
    /// and located with the odd bytes escaped.
    @Test func aFileNameThatIsNotUTF8IsRead() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("logs/a.jsonl", Self.log(10))
        let made = try Self.shell("cp logs/a.jsonl \"logs/caf$(printf '\\xe9').jsonl\"", in: directory.path)
        try #require(made.status == 0)
        let result = try Self.shell("\(Self.audit) logs", in: directory.path)
        #expect(result.status == 0, "\(result.stderr)")
        let (summary, _) = try Self.report(result)
        #expect((summary["files"] as? [String])?.contains("logs/caf\\xE9.jsonl") == true, "\(summary["files"] ?? "")")
        // The two files are copies: same content, different inodes, both read.
        #expect(summary["records"] as? Int == 20)
    }

    /// A log with a UTF-8 byte order mark keeps its first record (JSON Lines and CSV).
    @Test func aByteOrderMarkDoesNotLoseTheFirstRecord() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("bom.jsonl", bytes: [0xEF, 0xBB, 0xBF] + Array(Self.log(3).utf8))
        let csv = try String(contentsOfFile: Purser.packageRoot + "/examples/usage/litellm-2026-11.csv", encoding: .utf8)
        let rows = csv.split(separator: "\n", omittingEmptySubsequences: false).prefix(4).joined(separator: "\n") + "\n"
        try directory.write("bom.csv", bytes: [0xEF, 0xBB, 0xBF] + Array(rows.utf8))
        let jsonl = try Self.shell("\(Self.audit) bom.jsonl", in: directory.path)
        #expect(jsonl.status == 0, "\(jsonl.stderr)")
        #expect(try Self.report(jsonl).summary["records"] as? Int == 3)
        let table = try Self.shell("\(Self.audit) bom.csv", in: directory.path)
        #expect(table.status == 0, "\(table.stderr)")
        #expect(try Self.report(table).summary["records"] as? Int == 3)
    }

    /// Malformed records mean the log was not audited whole: exit 1 whatever --fail-on says,
    /// unless --max-malformed tolerates that many (a count or a percentage); the report says so.
    @Test func malformedRecordsExitOneUnlessTolerated() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let lines = (0..<1_000).map { "{\"id\":\"r\($0)\",\"model\":\"gpt-5-mini\",\"cost\":0.5}" }
        try directory.write("untimed.jsonl", lines.joined(separator: "\n") + "\n")
        try directory.write("mixed.jsonl", Self.log(999) + "{\"id\":\"bad\",\"model\":\"gpt-5-mini\"}\n")

        let failed = try Self.shell("\(Self.audit) --input-format purser untimed.jsonl", in: directory.path)
        #expect(failed.status == 1, "\(failed.stderr)")
        #expect(failed.stderr.contains("not audited whole"))
        let (summary, malformed) = try Self.report(failed)
        #expect(summary["malformed"] as? Int == 1_000)
        #expect(malformed["tolerated"] as? Int == 0)

        let tolerated = try Self.shell("\(Self.audit) --input-format purser --max-malformed 1000 untimed.jsonl", in: directory.path)
        #expect(tolerated.status == 0, "\(tolerated.stderr)")
        #expect(try Self.report(tolerated).malformed["tolerated"] as? Int == 1_000)

        let percent = try Self.shell("\(Self.audit) --max-malformed 0.1% mixed.jsonl", in: directory.path)
        #expect(percent.status == 0, "\(percent.stderr)")
        let tight = try Self.shell("\(Self.audit) --max-malformed 0.05% mixed.jsonl", in: directory.path)
        #expect(tight.status == 1, "\(tight.stderr)")

        let strict = try Self.shell("\(Self.audit) --strict-input mixed.jsonl", in: directory.path)
        #expect(strict.status == 2)

        let bad = try Self.shell("\(Self.audit) --max-malformed lots mixed.jsonl", in: directory.path)
        #expect(bad.status == 2)
    }

    /// `--since` not before `--until` is a usage error (exit 2); records outside the window are
    /// counted in the summary (they used to be counted nowhere).
    @Test func theWindowIsCheckedAndWhatFallsOutsideIsCounted() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("x.jsonl", Self.log(100))
        let inverted = try Self.shell("\(Self.audit) --since 2026-12-01 --until 2026-11-01 x.jsonl", in: directory.path)
        #expect(inverted.status == 2)
        #expect(inverted.stderr.contains("--since"))
        // The log runs from 16:40 on 2 November, one record a minute: 20 records before 17:00.
        let window = try Self.shell("\(Self.audit) --since 2026-11-02T17:00:00Z x.jsonl", in: directory.path)
        #expect(window.status == 0, "\(window.stderr)")
        let (summary, _) = try Self.report(window)
        #expect(summary["records"] as? Int == 80)
        #expect(summary["out_of_window"] as? Int == 20)
        #expect(window.stderr.contains("20 records outside --since/--until"))
    }

    /// `audit -` and a sort leave nothing in the temporary directory (standard input used to be
    /// copied to /tmp/purser-stdin-* and left there).
    @Test func noTemporaryFileIsLeftBehind() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.makeDirectory("tmp")
        try directory.write("unsorted.jsonl", Self.log(3_000, reversed: true))
        let before = Set((try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []).filter { $0.hasPrefix("purser-") }
        let result = try Self.shell("\(Self.audit) - < unsorted.jsonl", in: directory.path, environment: ["TMPDIR": directory.path + "/tmp"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Self.report(result).summary["records"] as? Int == 3_000)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path + "/tmp").isEmpty)
        let after = Set((try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []).filter { $0.hasPrefix("purser-stdin") }
        #expect(after.subtracting(before).isEmpty, "left in /tmp: \(after.subtracting(before))")
    }

    /// A LiteLLM CSV row with a 1.2 MB `messages` column (a long-context call, $45.75) is counted:
    /// the total is $45.81, not $0.06 (only the columns Purser reads are held to the size limit).
    @Test func theMostExpensiveCallIsCounted() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let turn = "{\"\"role\"\": \"\"user\"\", \"\"content\"\": \"\"a long document, line after line\n\"\"},"
        let messages = "\"[" + String(repeating: turn, count: 1_200_000 / turn.utf8.count + 1) + "{}]\""
        func row(_ id: String, _ spend: String, _ minute: Int, _ messages: String) -> String {
            "\(id),\(spend),2026-11-02 10:\(String(format: "%02d", minute)):00.000000,gpt-5-mini,growth,\(messages),success\n"
        }
        try directory.write("spend.csv", "request_id,spend,startTime,model,team_id,messages,status\n"
            + row("a", "0.03", 1, "[]") + row("b", "45.75", 2, messages) + row("c", "0.03", 3, "[]"))
        let result = try Self.shell("\(Self.audit) spend.csv", in: directory.path)
        #expect(result.status == 0, "\(result.stderr)")
        let (summary, malformed) = try Self.report(result)
        #expect(summary["records"] as? Int == 3)
        #expect(summary["total_spend"] as? Double == 45.81)
        #expect(malformed["count"] as? Int == 0)
    }
}
