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

// MARK: - The inputs

/// The hostile inputs of the input-hardening issue, each of which must give
/// a located error and exit code 2: never a crash, never a hang.
enum HostileInputs {
    /// The classic nine-level "billion laughs": 9^9 strings if expanded.
    static let billionLaughs: String = {
        var lines = [#"a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]"#]
        let names = Array("abcdefghi")
        for level in 1..<9 {
            let alias = "*" + String(names[level - 1])
            lines.append("\(names[level]): &\(names[level]) [" + Array(repeating: alias, count: 9).joined(separator: ",") + "]")
        }
        return lines.joined(separator: "\n") + "\n"
    }()

    /// Depth of the deep-nesting inputs.
    static let depth = 100_000

    static let syntax: [HostileInput] = [
        .yaml("malformed: unclosed flow sequence", code: "yaml-syntax", line: 2...3, column: 1...20,
              "version: 1\nmodels: [a, b\n"),
        .yaml("malformed: bad indentation", code: "yaml-syntax", line: 3...4, column: 1...10,
              "version: 1\nmodels:\n  a: {provider: x}\n b: 1\n"),
        .yaml("malformed: unterminated quoted string", code: "yaml-syntax", line: 2...3, column: 1...20,
              "version: 1\nsettings: {timezone: \"UTC}\n"),
        .yaml("malformed: tab indentation", code: "yaml-syntax", line: 3...3, column: 1...10,
              "version: 1\nmodels:\n\ta: 1\n"),
    ]

    static let expansion: [HostileInput] = [
        .yaml("billion laughs (9 levels)", code: "yaml-alias", line: 2...9, column: 1...40, billionLaughs),
        .yaml("alias to an undefined anchor", code: "yaml-alias", line: 2...2, column: 1...20,
              "version: 1\nmodels: *nowhere\n"),
    ]

    static let nesting: [HostileInput] = [
        .yaml("100,000-deep flow nesting", code: "yaml-nesting-depth", line: 2...2, column: 1...200,
              "version: 1\nx: " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "\n"),
        .yaml("100,000-deep flow mappings", code: "yaml-nesting-depth", line: 2...2, column: 1...400,
              "version: 1\nx: " + String(repeating: "{a: ", count: depth) + "1" + String(repeating: "}", count: depth) + "\n"),
        .yaml("100,000-deep block nesting", code: "yaml-nesting-depth", line: 3...3, column: 1...300,
              "version: 1\nx:\n" + String(repeating: "- ", count: depth) + "a\n"),
        .yaml("deep block mappings (one space per level)", code: "yaml-nesting-depth", line: 60...80, column: 1...100,
              "version: 1\n" + (0..<2_000).map { String(repeating: " ", count: $0) + "k:\n" }.joined()
                  + String(repeating: " ", count: 2_000) + "v\n"),
    ]

    static let keys: [HostileInput] = [
        .yaml("duplicate key a / a", code: "duplicate-key", line: 3...3, "version: 1\na: 1\na: 2\n"),
        .yaml("duplicate key a / \"a\"", code: "duplicate-key", line: 3...3, "version: 1\na: 1\n\"a\": 2\n"),
        .yaml("duplicate key a / 'a'", code: "duplicate-key", line: 3...3, "version: 1\na: 1\n'a': 2\n"),
        .yaml("duplicate key in a flow mapping", code: "duplicate-key", line: 3...3, column: 33...33,
              "version: 1\nmodels:\n  m: {tier: small, provider: x, tier: small}\n"),
        .yaml("duplicate top-level key in a large mapping", code: "duplicate-key", line: 42...42,
              "version: 1\n" + (0..<40).map { "k\($0): 1\n" }.joined() + "k7: 2\n"),
        .yaml("merge key <<: *alias", code: "yaml-merge-key", line: 4...4, column: 3...3,
              "version: 1\nbase: &b {provider: x}\nmodels:\n  <<: *b\n"),
        .yaml("merge key with a list", code: "yaml-merge-key", line: 3...3, column: 1...20,
              "version: 1\na: &a {x: 1}\nb: {<<: [*a], y: 2}\n"),
        .yaml("complex (mapping) key", code: "yaml-complex-key", line: 2...3, column: 1...5,
              "version: 1\n? {a: 1}\n: v\n"),
    ]

    static let tags: [HostileInput] = [
        .yaml("custom tag !custom", code: "yaml-tag", line: 2...2, column: 1...20, "version: 1\nx: !custom 1\n"),
        .yaml("core tag !!int", code: "yaml-tag", line: 1...1, column: 1...20, "version: !!int 1\n"),
        .yaml("language tag !!python/object", code: "yaml-tag", line: 2...2, column: 1...20,
              "version: 1\nx: !!python/object/apply:os.system [\"true\"]\n"),
        .yaml("%TAG directive", code: "yaml-tag", line: 3...3, column: 1...20,
              "%TAG !e! tag:example.com,2000:\n---\nversion: !e!one 1\n"),
    ]

    static let encoding: [HostileInput] = [
        .bytes("invalid UTF-8 byte 0xFF", code: "yaml-encoding", line: 2...2, column: 4...4,
               Array("version: 1\nx: ".utf8) + [0xFF, 0xFE] + Array("\n".utf8)),
        .bytes("overlong UTF-8", code: "yaml-encoding", line: 2...2, column: 4...4,
               Array("version: 1\nx: ".utf8) + [0xC0, 0xAF] + Array("\n".utf8)),
        .bytes("UTF-8 encoded surrogate", code: "yaml-encoding", line: 2...2, column: 4...4,
               Array("version: 1\nx: ".utf8) + [0xED, 0xA0, 0x80] + Array("\n".utf8)),
        .bytes("truncated UTF-8 at end of file", code: "yaml-encoding", line: 2...2, column: 4...4,
               Array("version: 1\nx: ".utf8) + [0xE2, 0x82]),
        .bytes("UTF-16 with byte order mark", code: "yaml-encoding", line: 1...1,
               [0xFF, 0xFE] + Array("version: 1\n".utf8).flatMap { [$0, 0] }),
        .bytes("NUL byte in a value", code: "yaml-control-character", line: 2...2, column: 5...5,
               Array("version: 1\nx: a".utf8) + [0] + Array("b\n".utf8)),
        .bytes("NUL byte first", code: "yaml-control-character", line: 1...1, [0] + Array("version: 1\n".utf8)),
        .bytes("escape control character", code: "yaml-control-character", line: 2...2, column: 4...4,
               Array("version: 1\nx: ".utf8) + [0x1B] + Array("[31m\n".utf8)),
    ]

    /// 17 MiB: over the 16 MiB limit, refused before it is read.
    static let size: [HostileInput] = [
        HostileInput("17 MiB file", check: "big.yaml", code: "file-too-large", line: 1...1) { directory in
            var bytes = Array("version: 1\n".utf8)
            let line = Array("# padding padding padding padding padding padding padding padding padding\n".utf8)
            let target = 17 * 1024 * 1024
            bytes.reserveCapacity(target + line.count)
            while bytes.count < target { bytes.append(contentsOf: line) }
            try directory.write("big.yaml", bytes: bytes)
        },
    ]

    /// Paths that cannot be read. Tests may run as root, for whom `chmod 000`
    /// does not stop a read, so these use things no user can read as a
    /// policy: dangling symlinks and FIFOs (which must also never block).
    static let files: [HostileInput] = [
        HostileInput("directory with no policies", check: "empty", code: "no-policies", line: 1...1) { directory in
            try directory.write("empty/README.md", "not a policy\n")
            try directory.write("empty/notes.txt", "version: 1\n")
        },
        HostileInput("directory named x.yaml", check: "x.yaml", code: "no-policies", line: 1...1) { directory in
            try directory.makeDirectory("x.yaml")
        },
        HostileInput("unreadable: dangling symlink", check: "gone.yaml", code: "unreadable-file", line: 1...1) { directory in
            try directory.symlink("gone.yaml", to: "does-not-exist.yaml")
        },
        HostileInput("unreadable: FIFO with no writer", check: "pipe.yaml", code: "unreadable-file", line: 1...1) { directory in
            try directory.fifo("pipe.yaml")
        },
        HostileInput("unreadable: FIFO in a policy directory", check: "policies", file: "policies/pipe.yaml",
                     code: "unreadable-file", line: 1...1) { directory in
            try directory.write("policies/ok.yaml", "version: 1\n")
            try directory.fifo("policies/pipe.yaml")
        },
        HostileInput("unreadable: dangling symlink in a policy directory", check: "policies",
                     file: "policies/gone.yaml", code: "unreadable-file", line: 1...1) { directory in
            try directory.write("policies/ok.yaml", "version: 1\n")
            try directory.symlink("policies/gone.yaml", to: "nowhere.yaml")
        },
        HostileInput("missing file", check: "missing.yaml", code: "unreadable-file", line: 1...1) { _ in },
        HostileInput("symlink loop between two files", check: "loop1.yaml", code: "symlink-loop", line: 1...1) { directory in
            try directory.symlink("loop1.yaml", to: "loop2.yaml")
            try directory.symlink("loop2.yaml", to: "loop1.yaml")
        },
        HostileInput("symlink loop back to the policy directory", check: "policies", file: "policies/again",
                     code: "symlink-loop", line: 1...1) { directory in
            try directory.write("policies/ok.yaml", "version: 1\n")
            try directory.symlink("policies/again", to: ".")
        },
        HostileInput("symlink loop to a parent directory", check: "policies", file: "policies/sub/up",
                     code: "symlink-loop", line: 1...1) { directory in
            try directory.write("policies/sub/ok.yaml", "version: 1\n")
            try directory.symlink("policies/sub/up", to: "..")
        },
    ]

    /// Every hostile input.
    static let all: [HostileInput] = syntax + expansion + nesting + keys + tags + encoding + size + files
}

// MARK: - One input


/// A hostile input for `purser check`: how to make it in a scratch
/// directory, what to check, and the located error it must produce.
struct HostileInput: Sendable, CustomTestStringConvertible {
    /// A short name shown in test results.
    let name: String
    /// The path given to `purser check`, relative to the scratch directory.
    let argument: String
    /// The file the diagnostic must name (defaults to the argument).
    let file: String
    /// The diagnostic code it must carry.
    let code: String
    /// Where the diagnostic may plausibly point.
    let lines: ClosedRange<Int>
    let columns: ClosedRange<Int>
    /// Creates the input.
    let make: @Sendable (TemporaryDirectory) throws -> Void

    init(_ name: String, check argument: String, file: String? = nil, code: String,
         line lines: ClosedRange<Int>, column columns: ClosedRange<Int> = 1...1,
         make: @escaping @Sendable (TemporaryDirectory) throws -> Void)
    {
        self.name = name
        self.argument = argument
        self.file = file ?? argument
        self.code = code
        self.lines = lines
        self.columns = columns
        self.make = make
    }

    var testDescription: String { name }

    /// A YAML file made of text.
    static func yaml(_ name: String, code: String, line: ClosedRange<Int>, column: ClosedRange<Int> = 1...1,
                     _ text: String) -> HostileInput
    {
        HostileInput(name, check: "policy.yaml", code: code, line: line, column: column) { try $0.write("policy.yaml", text) }
    }

    /// A YAML file made of raw bytes.
    static func bytes(_ name: String, code: String, line: ClosedRange<Int>, column: ClosedRange<Int> = 1...1,
                      _ bytes: [UInt8]) -> HostileInput
    {
        HostileInput(name, check: "policy.yaml", code: code, line: line, column: column) {
            try $0.write("policy.yaml", bytes: bytes)
        }
    }
}
