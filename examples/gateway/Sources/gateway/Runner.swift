import Foundation
import Purser

/// Drives the demonstration: the scripted calls, a concurrent burst, a hot
/// reload, then the budget counters. Records every result that differs from
/// the expected one in `failures`.
struct ScriptRunner {
    let gateway: Gateway
    let ledger: OutageLedger
    let clock: ManualClock
    let policyPaths: [String]
    private(set) var failures: [String] = []
    /// Every decision made, for the counter table at the end.
    private var decisions: [Decision] = []
    private var enforcer: Enforcer { gateway.enforcer }

    init(gateway: Gateway, ledger: OutageLedger, clock: ManualClock, policyPaths: [String]) {
        self.gateway = gateway
        self.ledger = ledger
        self.clock = clock
        self.policyPaths = policyPaths
    }

    mutating func run() async {
        var reroutedJSON: String?
        for (number, call) in script.enumerated() {
            print("\n\(number + 1). \(call.title)")
            if let decision = await runCall(call), decision.rerouted, reroutedJSON == nil {
                reroutedJSON = DecisionEncoder.json(decision)
            }
        }
        print("\n\(script.count + 1). 8 concurrent calls from data-platform (the Enforcer is Sendable)")
        await runBurst()
        print("\n\(script.count + 2). reload the policy while serving")
        runReload()
        print("\nBudget counters (team day/month, org) at \(clock.now()):")
        await printCounters()
        if let reroutedJSON {
            print("\nDecision JSON of the first rerouted call (DecisionEncoder.json):")
            print(reroutedJSON)
        }
    }

    /// One scripted call through the gateway; returns its decision.
    private mutating func runCall(_ call: ScriptedCall) async -> Decision? {
        let id = call.request.id ?? "?"
        do {
            for seed in call.seed { try seedSpend(seed, for: call.request) }
        } catch {
            failures.append("\(id): cannot seed: \(error)")
            return nil
        }
        ledger.setDown(call.ledgerDown)
        let result = await gateway.handle(call.request)
        ledger.setDown(false)
        decisions += result.rateLimited + [result.decision]

        var problems: [String] = []
        var duplicate: SettleOutcome?
        if call.duplicateUsageEvent, case .completed(let actual, _) = result.outcome {
            // At-least-once delivery: the same usage event again. Settle is
            // idempotent by decision id, so the second one counts nothing.
            do throws(LedgerError) {
                let counters = result.decision.budgets.map(\.counter)
                let before = try await ledger.read(counters)
                duplicate = try await enforcer.settle(result.decision, usage: actual).outcome
                if try await ledger.read(counters) != before {
                    problems.append("the duplicate settle changed the counters")
                }
            } catch {
                problems.append("duplicate settle failed: \(error.message)")
            }
        }

        print("   " + summaryLine(call.request, result))
        for line in detailLines(result) { print("     " + line) }
        if let duplicate { print("     duplicate usage event: settle → \(duplicate)") }
        problems += mismatches(call, result, duplicate: duplicate)
        for problem in problems {
            print("     UNEXPECTED: \(problem)")
            failures.append("\(id): \(problem)")
        }
        return result.decision
    }

    /// Puts spend already made in this window on the counter that `seed.budget`
    /// keeps for `request`, to bring a budget near its limit. (The example's
    /// ledger starts empty; a persistent ledger needs no such thing.)
    private func seedSpend(_ seed: Seed, for request: Request) throws(SeedError) {
        guard let spent = USD(seed.spent) else { throw SeedError("\(seed.spent) is not a USD amount") }
        // The counter: budget id, scope key, and the calendar window (in the
        // policy's time zone) the request falls in.
        let time = request.timestamp ?? enforcer.clock.now()
        guard let counter = enforcer.policy.counter(budget: seed.budget, key: seed.key, at: time) else {
            throw SeedError("the policy has no budget \(seed.budget)")
        }
        ledger.base.seed(counter, spent: Amount(usd: spent.nanos))
    }

    struct SeedError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// Eight calls at once from concurrent tasks; their spend must add up exactly.
    private mutating func runBurst() async {
        let burst = (1...8).map { index in
            Request(id: "r-burst-\(index)", team: "data-platform", environment: "staging", model: "gemini-2.5-flash-lite",
                    region: "us-west-2", user: "svc-classifier", usage: Usage(inputTokens: 4_000, outputTokens: 500))
        }
        var teamDay: CounterKey?
        if let first = burst.first {
            teamDay = await enforcer.evaluate(first).budgets.first { $0.id == "team.data-platform.day" }?.counter
        }
        let before = await spent(on: teamDay)

        let gateway = self.gateway
        let results = await withTaskGroup(of: CallResult.self) { group in
            for request in burst {
                group.addTask { await gateway.handle(request) }
            }
            var results: [CallResult] = []
            for await result in group { results.append(result) }
            return results
        }

        var settled = USDTotal.zero
        for result in results {
            decisions.append(result.decision)
            if case .completed(_, let settlement) = result.outcome, settlement.outcome == .settled, let cost = settlement.cost {
                settled += cost
            } else {
                failures.append("\(result.decision.requestID ?? "?"): a burst call was not settled")
            }
        }
        print("   \(results.count) calls: \(results.count { $0.decision.isAllowed }) allowed, settled \(dollars(settled.amount)) in total")
        if let before, let after = await spent(on: teamDay), let grown = after.subtracting(before), settled == grown {
            print("   team.data-platform.day grew by exactly \(dollars(grown))")
        } else {
            failures.append("the burst's spend does not add up on team.data-platform.day")
        }
    }

    /// Settled USD on a counter; nil when unknown.
    private func spent(on counter: CounterKey?) async -> USD? {
        guard let counter, let state = try? await ledger.read([counter]).first else { return nil }
        return USD(nanos: state.spent.usd)
    }

    /// Reloads the same files (applied), then with a broken file added (refused).
    private mutating func runReload() {
        let revision = enforcer.policy.revision
        if gateway.reloadPolicy(paths: policyPaths) {
            print("   reload(paths:) of the same files: applied, revision \(enforcer.policy.revision == revision ? "unchanged" : "changed")")
        } else {
            failures.append("reloading the valid policy was refused")
        }
        let broken = FileManager.default.temporaryDirectory.appendingPathComponent("purser-gateway-example-teams.yaml").path
        do {
            // A typo in a new team's budget: `dayly`.
            try "version: 1\nteams:\n  marketing:\n    budget: {month: 2000, dayly: 100}\n"
                .write(toFile: broken, atomically: true, encoding: .utf8)
        } catch {
            failures.append("cannot write \(broken): \(error)")
            return
        }
        defer { try? FileManager.default.removeItem(atPath: broken) }
        if gateway.reloadPolicy(paths: policyPaths + [broken]) {
            failures.append("a broken policy was applied")
        } else if enforcer.policy.revision != revision {
            failures.append("a refused reload changed the policy")
        } else {
            print("   reload(paths:) with a broken file added: refused, still enforcing \(revision)")
        }
    }

    /// The team and org counters the decisions touched; none may still hold a reservation.
    private mutating func printCounters() async {
        do throws(LedgerError) {
            let (lines, reserved) = try await counterTable(decisions, ledger: ledger)
            for line in lines { print("   " + line) }
            // Every reservation was settled, released or has expired.
            if reserved != .zero { failures.append("\(dollars(reserved.amount)) still reserved at the end") }
        } catch {
            failures.append("cannot read the counters: \(error.message)")
        }
    }
}
