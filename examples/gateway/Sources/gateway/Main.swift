import Foundation
import Purser

/// `swift run gateway [--policy PATH]…`: load and validate the policy, build
/// an enforcer, run the scripted calls through the gateway loop, print what
/// happened. Exit 0 when every call behaved as expected, 1 when one did not,
/// 2 on a bad argument or an invalid policy.
@main
struct GatewayExample {
    static func main() async {
        guard let policyPaths = parseArguments(Array(CommandLine.arguments.dropFirst())) else {
            logError("usage: gateway [--policy PATH]…   (default: ../../policies)")
            exit(2)
        }

        // Load and validate the policy once, at startup. Diagnostics come
        // sorted, in the same `file:line:col` form as `purser check`.
        let loaded = PolicySet.load(paths: policyPaths)
        for diagnostic in loaded.diagnostics {
            logError(diagnostic.description)  // FILE:LINE:COL: error|warning: MESSAGE [code]
        }
        guard let policy = loaded.policy else {
            logError("gateway: the policy is invalid (\(loaded.errorCount) errors); not starting")
            exit(2)
        }

        // The example pins "now" so that its output is the same on every run, and
        // moves it forward when a call is slow. A real gateway leaves `clock:` out
        // and gets the system clock.
        guard let start = Timestamp(rfc3339: "2026-11-23T15:00:00Z") else {
            logError("gateway: bad start time")
            exit(2)
        }
        let clock = ManualClock(start)

        // Compile the policy into an enforcer over a ledger. OutageLedger wraps
        // the in-memory ledger so the example can simulate a spend-store outage;
        // `Enforcer(policy: policy)` alone gives you an InMemoryLedger. A ledger
        // judges expiry by its own clock: here the same manual clock.
        let ledger = OutageLedger(wrapping: InMemoryLedger(clock: clock))
        let enforcer: Enforcer
        do {
            enforcer = try Enforcer(policy: policy, ledger: ledger, clock: clock)
        } catch {
            logError("gateway: cannot compile the policy: \(error.message)")
            exit(2)
        }
        print("policy: \(loaded.files.count) files, revision \(enforcer.policy.revision)")

        // The provider: eu-central-1 is rate limited, o4-mini's upstream is down,
        // and gpt-5 calls take 11 minutes.
        let provider = SimulatedProvider(
            rateLimitedRegions: ["eu-central-1"], failingModels: ["o4-mini"], slowModels: ["gpt-5": 660], clock: clock)
        let gateway = Gateway(enforcer: enforcer, provider: provider)

        var runner = ScriptRunner(gateway: gateway, ledger: ledger, clock: clock, policyPaths: policyPaths)
        await runner.run()
        if runner.failures.isEmpty {
            print("\nAll \(script.count) scripted calls, the concurrent burst and the reload behaved as expected.")
            exit(0)
        }
        logError("\n\(runner.failures.count) unexpected results:")
        for failure in runner.failures { logError("  " + failure) }
        exit(1)
    }

    /// `--policy PATH` (repeatable); nil on anything else.
    static func parseArguments(_ arguments: [String]) -> [String]? {
        var paths: [String] = []
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            guard argument == "--policy", let path = rest.popFirst() else { return nil }
            paths.append(path)
        }
        return paths.isEmpty ? [defaultPolicyPath()] : paths
    }

    /// The repository's shipped policies: `../../policies` under `swift run` in
    /// examples/gateway; found from this source file when run from elsewhere.
    static func defaultPolicyPath() -> String {
        if FileManager.default.fileExists(atPath: "../../policies/settings.yaml") { return "../../policies" }
        return URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()  // examples/gateway
            .appendingPathComponent("../../policies").standardized.path
    }
}
