#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Testing

/// `-o` never destroys an input and never leaves a partial report; nothing Purser prints for
/// a person lets a name from a policy or a log drive the terminal (issue #19, items 8 and 13).
@Suite("Hostile output")
struct HostileOutputTests {
    static let root = Purser.packageRoot
    static let requests = Purser.packageRoot + "/examples/requests/requests.jsonl"

    /// A copy of the shipped policies and requests in a fresh directory.
    static func workspace() throws -> TemporaryDirectory {
        let directory = try TemporaryDirectory()
        try FileManager.default.copyItem(atPath: root + "/policies", toPath: directory.path + "/cp")
        try FileManager.default.copyItem(atPath: requests, toPath: directory.path + "/r.jsonl")
        return directory
    }

    static func contents(_ path: String) -> [UInt8] {
        (try? Array(Data(contentsOf: URL(fileURLWithPath: path)))) ?? []
    }

    // MARK: -o is not an input

    @Test(arguments: [
        ["eval", "--policy", "cp", "-o", "r.jsonl", "r.jsonl"],
        ["eval", "--policy", "cp", "-o", "cp/teams.yaml", "r.jsonl"],
        ["check", "-o", "cp/teams.yaml", "cp"],
        ["check", "--format", "json", "-o", "cp/models/anthropic.yaml", "cp"],
        ["audit", "--policy", "cp", "-o", "in.jsonl", "in.jsonl"],
        ["audit", "--policy", "cp", "-o", "logs/in.jsonl", "logs"],
        ["audit", "--policy", "cp", "-o", "cp/rules.yaml", "in.jsonl"],
        ["eval", "--policy", "cp", "-o", "link.jsonl", "r.jsonl"],
        ["eval", "--policy", "cp", "-o", "hard.jsonl", "r.jsonl"],
        ["generate", "--policy", "cp", "--records", "10", "-o", "cp/budgets.yaml"],
    ])
    func anOutputThatIsAnInputIsRefused(arguments: [String]) throws {
        let directory = try Self.workspace()
        defer { directory.remove() }
        try directory.write("in.jsonl", #"{"timestamp":"2026-11-23T10:00:00Z","team":"payments","environment":"production","model":"claude-haiku-4-5","cost":1}"# + "\n")
        try directory.makeDirectory("logs")
        try FileManager.default.copyItem(atPath: directory.path + "/in.jsonl", toPath: directory.path + "/logs/in.jsonl")
        try directory.symlink("link.jsonl", to: "r.jsonl")
        #expect(link(directory.path + "/r.jsonl", directory.path + "/hard.jsonl") == 0)
        let output = directory.path + "/" + arguments[arguments.firstIndex(of: "-o")! + 1]
        let before = Self.contents(output)
        #expect(!before.isEmpty)

        let result = try Purser.run(arguments, in: directory.path)

        #expect(result.status == 2, "\(arguments): exit \(result.status)\n\(result.stderr)")
        #expect(result.stderr.contains("it is one of the inputs"), "\(result.stderr)")
        // Compared as a Bool: a failure must not print megabytes of bytes.
        let unchanged = Self.contents(output) == before
        #expect(unchanged, "\(output) was changed")
        let left = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains(".purser-") }
        #expect(left.isEmpty, "temporary files left: \(left)")
    }

    // MARK: Whole or nothing

