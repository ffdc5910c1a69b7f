#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing

/// Every hostile input gets a located error and exit code 2 from
/// `purser check`: never a crash, never a hang.
@Suite("Hostile input")
struct HostileInputTests {
    /// The longest a rejected input may take, in seconds.
    static let budget = 10.0

    @Test(arguments: HostileInputs.all)
    func rejectedWithALocatedError(_ input: HostileInput) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try input.make(directory)

        let result = try Purser.run(["check", input.argument], in: directory.path)

        #expect(!result.timedOut, "purser check hung on \(input.name)")
        #expect(!result.signalled && result.status < 128, "purser check crashed (status \(result.status))\n\(result.stderr)")
        #expect(result.status == 2, "exit code \(result.status), expected 2\nstdout:\n\(result.stdout)\nstderr:\n\(result.stderr)")
        #expect(result.seconds < Self.budget, "took \(result.seconds) s")

        let located = result.diagnostics(for: input.file).filter { $0.severity == "error" && $0.code == input.code }
        #expect(!located.isEmpty,
                "no line `\(input.file):LINE:COL: error: … [\(input.code)]` in:\n\(result.stdout)")
        if let first = located.first {
            #expect(input.lines.contains(first.line), "line \(first.line) is not in \(input.lines): \(first)")
            #expect(input.columns.contains(first.column), "column \(first.column) is not in \(input.columns): \(first)")
        }
        // Every stdout line is a diagnostic in the fixed form.
        for line in result.lines {
            #expect(line.wholeMatch(of: /.+:\d+:\d+: (error|warning): .+ \[[a-z0-9-]+\]/) != nil, "not a diagnostic: \(line)")
        }
    }

    /// The 17 MiB file is refused from its size, before it is read.
    @Test func oversizedFileIsRefusedQuickly() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        guard let input = HostileInputs.size.first else { return }
        try input.make(directory)
        let result = try Purser.run(["check", "big.yaml"], in: directory.path)
        #expect(result.status == 2)
        #expect(result.seconds < 5, "refusing a 17 MiB file took \(result.seconds) s")
        #expect(result.stdout.contains("limit is 16777216 bytes"))
    }

    /// Symlinks that fan out to shared directories (2^24 paths to one file)
    /// are walked once each, not exponentially.
    @Test func symlinkFanOutIsWalkedOnce() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let levels = 24
        for level in 0...levels { try directory.makeDirectory("policies/d\(level)") }
        for level in 0..<levels {
            try directory.symlink("policies/d\(level)/a", to: "../d\(level + 1)")
            try directory.symlink("policies/d\(level)/b", to: "../d\(level + 1)")
        }
        try directory.write("policies/d\(levels)/ok.yaml", "version: 1\n")

        // The links lead out of policies/d0, which is refused by default (issue #19): allowed here.
        let result = try Purser.run(["check", "--allow-outside-root", "policies/d0"], in: directory.path)

        #expect(!result.timedOut)
        #expect(result.status == 0, "stdout:\n\(result.stdout)\nstderr:\n\(result.stderr)")
        #expect(result.seconds < Self.budget)
        #expect(result.stderr.contains("1 file checked"))
    }

    /// A file without read permission. Only meaningful when not root: root
    /// reads it regardless of its mode, which is why the parameterised cases
    /// use dangling symlinks and FIFOs instead.
    @Test(.enabled(if: getuid() != 0, "root can read a mode-000 file"))
    func fileWithoutPermission() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("locked.yaml", "version: 1\n")
        chmod(directory.path + "/locked.yaml", 0)
        defer { chmod(directory.path + "/locked.yaml", 0o644) }

        let result = try Purser.run(["check", "locked.yaml"], in: directory.path)

        #expect(result.status == 2)
        #expect(result.diagnostics(for: "locked.yaml").contains { $0.code == "unreadable-file" && $0.line == 1 })
    }
}
