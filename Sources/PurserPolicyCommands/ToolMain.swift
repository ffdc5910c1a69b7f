#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser

/// Runs a root command and exits with the codes of docs/cli.md, "Exit codes": a command's
/// own `ExitCode`, 0 for `--help` and `--version`, and 2 (not ArgumentParser's 64) for a
/// usage error, whose message goes to standard error.
package enum ToolMain {
    package static func run<Command: ParsableCommand>(_ root: Command.Type) -> Never {
        do {
            var command = try root.parseAsRoot()
            try command.run()
            exit(0)
        } catch let code as ExitCode {
            exit(code.rawValue)
        } catch {
            let code = root.exitCode(for: error)
            let message = root.fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { print(message) }
                exit(0)
            }
            Output.error(message)
            exit(2)
        }
    }
}