    @Test func aReportReplacesTheOldOneWhole() throws {
        let directory = try Self.workspace()
        defer { directory.remove() }
        try directory.write("out.jsonl", "old report\n")
        #expect(chmod(directory.path + "/out.jsonl", 0o640) == 0)
        let result = try Purser.run(["eval", "--policy", "cp", "-o", "out.jsonl", "r.jsonl"], in: directory.path)
        #expect(result.status == 1, "some requests are denied: \(result.stderr)")
        let lines = String(decoding: Self.contents(directory.path + "/out.jsonl"), as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 8 && lines.allSatisfy { $0.hasPrefix("{\"decision\"") })
        var info = stat()
        #expect(stat(directory.path + "/out.jsonl", &info) == 0 && info.st_mode & 0o777 == 0o640, "the file's mode is kept")
        // Through a symlink the file it points to is replaced; the link stays a link.
        try directory.symlink("via.json", to: "out.jsonl")
        let check = try Purser.run(["check", "--format", "json", "-o", "via.json", "cp"], in: directory.path)
        #expect(check.status == 0, "\(check.stderr)")
        #expect(lstat(directory.path + "/via.json", &info) == 0 && info.st_mode & S_IFMT == S_IFLNK)
        #expect(String(decoding: Self.contents(directory.path + "/out.jsonl"), as: UTF8.self).hasPrefix("{\"diagnostics\""))
        let left = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains(".purser-") }
        #expect(left.isEmpty, "temporary files left: \(left)")
    }

    @Test func devicesAreWrittenDirectly() throws {
        let directory = try Self.workspace()
        defer { directory.remove() }
        let null = try Purser.run(["check", "-o", "/dev/null", "cp"], in: directory.path)
        #expect(null.status == 0, "\(null.stderr)")
        var info = stat()
        #expect(stat("/dev/null", &info) == 0 && info.st_mode & S_IFMT == S_IFCHR, "/dev/null is still a device")
        // A full device: a clear error and exit 2, not success.
        let full = try Purser.run(["eval", "--policy", "cp", "-o", "/dev/full", "r.jsonl"], in: directory.path)
        #expect(full.status == 2, "\(full.stderr)")
        #expect(full.stderr.contains("cannot write /dev/full"), "\(full.stderr)")
    }

    /// A disk that fills up mid-report leaves the previous report as it was and no temporary
    /// file: on a 64 KiB tmpfs (needs root; skipped where mounting is not allowed).
    @Test func aFullDiskLeavesThePreviousReport() throws {
        let directory = try Self.workspace()
        defer { directory.remove() }
        let mount = directory.path + "/small"
        try directory.makeDirectory("small")
        let mounted = Purser.shell("mount -t tmpfs -o size=64k purser-test \(mount)") == 0
        guard mounted else { return }
        defer { _ = Purser.shell("umount \(mount)") }
        try Data("previous report\n".utf8).write(to: URL(fileURLWithPath: mount + "/report.jsonl"))
        // About 3,000 decisions: megabytes, far more than 64 KiB.
        let line = try String(contentsOfFile: Self.requests, encoding: .utf8).split(separator: "\n")[0]
        try directory.write("many.jsonl", String(repeating: line + "\n", count: 3000))

        let result = try Purser.run(["eval", "--policy", "cp", "-o", "small/report.jsonl", "many.jsonl"], in: directory.path)

        #expect(result.status == 2, "exit \(result.status)\n\(result.stderr)")
        #expect(result.stderr.contains("cannot write small/report.jsonl"), "\(result.stderr)")
        let unchanged = Self.contents(mount + "/report.jsonl") == Array("previous report\n".utf8)
        #expect(unchanged, "the previous report was changed")
        #expect(try FileManager.default.contentsOfDirectory(atPath: mount) == ["report.jsonl"])
    }

    // MARK: Terminal escapes

    static let hostileTeam = #""\e]0;PWNED\a\e[2J\rFAKE PASS\u202E""#

    static func expectNoEscapes(_ text: String, _ what: String) {
        for scalar in ["\u{1B}", "\u{07}", "\r", "\u{202E}", "\u{9B}"] {
            #expect(!text.contains(scalar), "\(what) holds U+\(String(scalar.unicodeScalars.first!.value, radix: 16)):\n\(text.debugDescription)")
        }
    }

    @Test func checkPrintsNoEscapes() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("p/policy.yaml", "version: 1\nteams:\n  \(Self.hostileTeam): {}\n  ok: {budget: \(Self.hostileTeam)}\n")
        let result = try Purser.run(["check", "p"], in: directory.path)
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("names must be non-empty"), "\(result.stdout)")
        Self.expectNoEscapes(result.stdout, "stdout")
        Self.expectNoEscapes(result.stderr, "stderr")
    }

    @Test func testAndAuditPrintNoEscapes() throws {
        let directory = try Self.workspace()
        defer { directory.remove() }
        try directory.write("cp/tests/evil.test.yaml", """
            version: 1
            tests:
              - name: \(Self.hostileTeam)
                request: {team: payments, environment: production, model: claude-haiku-4-5}
                expect: {decision: deny}

            """)
        let test = try Purser.run(["test", "--policy", "cp", "cp/tests/evil.test.yaml"], in: directory.path)
        #expect(test.status == 1, "\(test.stdout)\(test.stderr)")
        #expect(test.stdout.contains("FAIL") && test.stdout.contains("FAKE PASS"))
        Self.expectNoEscapes(test.stdout, "test's stdout")
        Self.expectNoEscapes(test.stderr, "test's stderr")

        // A log whose name holds escapes, and a policy whose diagnostics quote one.
        try directory.write("bad/policy.yaml", "version: 1\nteams:\n  \(Self.hostileTeam): {}\n")
        let audit = try Purser.run(["audit", "--policy", "bad", "x.jsonl"], in: directory.path)
        #expect(audit.status == 2)
        Self.expectNoEscapes(audit.stderr, "audit's stderr")
        let missing = try Purser.run(["audit", "--policy", "cp", "\u{1B}]0;PWNED\u{07}\r.jsonl"], in: directory.path)
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("PWNED"))
        Self.expectNoEscapes(missing.stderr, "audit's stderr")
    }
}

extension Purser {
    /// Runs a shell command (for test set-up), returning its exit status.
    static func shell(_ command: String) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command + " 2>/dev/null"]
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }
}
