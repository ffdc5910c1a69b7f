import ArgumentParser
import Foundation
import Purser

/// `purser test`: run the policy's test cases.
package struct TestCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run policy test cases (*.test.yaml).",
        discussion: """
            Each case gives a request, optional starting spend, and the parts of the
            decision it expects; only the fields named under `expect` are compared:

              version: 1
              tests:
                - name: qa cannot use frontier, reroutes to sonnet
                  spend: [{budget: team.payments.month, key: payments, spent: 4999.5}]
                  request: {team: payments, environment: qa, model: claude-opus-4-5}
                  expect: {decision: allow, model: claude-sonnet-4-5, rerouted: true, violations: [environment-model]}

            `expect` may name decision, model, region, rerouted, violations (rule ids,
            any effect), effects ({rule-id: deny|warn|rerouted|waived}), cost and alerts.
            Failing cases print expected against actual; the last line is
            `N passed, N failed`.

            The policy is --policy; else the directories given when they hold policy
            files, or their parent when they hold only tests (policies/tests ->
            policies); else ./policies.

            Exit codes: 0 all passed; 1 a case failed; 2 an invalid policy or test file.

            Examples:
              purser test policies/
              purser test --coverage policies/
            """
    )

    @Argument(help: "Test files or directories holding *.test.yaml (default: ./policies).")
    var paths: [String] = []

    @Option(help: "The policy files or directories (default: the directories given or their parent, else ./policies).")
    var policy: [String] = []

    @Flag(help: "List the rules, budgets and exceptions no test exercised.")
    var coverage = false

    @Flag(name: .shortAndLong, help: "Print passing cases too.")
    var verbose = false

    @OptionGroup var reading: PolicyReadOptions

    package init() {}

    package func run() throws {
        let testPaths = paths.isEmpty ? ["policies"] : paths
        let policyPaths: [String]
        if !policy.isEmpty {
            policyPaths = policy
        } else {
            policyPaths = Self.policyDirectories(for: testPaths)
        }
        let policySet = try PolicyLoading.load(policyPaths, reading: reading)
        let compiled = try PolicyLoading.compile(policySet)
        let suite = PolicyTestSuite.load(paths: testPaths, policy: policySet, allowOutsideRoots: reading.allowOutsideRoot)
        for diagnostic in suite.diagnostics { Output.error(diagnostic.description) }
        if suite.diagnostics.contains(where: { $0.severity == .error }) {
            Output.error("purser: the test files have errors; no case was run")
            throw ExitCode(2)
        }
        let runner = PolicyTestRunner(policy: compiled)
        let results = runner.run(suite)
        var text = ""
        for result in results {
            let location = result.testCase.location
            if result.passed {
                if verbose { text += "PASS \(location): \(result.testCase.name)\n" }
                continue
            }
            text += "FAIL \(location): \(result.testCase.name)\n"
            for failure in result.failures { text += "  \(failure)\n" }
            let decision = result.decision
            text += "  actual: \(decision.verdict.rawValue) \(decision.model)\(decision.region.map { " in \($0)" } ?? "")"
            text += decision.rerouted ? " (rerouted)" : ""
            text += decision.violations.isEmpty ? "\n" : "; violations: \(PolicyTestRunner.describe(decision.violations))\n"
        }
        if coverage {
            let report = runner.coverage(results)
            text += "\nCoverage: \(report.rules.0)/\(report.rules.1) rules, \(report.budgets.0)/\(report.budgets.1) budgets, "
            text += "\(report.exceptions.0)/\(report.exceptions.1) exceptions exercised\n"
            for rule in report.unexercisedRules { text += "  not exercised: rule \(rule.id) (\(rule.location))\n" }
            for budget in report.unexercisedBudgets { text += "  not exercised: budget \(budget.id) (\(budget.location))\n" }
            for exception in report.unexercisedExceptions { text += "  not exercised: exception \(exception.id) (\(exception.location))\n" }
        }
        let failed = results.count { !$0.passed }
        text += "\(results.count - failed) passed, \(failed) failed\n"
        // Test names and policy values may hold control characters (YAML escapes): made safe for a terminal.
        try Output.write(TerminalText.sanitized(text, keepingNewlines: true), to: nil)
        if failed > 0 { throw ExitCode(1) }
    }

    /// The policy directories for test paths given without `--policy`.
    ///
    /// A directory that holds policy files is the policy; one that holds only
    /// tests (`policies/tests`) belongs to its parent's policy. Files, or
    /// directories with neither, fall back to `./policies`.
    static func policyDirectories(for testPaths: [String]) -> [String] {
        var result: [String] = []
        for path in testPaths {
            guard isDirectory(path) else { return ["policies"] }
            if holdsPolicyFiles(path) {
                result.append(path)
                continue
            }
            let parent = URL(fileURLWithPath: path).standardizedFileURL.deletingLastPathComponent().path
            guard holdsPolicyFiles(parent) else { return ["policies"] }
            result.append(relativeToWorkingDirectory(parent))
        }
        var seen = Set<String>()
        return result.filter { seen.insert($0).inserted }
    }

    private static func isDirectory(_ path: String) -> Bool {
        (try? SystemCalls.status(path: path))?.kind == .directory
    }

    /// Whether a directory tree holds a `*.yaml`/`*.yml` file that is not a test file.
    private static func holdsPolicyFiles(_ directory: String) -> Bool {
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return false }
        for case let name as String in walker {
            let isYAML = name.hasSuffix(".yaml") || name.hasSuffix(".yml")
            let isTest = name.hasSuffix(".test.yaml") || name.hasSuffix(".test.yml")
            if isYAML && !isTest { return true }
        }
        return false
    }

    /// A path relative to the working directory when it lies inside it, so diagnostics stay short.
    private static func relativeToWorkingDirectory(_ path: String) -> String {
        let cwd = FileManager.default.currentDirectoryPath
        if path == cwd { return "." }
        return path.hasPrefix(cwd + "/") ? String(path.dropFirst(cwd.count + 1)) : path
    }
}
