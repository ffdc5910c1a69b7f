import Foundation
import Testing
import Purser
import PurserTestSupport

@Suite("purser test cases")
struct PolicyTestRunnerTests {
    static func suite(_ yaml: String) throws -> (PolicyTestSuite, PolicyTestRunner) {
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: directory + "/cases.test.yaml"))
        let suite = PolicyTestSuite.load(paths: [directory], policy: EngineFixture.policy)
        return (suite, PolicyTestRunner(policy: try CompiledPolicy(EngineFixture.policy)))
    }

    @Test func comparesOnlyTheFieldsNamed() throws {
        let (suite, runner) = try Self.suite("""
            version: 1
            tests:
              - name: passes
                request: {team: payments, environment: qa, model: opus, timestamp: "2026-11-23T10:00:00Z"}
                expect: {decision: allow, model: sonnet}
              - name: fails
                spend: [{budget: team.payments.day, key: payments, spent: 9.99}]
                request: {team: payments, environment: production, model: haiku, cost: 0.02, timestamp: "2026-11-23T10:00:00Z"}
                expect: {decision: allow, violations: [], effects: {team.payments.day: warn}}
            """)
        #expect(suite.diagnostics.isEmpty, "\(suite.diagnostics)")
        let results = runner.run(suite)
        #expect(results.map(\.passed) == [true, false])
        #expect(results[1].failures == [
            "decision: expected allow, got deny",
            "violations: expected [], got [team.payments.day (deny)]",
            "effect of team.payments.day: expected warn, got deny",
        ])
    }

    @Test func reportsBadTestFilesWithLocations() throws {
        let (suite, _) = try Self.suite("""
            version: 1
            tests:
              - name: typo
                request: {team: payments, model: opus, usgae: {}}
                expect: {decison: allow}
              - name: bad spend
                spend: [{budget: team.nobody.day, spent: 1}]
                request: {model: opus}
                expect: {decision: maybe}
            """)
        let messages = suite.diagnostics.map(\.description)
        #expect(messages.contains { $0.contains("cases.test.yaml:4:14: error: tests[0] (typo).request: unknown field \"usgae\"") })
        #expect(messages.contains { $0.contains("unknown key \"decison\"") && $0.contains("did you mean \"decision\"") })
        #expect(messages.contains { $0.contains("team.nobody.day") && $0.contains("[undefined-reference]") })
        #expect(messages.contains { $0.contains("must be one of allow, deny") })
    }

    @Test func coverageListsWhatNoTestExercised() throws {
        let (suite, runner) = try Self.suite("""
            version: 1
            tests:
              - name: one
                request: {team: payments, environment: dev, model: haiku, timestamp: "2026-11-23T10:00:00Z", usage: {input_tokens: 200000}}
                expect: {decision: deny}
            """)
        let coverage = runner.coverage(runner.run(suite))
        #expect(coverage.rules == (1, 2) || (coverage.rules.0 == 1 && coverage.rules.1 == 2))
        #expect(coverage.unexercisedRules.map(\.id) == ["late-night"])
        #expect(coverage.unexercisedExceptions.map(\.id) == ["EXC-1"])
        #expect(coverage.unexercisedBudgets.map(\.id).contains("qa-soft"))
        #expect(!coverage.unexercisedBudgets.map(\.id).contains("team.payments.day"))
    }

    @Test func shippedPolicyTestsPass() throws {
        let policy = try #require(PolicySet.load(paths: [repositoryRoot + "/policies"]).policy)
        let suite = PolicyTestSuite.load(paths: [repositoryRoot + "/policies"], policy: policy)
        #expect(suite.diagnostics.isEmpty, "\(suite.diagnostics)")
        #expect(suite.cases.count >= 30)
        let runner = PolicyTestRunner(policy: try CompiledPolicy(policy))
        let results = runner.run(suite)
        for result in results where !result.passed {
            Issue.record("\(result.testCase.location) \(result.testCase.name): \(result.failures)")
        }
        let coverage = runner.coverage(results)
        #expect(coverage.unexercisedRules.isEmpty && coverage.unexercisedBudgets.isEmpty && coverage.unexercisedExceptions.isEmpty)
    }
}
