import PurserCore
import PurserPolicy
/// Runs a test suite against a policy: each case on a fresh in-memory
/// ledger seeded with its `spend`, its request authorized, the decision
/// compared with `expect`.
package struct PolicyTestRunner: Sendable {
    /// One case's outcome.
    package struct Result: Sendable {
        /// The case.
        package let testCase: PolicyTestSuite.Case
        /// The decision it got.
        package let decision: Decision
        /// One line per field that differs: `decision: expected allow, got deny`.
        package let failures: [String]

        /// Whether the decision matched every expected field.
        package var passed: Bool { failures.isEmpty }
    }

    /// What the cases exercised.
    package struct Coverage: Sendable {
        /// Rules that never matched a test request.
        package let unexercisedRules: [RuleDefinition]
        /// Budgets no test request counted against.
        package let unexercisedBudgets: [BudgetDefinition]
        /// Exceptions that never waived anything in a test.
        package let unexercisedExceptions: [ExceptionDefinition]
        /// Totals: (exercised, defined) for rules, budgets and exceptions.
        package let rules: (Int, Int)
        package let budgets: (Int, Int)
        package let exceptions: (Int, Int)
    }

    /// The compiled policy under test.
    package let policy: CompiledPolicy

    /// Creates a runner for a policy.
    package init(policy: CompiledPolicy) {
        self.policy = policy
    }

    /// Runs every case.
    package func run(_ suite: PolicyTestSuite) -> [Result] {
        suite.cases.map(run)
    }

    /// Runs one case.
    package func run(_ testCase: PolicyTestSuite.Case) -> Result {
        let clock: any PurserClock = (testCase.request.timestamp ?? testCase.now).map { ManualClock($0) } ?? SystemClock()
        let ledger = InMemoryLedger(clock: clock)
        for (counter, amount) in testCase.spend { ledger.seed(counter, spent: amount) }
        let enforcer = Enforcer(policy: policy, ledger: ledger, clock: clock)
        let decision = enforcer.authorizeNow(testCase.request)
        return Result(testCase: testCase, decision: decision, failures: compare(testCase.expect, decision))
    }

    private func compare(_ expect: PolicyTestSuite.Expectation, _ decision: Decision) -> [String] {
        var failures: [String] = []
        func check(_ field: String, _ expected: String?, _ actual: String) {
            if let expected, expected != actual { failures.append("\(field): expected \(expected), got \(actual)") }
        }
        check("decision", expect.decision?.rawValue, decision.verdict.rawValue)
        check("model", expect.model, decision.model)
        if let region = expect.region, region != decision.region {
            failures.append("region: expected \(region ?? "none"), got \(decision.region ?? "none")")
        }
        check("rerouted", expect.rerouted.map { String($0) }, String(decision.rerouted))
        if let cost = expect.cost, cost != decision.cost {
            failures.append("cost: expected \(cost), got \(decision.cost.map(\.description) ?? "unknown")")
        }
        let ids = decision.violations.map(\.rule)
        if let expected = expect.violations, expected.sorted() != ids.sorted() {
            failures.append("violations: expected [\(expected.joined(separator: ", "))], got [\(Self.describe(decision.violations))]")
        }
        for (rule, effect) in expect.effects.sorted(by: { $0.key < $1.key }) {
            let actual = decision.violations.first { $0.rule == rule }?.effect
            if actual != effect {
                failures.append("effect of \(rule): expected \(effect.rawValue), got \(actual?.rawValue ?? "no such violation")")
            }
        }
        if let expected = expect.alerts {
            let actual = decision.alerts.map(\.budget)
            if expected.sorted() != actual.sorted() {
                failures.append("alerts: expected [\(expected.joined(separator: ", "))], got [\(actual.joined(separator: ", "))]")
            }
        }
        return failures
    }

    /// `environment-model (rerouted), qa-team-day (deny)`
    package static func describe(_ violations: [Violation]) -> String {
        violations.map { "\($0.rule) (\($0.effect.rawValue))" }.joined(separator: ", ")
    }

    /// Which rules, budgets and exceptions the results exercised.
    package func coverage(_ results: [Result]) -> Coverage {
        var rules: Set<String> = []
        var budgets: Set<String> = []
        var exceptions: Set<String> = []
        for result in results {
            for violation in result.decision.violations {
                rules.insert(violation.rule)
                budgets.insert(violation.rule)
                if let exception = violation.waivedBy { exceptions.insert(exception) }
            }
            for status in result.decision.budgets { budgets.insert(status.id) }
        }
        let source = policy.source
        let unexercisedRules = source.rules.filter { !rules.contains($0.id) }
        let unexercisedBudgets = source.budgets.filter { !budgets.contains($0.id) }
        let unexercisedExceptions = source.exceptions.filter { !exceptions.contains($0.id) }
        return Coverage(
            unexercisedRules: unexercisedRules, unexercisedBudgets: unexercisedBudgets, unexercisedExceptions: unexercisedExceptions,
            rules: (source.rules.count - unexercisedRules.count, source.rules.count),
            budgets: (source.budgets.count - unexercisedBudgets.count, source.budgets.count),
            exceptions: (source.exceptions.count - unexercisedExceptions.count, source.exceptions.count))
    }
}
