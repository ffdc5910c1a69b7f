import Foundation
import Testing
import Purser
import PurserTestSupport

/// The documentation's examples are executable: every ```yaml block is a
/// complete policy that checks clean, or a policy test file (top-level
/// `tests:`) whose cases pass against the shipped `policies/`. (YAML that is
/// neither, such as a pre-commit configuration, is fenced as ```yml.)
@Suite("Documentation")
struct DocumentationTests {
    /// The fenced blocks of a Markdown file whose info string is exactly `yaml`, with their line numbers.
    static func yamlBlocks(_ path: String) throws -> [(line: Int, text: String)] {
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        var blocks: [(Int, String)] = []
        var current: (Int, [Substring])?
        for (number, line) in lines.enumerated() {
            if let open = current {
                if line.hasPrefix("```") {
                    blocks.append((open.0, open.1.joined(separator: "\n") + "\n"))
                    current = nil
                } else {
                    current?.1.append(line)
                }
            } else if line == "```yaml" {
                current = (number + 1, [])
            }
        }
        return blocks
    }

    @Test(arguments: ["docs/policy-language.md", "README.md"])
    func yamlExamplesCheckClean(file: String) throws {
        let path = repositoryRoot + "/" + file
        guard FileManager.default.fileExists(atPath: path) else {
            Issue.record("\(file) is missing")
            return
        }
        let blocks = try Self.yamlBlocks(path)
        #expect(!blocks.isEmpty)
        for block in blocks where block.text.contains("\ntests:") {
            try expectTestCasesPass(block.text, at: "\(file):\(block.line)")
        }
        for block in blocks where !block.text.contains("\ntests:") {
            let result = load(block.text, file: "\(file):\(block.line)")
            #expect(result.diagnostics.isEmpty, "the yaml block at \(file):\(block.line) does not check clean: \(result.diagnostics)")
        }
    }

    /// Runs a test file from the docs against the shipped policies.
    func expectTestCasesPass(_ text: String, at place: String) throws {
        let directory = NSTemporaryDirectory() + "purser-doc-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Data(text.utf8).write(to: URL(fileURLWithPath: directory + "/example.test.yaml"))
        let loaded = PolicySet.load(paths: [repositoryRoot + "/policies"])
        let policySet = try #require(loaded.policy)
        let suite = PolicyTestSuite.load(paths: [directory], policy: policySet)
        #expect(suite.diagnostics.isEmpty, "the test file at \(place) has problems: \(suite.diagnostics)")
        #expect(!suite.cases.isEmpty)
        let results = PolicyTestRunner(policy: try CompiledPolicy(policySet)).run(suite)
        for result in results where !result.passed {
            Issue.record("the test case \"\(result.testCase.name)\" at \(place) fails: \(result.failures)")
        }
    }

    @Test func shippedPoliciesCheckCleanUnderStrict() {
        var options = PolicyLoadOptions()
        options.now = CheckCatalog.exampleNow
        let result = PolicySet.load(paths: [repositoryRoot + "/policies"], options: options)
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics)")
        let policy = result.policy
        #expect(Set(policy?.environments.map(\.name) ?? []) == ["production", "staging", "qa", "dev"])
        #expect((policy?.teams.count ?? 0) >= 5)
        #expect(Set(policy?.models.map(\.provider) ?? []).count >= 3)
        #expect(policy?.rules.contains { $0.enforcement == .audit } == true)
        #expect(policy?.exceptions.count == 1)
        #expect(policy?.budgets.contains { $0.scope == [.org] } == true)
    }
}
