import Foundation
import Testing

/// `purser keygen`, `purser eval --decision-log` and `purser verify-log` as a user runs them
/// (docs/decision-log.md): exit codes, messages, and a writer killed with SIGKILL.
@Suite("purser verify-log")
struct VerifyLogCommandTests {
    static let policy = LedgerCommandTests.policy
    static let request = LedgerCommandTests.request

    /// A directory with a policy, a key pair (`k.key`, `k.key.pub`) and a log of `count`
    /// decisions in `log/`, written by `purser eval`.
    static func logged(_ count: Int = 30) throws -> TemporaryDirectory {
        let directory = try TemporaryDirectory()
        try directory.write("p/p.yaml", policy)
        try directory.write("requests.jsonl", String(repeating: request + "\n", count: count))
        let keygen = try Purser.run(["keygen", "--key-id", "gw-1", "--out", "k.key"], in: directory.path)
        #expect(keygen.status == 0, "\(keygen.stderr)")
        let eval = try Purser.run(["eval", "--policy", "p", "--ledger", "memory:", "--now", "2026-12-07T10:00:00Z",
                                   "--decision-log", "log", "--decision-log-key", "k.key", "requests.jsonl"], in: directory.path)
        #expect(eval.status == 0, "\(eval.stderr)")
        return directory
    }

