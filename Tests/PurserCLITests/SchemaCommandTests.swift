import Foundation
import Testing

/// `purser schema`: the JSON Schema editors read, the committed copy of it, and the
/// `yaml-language-server` line a policy file names it with.
@Suite("purser schema")
struct SchemaCommandTests {
    static let committed = Purser.packageRoot + "/schema/purser-policy.schema.json"

    @Test func committedSchemaIsCurrent() throws {
        let result = try Purser.run(["schema"], in: Purser.packageRoot)
        #expect(result.status == 0, "\(result.stderr)")
        let onDisk = try String(contentsOfFile: Self.committed, encoding: .utf8)
        #expect(result.stdout == onDisk, "schema/purser-policy.schema.json is stale: run `swift run purser schema > schema/purser-policy.schema.json`")
    }

    @Test func printsADraft2020Schema() throws {
        let result = try Purser.run(["schema"], in: Purser.packageRoot)
        let schema = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(schema["$schema"] as? String == "https://json-schema.org/draft/2020-12/schema")
        #expect((schema["required"] as? [String]) == ["version"])
        let properties = try #require(schema["properties"] as? [String: Any])
        #expect(properties["models"] != nil && properties["budgets"] != nil)
        #expect(result.stderr.isEmpty)
    }

    /// The help shows the commands and the line to put at the top of a policy file, each
    /// on a line of its own to copy (no line is long enough to be wrapped).
    @Test func helpTeachesTheEditorSetup() throws {
        let help = try Purser.run(["schema", "--help"], in: Purser.packageRoot)
        #expect(help.status == 0)
        #expect(help.stdout.contains("\n  # yaml-language-server: $schema=../purser.schema.json\n"))
        #expect(help.stdout.contains("\n  purser schema > purser.schema.json\n"))
        #expect(help.stdout.split(separator: "\n").allSatisfy { $0.count <= 80 })
        let root = try Purser.run(["--help"], in: Purser.packageRoot)
        #expect(root.stdout.contains("purser schema"))
    }

    @Test func extraArgumentsAreAUsageError() throws {
        let result = try Purser.run(["schema", "policies"], in: Purser.packageRoot)
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty)
    }

    /// The line is a YAML comment: `purser check` reports the same with it as without.
    @Test func theSchemaLineChangesNothingForCheck() throws {
        let policy = "version: 1\nmodels:\n  m: {provider: p, tier: small, price: {input: 1, output: 2}}\nenvironments:\n  dev: {}\n"
        let line = "# yaml-language-server: $schema=../purser.schema.json\n"
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("plain/policy.yaml", policy)
        try directory.write("marked/policy.yaml", line + policy)
        let plain = try Purser.run(["check", "--format", "json", "policy.yaml"], in: directory.path + "/plain")
        let marked = try Purser.run(["check", "--format", "json", "policy.yaml"], in: directory.path + "/marked")
        #expect(plain.status == 0 && marked.status == 0)
        #expect(plain.stdout == marked.stdout && plain.stderr == marked.stderr)
    }
}
