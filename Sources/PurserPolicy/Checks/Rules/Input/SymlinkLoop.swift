import PurserCore

extension DiagnosticCode {
    /// A symlink points back to itself or to a directory being read.
    package static let symlinkLoop = SymlinkLoop.code
}

/// `symlink-loop`: the system reports a loop (`ELOOP`), or a directory walk comes
/// back to a directory it is reading.
package enum SymlinkLoop: CheckRule {
    package static let description = RuleDescription(
        id: "symlink-loop", stage: .input,
        summary: "A symlink points back to itself or to a directory being read.",
        triggering: [
            .files([("policy.yaml", .symlink(to: "policy.yaml"))]),
            .files([("policies/base.yaml", .text(CheckCatalog.base)), ("policies/again", .symlink(to: "."))], check: "policies"),
        ],
        nonTriggering: [.files([("shared/base.yaml", .text(CheckCatalog.base)), ("policies", .symlink(to: "shared"))], check: "policies")])

    /// A failed system call on a path: this code for `ELOOP`, else `unreadable-file`.
    package static func orUnreadable(_ error: SystemError, path: String) -> Finding {
        error.isSymlinkLoop ? finding(PolicyFiles.describe(error, path: path)) : UnreadableFile.failed(error, path: path)
    }

    package static func leadsBack(_ directory: String) -> Finding {
        finding("symlink loop: \(directory) leads back to a directory already being read")
    }
}
