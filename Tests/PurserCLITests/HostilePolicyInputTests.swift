#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Testing

/// Policy sets and request files that used to fail confusingly, read outside the policy
/// directory, or exhaust memory (issue #19, items 10, 11, 15, 16 and 17).
@Suite("Hostile policy input")
struct HostilePolicyInputTests {
    static let root = Purser.packageRoot
    static let base = "version: 1\nteams:\n  payments: {}\n"

    // MARK: Byte order marks (item 10)

    @Test func aLeadingByteOrderMarkIsSkipped() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // With `---` first: libyaml alone skips the mark but then misses the document start.
        try directory.write("p/policy.yaml", bytes: [0xEF, 0xBB, 0xBF] + Array(("---\n" + Self.base).utf8))
        let clean = try Purser.run(["check", "p"], in: directory.path)
        #expect(clean.status == 0, "\(clean.stdout)\(clean.stderr)")
        // Columns on the first line are those an editor shows (the mark is not one).
        try directory.write("q/policy.yaml", bytes: [0xEF, 0xBB, 0xBF] + Array("version: 2\n".utf8))
        let wrong = try Purser.run(["check", "q"], in: directory.path)
        #expect(wrong.stdout.contains("q/policy.yaml:1:10: error: version must be 1"), "\(wrong.stdout)")
        // A mark anywhere else is still content.
        try directory.write("r/policy.yaml", bytes: Array("version: 1\n".utf8) + [0xEF, 0xBB, 0xBF] + Array("teams: {}\n".utf8))
        #expect(try Purser.run(["check", "r"], in: directory.path).status != 0)
    }

    @Test func requestFilesMayStartWithAByteOrderMark() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let request = #"{"team":"payments","environment":"production","model":"claude-haiku-4-5"}"#
        try directory.write("one.json", bytes: [0xEF, 0xBB, 0xBF] + Array(request.utf8))
        try directory.write("many.jsonl", bytes: [0xEF, 0xBB, 0xBF] + Array((request + "\n" + request + "\n").utf8))
        try directory.write("doc.json", bytes: [0xEF, 0xBB, 0xBF] + Array("{\n\"team\":\"payments\",\n\"environment\":\"production\",\n\"model\":\"claude-haiku-4-5\"}\n".utf8))
        for file in ["one.json", "many.jsonl", "doc.json"] {
            let result = try Purser.run(["eval", "--policy", Self.root + "/policies", file], in: directory.path)
            #expect(result.status == 0, "\(file): \(result.stdout)\(result.stderr)")
            #expect(result.lines.allSatisfy { $0.hasPrefix("{\"decision\":\"allow\"") }, "\(file): \(result.stdout)")
        }
    }

    // MARK: File names that are not UTF-8 (item 11)

    @Test func aFileNameThatIsNotUTF8IsSkippedWithAWarning() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("p/base.yaml", Self.base)
        // "caf\xE9.yaml": Latin-1, not UTF-8.
        let name = Array(directory.path.utf8) + Array("/p/caf".utf8) + [0xE9] + Array(".yaml".utf8) + [0]
        let fd = name.withUnsafeBufferPointer { buffer in
            buffer.baseAddress.map { $0.withMemoryRebound(to: CChar.self, capacity: buffer.count) { open($0, O_WRONLY | O_CREAT, 0o644) } } ?? -1
        }
        #expect(fd >= 0)
        close(fd)
        let result = try Purser.run(["check", "p"], in: directory.path)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains(#"warning: skipped the file p/caf\xE9.yaml: its name is not UTF-8"#), "\(result.stdout)")
        #expect(result.stderr.contains("1 file checked: 0 errors, 1 warning"), "\(result.stderr)")
        // Commands that use the policy go on with the rest.
        let eval = try Purser.run(["eval", "--policy", "p", "-"], in: directory.path)
        #expect(eval.status != 2 || !eval.stderr.contains("no such file"), "\(eval.stderr)")
    }

    // MARK: Reads outside the policy directory (item 15)

    @Test func aSymlinkOutOfThePolicyDirectoryIsNotFollowed() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("secret/token.yaml", "ghp_SECRETTOKEN123\n")
        try directory.write("p/base.yaml", Self.base)
        try directory.symlink("p/leak.yaml", to: directory.path + "/secret/token.yaml")
        try directory.symlink("p/shared", to: "../secret")
        let result = try Purser.run(["check", "p"], in: directory.path)
        #expect(result.status == 2, "\(result.stdout)\(result.stderr)")
        #expect(!result.stdout.contains("ghp_"), "the target's content is quoted:\n\(result.stdout)")
        #expect(result.stdout.contains("p/leak.yaml:1:1: error: p/leak.yaml is a symlink to"), "\(result.stdout)")
        #expect(result.stdout.contains("outside p; policy files are read only inside the directories given"))
        #expect(result.stdout.contains("p/shared:1:1: error"), "a directory symlink out is refused too:\n\(result.stdout)")
        // Symlinks that stay inside are followed as before.
        try directory.write("q/real/base.yaml", Self.base)
        try directory.symlink("q/alias", to: "real")
        #expect(try Purser.run(["check", "q"], in: directory.path).status == 0)
        // With --allow-outside-root the target is read: and fails as a policy, quoting little.
        let allowed = try Purser.run(["check", "--allow-outside-root", "p"], in: directory.path)
        #expect(allowed.stdout.contains("secret") || allowed.stdout.contains("leak.yaml"), "\(allowed.stdout)")
    }

    @Test func aPriceSourceOutsideThePolicyDirectoryIsNotRead() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("outside/prices.json", "root:$6$secret\n")
        try directory.write("p/policy.yaml", "version: 1\nprice_sources: [../outside/prices.json, /etc/passwd]\n")
        let result = try Purser.run(["check", "p"], in: directory.path)
        #expect(result.status == 2, "\(result.stdout)\(result.stderr)")
        #expect(!result.stdout.contains("'r'") && !result.stdout.contains("$6$"), "a byte of the file is quoted:\n\(result.stdout)")
        let refused = result.diagnostics(for: "p/policy.yaml").filter { $0.code == "price-source" }
        #expect(refused.count == 2, "\(result.stdout)")
        #expect(result.stdout.contains("is outside the policy directories"))
        // Allowed explicitly, the file is read (and is not price JSON).
        let allowed = try Purser.run(["check", "--allow-outside-root", "p"], in: directory.path)
        #expect(allowed.stdout.contains("is not valid LiteLLM JSON"), "\(allowed.stdout)")
    }

    // MARK: A limit over the whole set (item 16)

    @Test func thePolicySetAsAWholeIsLimited() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // Three files of 1 MiB each: each under the per-file limit, together over a 2.5 MiB limit.
        let filler = String(repeating: "# filler comment line\n", count: (1 << 20) / 22)
        for index in 0..<3 { try directory.write("p/f\(index).yaml", Self.base.replacingOccurrences(of: "payments", with: "team\(index)") + filler) }
        let limited = try Purser.run(["check", "--max-policy-bytes", "2621440", "p"], in: directory.path)
        #expect(limited.status == 2, "\(limited.stdout)\(limited.stderr)")
        #expect(limited.stdout.contains("p/f2.yaml:1:1: error: the policy files together are larger than the limit of 2621440 bytes (maxTotalBytes"),
                "\(limited.stdout)")
        #expect(try Purser.run(["check", "p"], in: directory.path).status == 0, "the default limit (32 MiB) allows 3 MiB")
        let help = try Purser.run(["check", "--help"], in: directory.path)
        #expect(help.stdout.contains("--max-policy-bytes") && help.stdout.contains("--allow-outside-root"))
    }

    // MARK: Messages (item 17)

    @Test func messagesSayOutOfRangeNameTheFieldAndCutLongValues() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let huge = String(repeating: "x", count: 2 << 20)
        try directory.write("p/policy.yaml", """
            version: 1
            models:
              m: {tier: small, provider: "\(huge)"}
            budgets:
              - {id: b, scope: org, period: month, tokens: 100000000000000000000000}
            exceptions:
              - {id: e, waives: [b], expires: "9999-12-31T23:59:59Z"}

            """)
        let result = try Purser.run(["check", "p"], in: directory.path)
        #expect(result.stdout.utf8.count < 4096, "a value is echoed whole: \(result.stdout.utf8.count) bytes")
        #expect(result.stdout.contains("models.m.provider is \"xxxx"), "\(result.stdout)")
        #expect(result.stdout.contains("exceptions.e.expires is out of range (1970-01-01T00:00:00Z..2261-12-31T23:59:59Z)"), "\(result.stdout)")
        #expect(result.stdout.contains("is out of range (0..1000000000000000), found 100000000000000000000000"), "\(result.stdout)")
        #expect(!result.stdout.contains("is not an RFC 3339 time") && !result.stdout.contains("must be a whole number"), "\(result.stdout)")
    }
}
