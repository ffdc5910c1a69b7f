import Foundation
import Testing

/// `purser check` end to end: exit codes, the three output formats,
/// `--strict`, the default policy directory, help and bad options.
@Suite("purser check")
struct CheckCommandTests {
    static let good = """
        version: 1
        models:
          small-model: {provider: acme, tier: small, price: {input: 1, output: 2}}
        environments:
          production: {models: [small-model]}
        teams:
          payments: {budget: {month: 100}}

        """

    /// Valid, but the model has no price under a USD budget: a warning.
    static let warningOnly = """
        version: 1
        models:
          small-model: {provider: acme, tier: small}
        environments:
          production: {models: [small-model]}
        teams:
          payments: {budget: {month: 100}}

        """

    /// Well-formed YAML with one schema error: an unknown key.
    static let unknownKey = """
        version: 1
        models:
          small-model: {provider: acme, tier: small, price: {input: 1, output: 2}, colour: blue}

        """

    /// Runs `purser` in a scratch directory holding `files`.
    func run(_ arguments: [String], files: [String: String]) throws -> Purser.Result {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        for (path, text) in files { try directory.write(path, text) }
        return try Purser.run(arguments, in: directory.path)
    }

    @Test func goodPolicyExitsZero() throws {
        let result = try run(["check", "policy.yaml"], files: ["policy.yaml": Self.good])
        #expect(result.status == 0, "stdout:\n\(result.stdout)\nstderr:\n\(result.stderr)")
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("1 file checked: 0 errors, 0 warnings"))
    }

    @Test func semanticErrorExitsOneWithALocatedMessage() throws {
        let result = try run(["check", "policy.yaml"], files: ["policy.yaml": Self.unknownKey])
        #expect(result.status == 1, "stdout:\n\(result.stdout)")
        let diagnostics = result.diagnostics(for: "policy.yaml")
        #expect(diagnostics.count == 1, "\(diagnostics)")
        let diagnostic = try #require(diagnostics.first)
        #expect(diagnostic.code == "unknown-key")
        #expect(diagnostic.severity == "error")
        #expect(diagnostic.line == 3)
        #expect(diagnostic.column == 76)
        #expect(diagnostic.message.contains("\"colour\""))
    }

    @Test func jsonFormat() throws {
        let result = try run(["check", "--format", "json", "policy.yaml"], files: ["policy.yaml": Self.unknownKey])
        #expect(result.status == 1)
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
        let report = try #require(object as? [String: Any])
        let diagnostics = try #require(report["diagnostics"] as? [[String: Any]])
        let summary = try #require(report["summary"] as? [String: Any])
        #expect(diagnostics.count == 1)
        #expect(diagnostics.first?["code"] as? String == "unknown-key")
        #expect(diagnostics.first?["file"] as? String == "policy.yaml")
        #expect(diagnostics.first?["line"] as? Int == 3)
        #expect(summary["errors"] as? Int == 1)
        #expect(summary["exit_code"] as? Int == 1)
    }

    @Test func jsonFormatForHostileInput() throws {
        let result = try run(["check", "--format", "json", "policy.yaml"], files: ["policy.yaml": "version: 1\na: 1\n\"a\": 2\n"])
        #expect(result.status == 2)
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
        let report = try #require(object as? [String: Any])
        let diagnostics = try #require(report["diagnostics"] as? [[String: Any]])
        #expect(diagnostics.first?["code"] as? String == "duplicate-key")
        #expect((report["summary"] as? [String: Any])?["exit_code"] as? Int == 2)
    }

    @Test func sarifFormat() throws {
        let result = try run(["check", "--format", "sarif", "policy.yaml"], files: ["policy.yaml": Self.unknownKey])
        #expect(result.status == 1)
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
        let log = try #require(object as? [String: Any])
        #expect(log["version"] as? String == "2.1.0")
        let run = try #require((log["runs"] as? [[String: Any]])?.first)
        let driver = try #require((run["tool"] as? [String: Any])?["driver"] as? [String: Any])
        let rules = try #require(driver["rules"] as? [[String: Any]])
        let ruleIDs = rules.compactMap { $0["id"] as? String }
        #expect(ruleIDs.count == rules.count)
        #expect(ruleIDs.contains("unknown-key"))
        #expect(ruleIDs.contains("yaml-nesting-depth"))

        let results = try #require(run["results"] as? [[String: Any]])
        #expect(results.count == 1)
        let finding = try #require(results.first)
        #expect(finding["ruleId"] as? String == "unknown-key")
        #expect(finding["level"] as? String == "error")
        let location = try #require((finding["locations"] as? [[String: Any]])?.first)
        let physical = try #require(location["physicalLocation"] as? [String: Any])
        let region = try #require(physical["region"] as? [String: Any])
        #expect(region["startLine"] as? Int == 3)
        #expect((physical["artifactLocation"] as? [String: Any])?["uri"] as? String == "policy.yaml")
    }

    @Test func strictTurnsWarningsIntoFailure() throws {
        let files = ["policy.yaml": Self.warningOnly]
        let lenient = try run(["check", "policy.yaml"], files: files)
        #expect(lenient.status == 0, "stdout:\n\(lenient.stdout)")
        #expect(lenient.diagnostics(for: "policy.yaml").map(\.severity) == ["warning"])

        let strict = try run(["check", "--strict", "policy.yaml"], files: files)
        #expect(strict.status == 1)
        #expect(strict.diagnostics(for: "policy.yaml").map(\.code) == ["unpriced-budgeted-model"])
    }

    @Test func defaultsToPoliciesDirectory() throws {
        let result = try run(["check"], files: ["policies/teams.yaml": Self.unknownKey, "elsewhere.yaml": "version: 2\n"])
        #expect(result.status == 1, "stdout:\n\(result.stdout)\nstderr:\n\(result.stderr)")
        #expect(result.diagnostics(for: "policies/teams.yaml").map(\.code) == ["unknown-key"])
        #expect(!result.stdout.contains("elsewhere.yaml"))
    }

    @Test func missingDefaultPoliciesDirectoryIsAnInputError() throws {
        let result = try run(["check"], files: ["README.md": "nothing here\n"])
        #expect(result.status == 2)
        #expect(result.diagnostics(for: "policies").map(\.code) == ["unreadable-file"])
    }

    @Test(arguments: [["--help"], ["check", "--help"], ["help", "check"]])
    func helpExitsZeroAndExplainsExitCodes(_ arguments: [String]) throws {
        let result = try run(arguments, files: [:])
        #expect(result.status == 0, "stderr:\n\(result.stderr)")
        let text = result.stdout + result.stderr
        #expect(text.contains("Exit codes"))
        #expect(text.contains("0 clean"))
        #expect(text.contains("2 "))
    }

    @Test(arguments: [["--bogus"], ["check", "--bogus"], ["check", "--format", "xml", "policy.yaml"], ["frobnicate"]])
    func badInvocationExitsTwo(_ arguments: [String]) throws {
        let result = try run(arguments, files: ["policy.yaml": Self.good])
        #expect(result.status == 2, "stdout:\n\(result.stdout)\nstderr:\n\(result.stderr)")
        #expect(!result.stderr.isEmpty)
    }

    /// As of a fixed date, so that the shipped exception's expiry cannot make it fail later.
    @Test func shippedPoliciesCheckClean() throws {
        let result = try Purser.run(["check", "--strict", "--now", "2026-11-23", "policies"], in: Purser.packageRoot)
        #expect(result.status == 0, "stdout:\n\(result.stdout)\nstderr:\n\(result.stderr)")
    }
}
