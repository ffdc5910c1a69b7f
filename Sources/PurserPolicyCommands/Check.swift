import ArgumentParser
import Purser

/// `purser check`: validate policy files for pre-commit and CI.
package struct Check: ParsableCommand {
    package static let configuration = CommandConfiguration(
        abstract: "Validate policy files.",
        discussion: """
            Reads every *.yaml / *.yml under the given paths (directories are walked
            recursively; *.test.yaml files and hidden entries are skipped), merges them
            into one policy set, and reports problems one per line:

              policies/teams.yaml:12:5: error: unknown key "budegt" in teams.payments; did you mean "budget"? [unknown-key]

            Run `purser explain CODE` for what a code means, with examples.

            Exit codes: 0 clean; 1 errors (or warnings with --strict); 2 a file could
            not be read or parsed as YAML, or bad arguments.

            Examples:
              purser check                          check ./policies
              purser check --strict policies/       warnings fail too (CI)
              purser check --format sarif > purser.sarif
            """
    )

    @Argument(help: "Policy files or directories (default: ./policies).")
    var paths: [String] = []

    @Option(help: "Output format: text (FILE:LINE:COL: …), json or sarif (SARIF 2.1.0).")
    var format: CheckReport.Format = .text

    @Flag(help: "Fail on warnings as well as errors.")
    var strict = false

    @Option(name: .shortAndLong, help: "Write the report to a file instead of standard output (whole or not at all; never one of the inputs).")
    var output: String?

    @Option(help: ArgumentHelp("Check exception expiry as of this date or RFC 3339 time (default: now).", valueName: "time"))
    var now: NowOption?

    @Flag(name: .shortAndLong, help: "Do not print the summary line on standard error.")
    var quiet = false

    @OptionGroup var reading: PolicyReadOptions

    package init() {}

    package func run() throws {
        let options = reading.options(now: now?.timestamp)
        let result = PolicySet.load(paths: paths.isEmpty ? ["policies"] : paths, options: options)
        let checked = paths.isEmpty ? ["policies"] : paths
        try Output.refuseOverwriting(output, inputs: checked + result.files)
        let report = CheckReport(result, strict: strict)
        try Output.write(report.render(format, toolVersion: PurserVersion.current), to: output)
        if !quiet { Output.error(report.summary) }
        if report.exitCode != 0 { throw ExitCode(report.exitCode) }
    }
}

/// `purser explain`: what a check diagnostic means.
package struct Explain: ParsableCommand {
    package static let configuration = CommandConfiguration(
        abstract: "Explain a `purser check` diagnostic code, with examples.",
        discussion: """
            Examples:
              purser explain unknown-key
              purser explain --all              list every code
              purser explain --all --markdown   the reference page docs/checks.md
            """
    )

    @Argument(help: "A diagnostic code, e.g. unknown-key.")
    var code: String?

    @Flag(help: "List every code.")
    var all = false

    @Flag(help: "With --all: print the Markdown reference (docs/checks.md).")
    var markdown = false

    package init() {}

    package func validate() throws {
        if code == nil && !all { throw ValidationError("Give a code (e.g. `purser explain unknown-key`) or --all.") }
    }

    package func run() throws {
        if all {
            if markdown {
                print(CheckDocumentation.markdown(), terminator: "")
            } else {
                let width = CheckCatalog.entries.map(\.code.id.count).max() ?? 0
                for entry in CheckCatalog.entries {
                    let id = entry.code.id + String(repeating: " ", count: width - entry.code.id.count)
                    print("\(id)  \(entry.code.defaultSeverity.rawValue.padding(7))  \(entry.summary)")
                }
            }
            return
        }
        guard let code, let entry = CheckCatalog.entries.first(where: { $0.code.id == code }) else {
            let hint = CheckCatalog.suggestion(for: code ?? "").map { "; did you mean \"\($0)\"?" } ?? ""
            Output.error("purser: unknown code \"\(code ?? "")\"\(hint) (`purser explain --all` lists them)")
            throw ExitCode(2)
        }
        print(CheckDocumentation.explain(entry), terminator: "")
    }
}

extension String {
    package func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
