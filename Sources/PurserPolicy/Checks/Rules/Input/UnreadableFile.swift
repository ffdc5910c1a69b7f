import PurserCore

extension DiagnosticCode {
    /// A path does not exist or cannot be read (a dangling symlink, missing permission, a symlink out of the policy directory); a name that is not UTF-8 is skipped with a warning.
    package static let unreadableFile = UnreadableFile.code
}

/// `unreadable-file`: a path that ``PolicyFiles`` cannot read, or refuses to.
package enum UnreadableFile: CheckRule {
    package static let description = RuleDescription(
        id: "unreadable-file", stage: .input,
        summary: "A path does not exist or cannot be read (a dangling symlink, missing permission, a symlink out of the policy directory); a name that is not UTF-8 is skipped with a warning.",
        triggering: [
            .files([("policy.yaml", .symlink(to: "missing.yaml"))]), .files([], check: "no-such-dir"),
            .files([("policies/base.yaml", .text(CheckCatalog.base)), ("policies/shared.yaml", .symlink(to: "../elsewhere/shared.yaml")),
                    ("elsewhere/shared.yaml", .text("version: 1\n"))], check: "policies"),
        ],
        nonTriggering: [.policy(CheckCatalog.base)])

    /// A system call on the path failed with `error`.
    package static func failed(_ error: SystemError, path: String) -> Finding {
        finding(PolicyFiles.describe(error, path: path))
    }

    package static func directory(_ path: String) -> Finding {
        finding("\(path) is a directory")
    }

    /// A FIFO, socket or device where a policy file was expected.
    package static func notRegular(_ path: String, kind: String) -> Finding {
        finding("\(path) is not a regular file (\(kind)); policy files must be regular files")
    }

    /// An entry whose name is not UTF-8: skipped, with a warning.
    package static func nameNotUTF8(_ path: String, isDirectory: Bool) -> Finding {
        finding("skipped \(isDirectory ? "the directory" : "the file") \(path): its name is not UTF-8; rename it", severity: .warning)
    }

    /// A symlink under a directory given that leads outside it.
    package static func outsideRoot(_ path: String, target: String, root: String) -> Finding {
        finding("\(path) is a symlink to \(target), outside \(root); policy files are read only inside the directories given (--allow-outside-root reads it)")
    }
}
