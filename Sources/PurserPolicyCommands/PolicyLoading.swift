import ArgumentParser
import Purser

/// How policy files are read: where, and how much (docs/policy-language.md, "Input limits").
package struct PolicyReadOptions: ParsableArguments {
    @Flag(name: .customLong("allow-outside-root"),
          help: "Follow symlinks and price_sources that lead outside the policy paths given (refused by default).")
    package var allowOutsideRoot = false

    @Option(name: .customLong("max-policy-bytes"),
            help: ArgumentHelp("The most bytes of YAML all policy files may hold together.", valueName: "bytes"))
    package var maxPolicyBytes: Int = PolicyLoadOptions().maxTotalBytes

    package init() {}

    package func validate() throws {
        guard maxPolicyBytes > 0 else { throw ValidationError("--max-policy-bytes must be positive.") }
    }

    /// The load options these flags give.
    package func options(now: Timestamp? = nil) -> PolicyLoadOptions {
        var options = PolicyLoadOptions()
        options.now = now
        options.allowOutsideRoots = allowOutsideRoot
        options.maxTotalBytes = maxPolicyBytes
        return options
    }
}

/// Loads the policy set a command needs: diagnostics go to standard error,
/// and an invalid policy is exit code 2 (docs/cli.md, "Exit codes").
package enum PolicyLoading {
    /// Loads the policy; `output` (a command's `-o`) must not be one of the files read.
    package static func load(_ paths: [String], now: Timestamp? = nil, output: String? = nil,
                     reading: PolicyReadOptions? = nil) throws -> PolicySet {
        try loadWithFiles(paths, now: now, output: output, reading: reading).policy
    }

    /// Loads the policy, with the files it was read from.
    package static func loadWithFiles(_ paths: [String], now: Timestamp? = nil, output: String? = nil,
                                      reading: PolicyReadOptions? = nil) throws -> (policy: PolicySet, files: [String]) {
        var options = reading?.options(now: now) ?? PolicyLoadOptions()
        options.now = now
        let result = PolicySet.load(paths: paths, options: options)
        try Output.refuseOverwriting(output, inputs: paths + result.files)
        for diagnostic in result.diagnostics {
            Output.error(diagnostic.description)
        }
        guard let policy = result.policy else {
            Output.error("purser: the policy in \(paths.joined(separator: " ")) is invalid (\(result.errorCount) error\(result.errorCount == 1 ? "" : "s")); run `purser check` for details")
            throw ExitCode(2)
        }
        return (policy, result.files)
    }

    /// Compiles a loaded policy; a policy the engine cannot compile is exit code 2.
    package static func compile(_ policy: PolicySet) throws -> CompiledPolicy {
        do {
            return try CompiledPolicy(policy)
        } catch {
            Output.error("purser: \(error.message)")
            throw ExitCode(2)
        }
    }

    package static func enforcer(_ policy: PolicySet, ledger: (any Ledger)? = nil, now: Timestamp?) throws -> Enforcer {
        let clock: any PurserClock = now.map { ManualClock($0) } ?? SystemClock()
        do {
            return try Enforcer(policy: policy, ledger: ledger, clock: clock)
        } catch {
            Output.error("purser: \(error.message)")
            throw ExitCode(2)
        }
    }
}
