import Benchmark
import Foundation
import Purser
import PurserSQLite

// A gateway's round trip through each ledger: authorize one request (an org, a team and a
// team-per-day counter), then settle it at its estimate. One caller, so these are latencies;
// `purser ledger load` measures several callers and processes (Benchmarks/run.sh ledger).

/// The policy: `Benchmarks/Fixtures/ledger`, which `run.sh ledger` also uses.
let policyDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Fixtures/ledger").path

let request = Request(team: "t", environment: "prod", model: "m", cost: USD("0.01"))

func enforcer(_ ledger: (any Ledger)?) -> Enforcer {
    guard let loaded = PolicySet.load(paths: [policyDirectory]).policy,
          let enforcer = try? Enforcer(policy: loaded, ledger: ledger)
    else { fatalError("invalid benchmark policy") }
    return enforcer
}

func sqliteFile(_ durability: SQLiteLedger.Options.Durability) -> SQLiteLedger {
    let path = NSTemporaryDirectory() + "purser-ledger-bench-\(UUID().uuidString).db"
    guard let ledger = try? SQLiteLedger(path: path, options: SQLiteLedger.Options(durability: durability)) else {
        fatalError("cannot open \(path)")
    }
    return ledger
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput],
        timeUnits: .microseconds,
        warmupIterations: 200,
        maxDuration: .seconds(3),
        maxIterations: 100_000
    )

    // Beside `purser ledger load --ledger memory: --callers 1 --hold` (the synchronous path,
    // run.sh ledger): what the async API costs when the ledger never suspends.
    Benchmark("ledger-memory-authorize") { benchmark, enforcer in
        for _ in benchmark.scaledIterations {
            blackHole(await enforcer.authorize(request))
        }
    } setup: {
        enforcer(nil)
    }

    Benchmark("ledger-memory-authorize+settle") { benchmark, enforcer in
        for _ in benchmark.scaledIterations {
            let decision = await enforcer.authorize(request)
            blackHole(try? await enforcer.settle(decision, cost: USD("0.01")!))
        }
    } setup: {
        enforcer(nil)
    }

    Benchmark("ledger-sqlite-authorize") { benchmark, enforcer in
        for _ in benchmark.scaledIterations {
            blackHole(await enforcer.authorize(request))
        }
    } setup: {
        enforcer(sqliteFile(.normal))
    }

    Benchmark("ledger-sqlite-authorize+settle") { benchmark, enforcer in
        for _ in benchmark.scaledIterations {
            let decision = await enforcer.authorize(request)
            blackHole(try? await enforcer.settle(decision, cost: USD("0.01")!))
        }
    } setup: {
        enforcer(sqliteFile(.normal))
    }

    Benchmark("ledger-sqlite-full-authorize+settle", configuration: .init(maxDuration: .seconds(3), maxIterations: 2_000)) { benchmark, enforcer in
        for _ in benchmark.scaledIterations {
            let decision = await enforcer.authorize(request)
            blackHole(try? await enforcer.settle(decision, cost: USD("0.01")!))
        }
    } setup: {
        enforcer(sqliteFile(.full))
    }
}
