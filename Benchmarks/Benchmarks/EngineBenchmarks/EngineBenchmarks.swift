import Benchmark
import Purser
import PurserFixtures

/// The large policy of issue 3: 60 models, 20 environments, 500 teams
/// (1,000 budgets from their shorthand), 200 rules.
func enforcer(rules: Int = 200) -> (Enforcer, [Request]) {
    var generator = PolicyGenerator()
    generator.rules = rules
    let result = PolicySet.load(yaml: generator.yaml(), file: "large.yaml")
    guard let policy = result.policy else { fatalError("generated policy is invalid: \(result.diagnostics.prefix(5))") }
    guard let enforcer = try? Enforcer(policy: policy) else { fatalError("cannot compile") }
    return (enforcer, generator.requests(count: 4096))
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput],
        timeUnits: .nanoseconds,
        warmupIterations: 1000,
        maxDuration: .seconds(3),
        maxIterations: 1_000_000
    )

    Benchmark("evaluate") { benchmark, state in
        let (enforcer, requests) = state
        var index = 0
        for _ in benchmark.scaledIterations {
            blackHole(await enforcer.evaluate(requests[index & 4095]))
            index &+= 1
        }
    } setup: {
        enforcer()
    }

    // A gateway settles or releases every authorization, so the ledger stays in a
    // steady state; without the release, a million open reservations pile up and
    // the benchmark measures that pile instead. `purser-profile authorize` times
    // authorize alone (p50/p99) with the release outside the clock.
    Benchmark("authorize+release") { benchmark, state in
        let (enforcer, requests) = state
        var index = 0
        for _ in benchmark.scaledIterations {
            let decision = await enforcer.authorize(requests[index & 4095])
            blackHole(try? await enforcer.release(decision))
            index &+= 1
        }
    } setup: {
        enforcer()
    }

    for rules in [10, 100, 1000, 10_000] {
        Benchmark("evaluate-rules-\(rules)") { benchmark, state in
            let (enforcer, requests) = state
            var index = 0
            for _ in benchmark.scaledIterations {
                blackHole(await enforcer.evaluate(requests[index & 4095]))
                index &+= 1
            }
        } setup: {
            enforcer(rules: rules)
        }
    }
}
