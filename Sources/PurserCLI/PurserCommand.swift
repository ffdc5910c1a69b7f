#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import Purser

/// `purser`: the root command. Subcommands do the work; this file only
/// wires them and maps errors to SPEC §6's exit codes.
struct PurserCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purser",
        abstract: "Enforce LLM usage policy: approved models, budgets, regions.",
        discussion: """
            Policies are YAML files (default directory: ./policies). Typical use:

              purser check policies/            validate policy files (pre-commit, CI)
              purser explain unknown-key        what a check diagnostic means, with examples
              purser eval requests.jsonl        decide requests as a gateway would
              purser test policies/             run the policy's *.test.yaml cases
              purser audit logs/*.jsonl         replay usage logs and report what broke policy

            Exit codes: 0 clean, 1 violations or errors found, 2 bad invocation,
            unreadable input or invalid policy.
            """,
        version: PurserVersion.current,
        subcommands: [Check.self, Explain.self, Eval.self, TestCommand.self, Audit.self, Generate.self]
    )
}

@main
enum Main {
    static func main() {
        do {
            var command = try PurserCommand.parseAsRoot()
            try command.run()
        } catch let code as ExitCode {
            exit(code.rawValue)
        } catch {
            let code = PurserCommand.exitCode(for: error)
            let message = PurserCommand.fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { print(message) }
                exit(0)
            }
            Output.error(message)
            // Usage errors are exit code 2 (SPEC §6), not ArgumentParser's 64.
            exit(2)
        }
    }
}
