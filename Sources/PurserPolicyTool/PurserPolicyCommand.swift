import ArgumentParser
import Purser
import PurserPolicyCommands

/// `purser-policy`: the commands a policy author's pre-commit hook and CI run (`check`,
/// `test`, `explain`, `schema`), without the audit and its importers, so that the hook
/// builds less (docs/architecture.md, "Heavy dependencies to come"). They are the same
/// commands as `purser check`, `purser test`, `purser explain` and `purser schema`.
struct PurserPolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purser-policy",
        abstract: "Check and test Purser policies (the policy-author half of `purser`).",
        discussion: """
            The same check, test, explain and schema commands as `purser`, in a smaller
            binary that the pre-commit hook builds:

              purser-policy check --strict policies/
              purser-policy test policies/

            Exit codes: 0 clean, 1 errors found or a test failed, 2 bad invocation,
            unreadable input or invalid policy.
            """,
        version: PurserVersion.current,
        subcommands: [Check.self, TestCommand.self, Explain.self, SchemaCommand.self]
    )
}

@main
enum Main {
    static func main() {
        ToolMain.run(PurserPolicyCommand.self)
    }
}
