#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization
import Testing
import PurserAudit
import Purser
import PurserTestSupport

/// Opening usage logs (docs/audit-reports.md, "Input"): each file read once by descriptor,
/// gzip, byte order marks, repeats, temporary files that never outlive the run.
@Suite("Log inputs")
struct LogInputTests {
    /// Every byte a log file gives, chunk by chunk.
    static func contents(_ file: LogFile) throws -> [UInt8] {
        var all: [UInt8] = []
        while true {
            let chunk = try file.read(1 << 16)
            if chunk.isEmpty { return all }
            all += chunk
        }
    }

    /// Runs `gzip -c` on bytes and returns the compressed bytes.
    static func gzip(_ bytes: [UInt8], in directory: String) throws -> [UInt8] {
        let plain = directory + "/plain-\(bytes.count)"
        try Data(bytes).write(to: URL(fileURLWithPath: plain))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "gzip -c \"$0\" > \"$0.gz\"", plain]
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0)
        return Array(try Data(contentsOf: URL(fileURLWithPath: plain + ".gz")))
    }

    /// A leading UTF-8 byte order mark is not part of the first record.
    @Test func aByteOrderMarkIsSkipped() throws {
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        try Data([0xEF, 0xBB, 0xBF] + Array("{\"a\":1}\n".utf8)).write(to: URL(fileURLWithPath: directory + "/bom.jsonl"))
        let file = try LogFile(directory + "/bom.jsonl")
        #expect(try file.peek(4) == Array("{\"a\"".utf8))
        #expect(try Self.contents(file) == Array("{\"a\":1}\n".utf8))
    }

    /// Concatenated gzip members (`cat a.gz b.gz`) read as one log, across chunk boundaries.
    @Test func gzipMembersAreReadInTurn() throws {
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        let first = Array(AuditReplayTests.log(20_000).utf8)
        let second = Array(AuditReplayTests.log(3).utf8)
        let joined = try Self.gzip(first, in: directory) + Self.gzip(second, in: directory)
        try Data(joined).write(to: URL(fileURLWithPath: directory + "/both.jsonl.gz"))
        let source = try LogSource.open(directory + "/both.jsonl.gz")
        #expect(source.compression == .gzip)
        #expect(try Self.contents(LogFile(source)) == first + second)
        // A second reader of the same source starts at its beginning.
        #expect(try Self.contents(LogFile(source)).count == first.count + second.count)
    }

    /// Corrupt gzip data is an error that names the file, never a short log.
    @Test func corruptGzipIsAnError() throws {
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        var bytes = try Self.gzip(Array(AuditReplayTests.log(2_000).utf8), in: directory)
        for index in 40..<80 { bytes[index] ^= 0x5A }
        try Data(bytes).write(to: URL(fileURLWithPath: directory + "/bad.jsonl.gz"))
        #expect {
            try Self.contents(LogFile(directory + "/bad.jsonl.gz"))
        } throws: { error in
            (error as? UsageLogError)?.description.contains("bad.jsonl.gz: the gzip data is corrupt") == true
        }
    }

    /// A log appended to (or rotated) after it was opened reads the same bytes on every pass.
    @Test func aLogIsReadAsItWasWhenOpened() throws {
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        let path = directory + "/growing.jsonl"
        try Data(AuditReplayTests.log(5).utf8).write(to: URL(fileURLWithPath: path))
        let source = try LogSource.open(path)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data(AuditReplayTests.log(5).utf8))
        try handle.close()
        unlink(path)  // rotated away
        #expect(try Self.contents(LogFile(source)) == Array(AuditReplayTests.log(5).utf8))
    }

    /// A sort's run files and the violation spool have no name while the audit runs, so an
    /// interrupted audit (SIGINT, SIGTERM) leaves nothing in the temporary directory.
    @Test func temporaryFilesHaveNoNameWhileTheAuditRuns() throws {
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        let scratch = directory + "/tmp"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        try Data(AuditReplayTests.log(5_000, reversed: true).utf8).write(to: URL(fileURLWithPath: directory + "/unsorted.jsonl"))
        var options = AuditOptions()
        options.temporaryDirectory = scratch
        options.runSize = 500
        let seen = Mutex<[String]>([])
        let auditor = Auditor(policy: AuditReplayTests.policy, options: options, progress: { _ in
            let names = (try? FileManager.default.contentsOfDirectory(atPath: scratch)) ?? []
            seen.withLock { $0 += names }
        })
        let report = try auditor.run([directory + "/unsorted.jsonl"])
        #expect(report.summary.sorted)
        #expect(report.summary.records == 5_000)
        #expect(seen.withLock { $0 }.isEmpty, "named temporary files: \(seen.withLock { $0 })")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch).isEmpty)
    }

    /// The same file under two names is one log; the repeat is listed with the reason.
    @Test func repeatsAreReadOnce() throws {
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        try Data(AuditReplayTests.log(10).utf8).write(to: URL(fileURLWithPath: directory + "/x.jsonl"))
        let inputs = try LogInputs([directory + "/x.jsonl", directory, directory + "/./x.jsonl"])
        #expect(inputs.sources.map(\.name) == [directory + "/x.jsonl"])
        #expect(inputs.skipped.count == 2)
        #expect(inputs.skipped.allSatisfy { $0.reason == "the same file as \(directory)/x.jsonl, read once" })
        let report = try Auditor(policy: AuditReplayTests.policy).run(inputs)
        #expect(report.summary.records == 10)
        #expect(report.summary.skippedFiles == inputs.skipped)
        // Every report with a summary lists them.
        for format in [AuditReportFormat.table, .html, .json] {
            var bytes: [UInt8] = []
            try AuditRenderer.render(report, as: format) { bytes += $0 }
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(text.contains("the same file as \(directory)/x.jsonl, read once"), "\(format)")
        }
    }

    /// `--max-malformed` takes a count or a percentage of the entries read.
    @Test func malformedToleranceParses() {
        #expect(MalformedTolerance("12") == .count(12))
        #expect(MalformedTolerance("0.1%") == .percent(0.1))
        #expect(MalformedTolerance("0.1%")?.allowed(of: 20_546) == 20)
        #expect(MalformedTolerance("10")?.allowed(of: 5) == 10)
        for bad in ["", "-1", "lots", "101%", "%", "nan%", "1.5"] { #expect(MalformedTolerance(bad) == nil, "\(bad)") }
    }

    /// Records outside `--since`/`--until` are counted in the summary, and only there.
    @Test func recordsOutsideTheWindowAreCounted() throws {
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        try Data(AuditReplayTests.log(60).utf8).write(to: URL(fileURLWithPath: directory + "/x.jsonl"))
        var options = AuditOptions()
        options.since = Timestamp(seconds: EngineFixture.monday.seconds + 10 * 60)
        options.until = Timestamp(seconds: EngineFixture.monday.seconds + 40 * 60)
        let report = try Auditor(policy: AuditReplayTests.policy, options: options).run([directory + "/x.jsonl"])
        #expect(report.summary.records == 30)
        #expect(report.summary.outOfWindow == 30)
    }
}
