import ArgumentParser
import Purser

/// Loads the policy set a command needs: diagnostics go to standard error,
/// and an invalid policy is exit code 2 (SPEC §6).
enum PolicyLoading {
    static func load(_ paths: [String], now: Timestamp? = nil) throws -> PolicySet {
        var options = PolicyLoadOptions()
        options.now = now
        let result = PolicySet.load(paths: paths, options: options)
        for diagnostic in result.diagnostics {
            Output.error(diagnostic.description)
        }
        guard let policy = result.policy else {
            Output.error("purser: the policy in \(paths.joined(separator: " ")) is invalid (\(result.errorCount) error\(result.errorCount == 1 ? "" : "s")); run `purser check` for details")
            throw ExitCode(2)
        }
        return policy
    }

    static func enforcer(_ policy: PolicySet, ledger: any Ledger = InMemoryLedger(), now: Timestamp?) throws -> Enforcer {
        let clock: any PurserClock = now.map { ManualClock($0) } ?? SystemClock()
        do {
            return try Enforcer(policy: policy, ledger: ledger, clock: clock)
        } catch {
            Output.error("purser: \(error.message)")
            throw ExitCode(2)
        }
    }
}