    /// The path of the log's first file, relative to the directory (nil while there is none).
    static func firstFile(_ directory: TemporaryDirectory) -> String? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path + "/log")) ?? []
        return names.filter { $0.hasSuffix(".jsonl") }.sorted().first.map { "log/" + $0 }
    }

    /// The path of the log's first file, relative to the directory.
    static func logFile(_ directory: TemporaryDirectory) throws -> String {
        try #require(firstFile(directory))
    }

    @Test func aLogWrittenByEvalVerifies() throws {
        let directory = try Self.logged()
        defer { directory.remove() }
        let result = try Purser.run(["verify-log", "--public-key", "k.key.pub", "log"], in: directory.path)
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
        #expect(result.stdout == "verified: 1 file, 31 lines, seq 1–31, 1 checkpoint signed by key id gw-1\n")
        let first = try String(contentsOfFile: directory.path + "/" + Self.logFile(directory), encoding: .utf8).prefix { $0 != "\n" }
        #expect(first.hasPrefix(#"{"v":1,"seq":1,"time":"2026-12-07T10:00:00Z","event":"authorize","data":{"decision":"allow""#))
    }

    @Test func anEditedLineExitsOneNamingFileAndLine() throws {
        let directory = try Self.logged()
        defer { directory.remove() }
        let file = try Self.logFile(directory)
        let text = try String(contentsOfFile: directory.path + "/" + file, encoding: .utf8)
        var lines = text.split(separator: "\n").map(String.init)
        lines[6] = lines[6].replacingOccurrences(of: "\"allow\"", with: "\"deny\"")
        try directory.write(file, lines.joined(separator: "\n") + "\n")
        let result = try Purser.run(["verify-log", "--public-key", "k.key.pub", file], in: directory.path)
        #expect(result.status == 1)
        #expect(result.stdout.hasPrefix("\(file):7: the line does not hash to the prev of the line after it"), "\(result.stdout)")
    }

    @Test func anotherKeyOrAKeyIdWithoutAPublicKeyExitsOne() throws {
        let directory = try Self.logged()
        defer { directory.remove() }
        #expect(try Purser.run(["keygen", "--key-id", "gw-2", "--out", "other.key"], in: directory.path).status == 0)
        let result = try Purser.run(["verify-log", "--public-key", "other.key.pub", "log"], in: directory.path)
        #expect(result.status == 1)
        #expect(result.stdout.contains(":31: the checkpoint is signed by key id gw-1, and no public key with that id was given (given: gw-2)"),
                "\(result.stdout)")
        // Both keys: the one that signed is there.
        let both = try Purser.run(["verify-log", "--public-key", "other.key.pub", "--public-key", "k.key.pub", "log"], in: directory.path)
        #expect(both.status == 0, "\(both.stdout)")
    }

    @Test func badInvocationsAndUnreadableFilesExitTwo() throws {
        let directory = try Self.logged(3)
        defer { directory.remove() }
        let noKey = try Purser.run(["verify-log", "log"], in: directory.path)
        #expect(noKey.status == 2 && noKey.stderr.contains("--public-key"))
        let missing = try Purser.run(["verify-log", "--public-key", "k.key.pub", "nope.jsonl"], in: directory.path)
        #expect(missing.status == 2 && missing.stderr.contains("cannot read nope.jsonl: No such file or directory"), "\(missing.stderr)")
        let notAKey = try Purser.run(["verify-log", "--public-key", "requests.jsonl", "log"], in: directory.path)
        #expect(notAKey.status == 2 && notAKey.stderr.contains("is not a purser-ed25519-public key file"), "\(notAKey.stderr)")
        let again = try Purser.run(["keygen", "--key-id", "gw-1", "--out", "k.key"], in: directory.path)
        #expect(again.status == 2 && again.stderr.contains("already exists"))
        // A private key that others can read is refused, as ssh refuses one.
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: directory.path + "/k.key")
        let open = try Purser.run(["eval", "--policy", "p", "--decision-log", "log", "--decision-log-key", "k.key", "requests.jsonl"],
                                  in: directory.path)
        #expect(open.status == 2 && open.stderr.contains("permissions 0644 for the private key file k.key are too open"), "\(open.stderr)")
    }

    /// `purser eval` killed with SIGKILL while it appends: the file verifies up to the tail it
    /// had not signed, and the next run starts a new file with a restart line, after which the
    /// whole log verifies.
    @Test func aWriterKilledMidRunLeavesAPrefixThatVerifies() async throws {
        let directory = try Self.logged(1)
        defer { directory.remove() }
        try FileManager.default.removeItem(atPath: directory.path + "/log")
        let started = try await LedgerCommandTests.shell("""
            for fd in /proc/$$/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] && eval "exec $n>&-" 2>/dev/null; done
            yes "$REQUEST" | head -n 60000 | "$PURSER" eval --policy p --ledger memory: --decision-log log --decision-log-key k.key > /dev/null 2>&1 &
            echo $! > pid
            """, in: directory)
        #expect(started.status == 0)
        // Killed once it has signed a few checkpoints (every 1,000 lines) and written lines after
        // the last one (its buffer is written every 64 KiB). Its input is bounded (60,000 requests,
        // about 38 MB of log, one file): on a machine so loaded that the moment passes, eval ends
        // by itself, its file closed and signed, rather than writing gigabytes until a deadline.
        let pid = (try? String(contentsOfFile: directory.path + "/pid", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, FileManager.default.fileExists(atPath: "/proc/\(pid)") {
            let text = Self.firstFile(directory).flatMap { try? String(contentsOfFile: directory.path + "/" + $0, encoding: .utf8) } ?? ""
            let lastLine = text.split(separator: "\n").last ?? ""
            if text.components(separatedBy: #""event":"checkpoint""#).count > 3, !lastLine.contains(#""event":"checkpoint""#) { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        let killed = try await LedgerCommandTests.shell("""
            pid=$(cat pid)
            kill -9 $pid
            while [ -e /proc/$pid ] && ! grep -q '^State:.*Z' /proc/$pid/status 2>/dev/null; do sleep 0.02; done
            echo killed
            """, in: directory)
        #expect(killed.stdout.contains("killed"))

        let crashed = try await LedgerCommandTests.offPool {
            try Purser.run(["verify-log", "--public-key", "k.key.pub", "log"], in: directory.path, executable: Purser.executable, timeLimit: 120)
        }
        // The kill lands between two writes of the buffer: the file ends with the lines written,
        // and nothing before its last checkpoint is wrong. (Rarely the last thing written is a
        // checkpoint, and the whole file verifies.)
        let endedUnsigned = crashed.status == 1
        if endedUnsigned {
            #expect(crashed.stdout.contains("the chain verifies through seq"), "\(crashed.stdout)")
            #expect(crashed.stdout.contains("not signed") || crashed.stdout.contains("the last line is incomplete"), "\(crashed.stdout)")
        } else {
            #expect(crashed.status == 0 && crashed.stdout.hasPrefix("verified: 1 file"), "\(crashed.stdout) \(crashed.stderr)")
        }

        let resumed = try await LedgerCommandTests.offPool {
            try Purser.run(["eval", "--policy", "p", "--ledger", "memory:", "--decision-log", "log", "--decision-log-key", "k.key",
                            "requests.jsonl"], in: directory.path, executable: Purser.executable, timeLimit: 120)
        }
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let whole = try await LedgerCommandTests.offPool {
            try Purser.run(["verify-log", "--public-key", "k.key.pub", "log"], in: directory.path, executable: Purser.executable, timeLimit: 120)
        }
        #expect(whole.status == 0, "\(whole.stdout) \(whole.stderr)")
        if endedUnsigned {
            // The next run does not append after the unfinished file: a new file starts with a restart line.
            #expect(whole.stdout.hasPrefix("verified: 2 files"), "\(whole.stdout)")
            #expect(whole.stderr.contains("the writer restarted after log/decisions-"), "\(whole.stderr)")
        } else {
            #expect(whole.stdout.hasPrefix("verified: 1 file"), "\(whole.stdout)")
        }
    }
}
