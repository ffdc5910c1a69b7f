import Purser
import PurserCore
import PurserPolicy
import Synchronization

/// The policy in force and the history of its reloads, for `GET /v1/policy` (docs/api.md).
///
/// A reload that fails keeps the last good policy; the failure is kept here, logged and
/// counted, until a later reload succeeds.
final class PolicyState: Sendable {
    /// A reload that was refused.
    struct Failure: Sendable {
        /// When it was tried.
        let at: Timestamp
        /// Why, in one line.
        let message: String
        /// The policy's error diagnostics (`FILE:LINE:COLUMN: message`), at most 20.
        let diagnostics: [String]
    }

    /// What `GET /v1/policy` shows.
    struct Snapshot: Sendable {
        var revision: String
        var files: [String]
        var loadedAt: Timestamp
        var reloads: Int = 0
        var failures: Int = 0
        var lastFailure: Failure?
    }

    /// The outcome of one reload.
    enum Outcome: Sendable {
        case reloaded(revision: String)
        case refused(Failure, kept: String)
    }

    private let enforcer: Enforcer
    private let paths: [String]
    private let metrics: ServerMetrics
    private let state: Mutex<Snapshot>
    /// One reload at a time: SIGHUP, `--watch` and `/v1/reload` may arrive together.
    private let reloading = Mutex<Void>(())

    init(enforcer: Enforcer, paths: [String], files: [String], metrics: ServerMetrics) {
        self.enforcer = enforcer
        self.paths = paths
        self.metrics = metrics
        let now = enforcer.clock.now()
        state = Mutex(Snapshot(revision: enforcer.policy.revision, files: files, loadedAt: now))
        metrics.loaded(at: now.seconds)
    }

    /// The current state.
    var snapshot: Snapshot { state.withLock { $0 } }

    /// Reads the policy files again and, only if they are valid, puts them in force.
    func reload() -> Outcome {
        reloading.withLock { _ in
            let result = enforcer.reload(paths: paths)
            let now = enforcer.clock.now()
            let errors = result.diagnostics.filter { $0.severity == .error }
            guard result.policy != nil, errors.isEmpty else {
                let failure = Failure(at: now,
                                      message: "the policy in \(paths.joined(separator: " ")) is invalid (\(errors.count) error\(errors.count == 1 ? "" : "s")); the last good policy stays in force",
                                      diagnostics: errors.prefix(20).map(\.description))
                metrics.reloadFailed()
                let kept = state.withLock { state in
                    state.failures += 1
                    state.lastFailure = failure
                    return state.revision
                }
                return .refused(failure, kept: kept)
            }
            let revision = enforcer.policy.revision
            state.withLock { state in
                state.revision = revision
                state.files = result.files
                state.loadedAt = now
                state.reloads += 1
                state.lastFailure = nil
            }
            metrics.reloaded(at: now.seconds)
            return .reloaded(revision: revision)
        }
    }

    /// A fingerprint of the policy files (path, size, modification time, device and inode), for `--watch`.
    ///
    /// Paths are followed through symlinks, and hidden entries are left out as the loader leaves them
    /// out: in a Kubernetes ConfigMap volume each `NAME.yaml` is a symlink through `..data` into a
    /// timestamped `..YYYY_MM_DD…` directory, and an update swaps `..data` in one rename. The files
    /// behind the symlinks are then new files (another inode, even when size and time match), so one
    /// swap changes the fingerprint once (docs/deploy.md, "Policies from a ConfigMap").
    func fingerprint() -> [String] {
        var prints: [String] = []
        for path in paths { Self.collect(path, into: &prints, depth: 0) }
        return prints.sorted()
    }

    private static func collect(_ path: String, into prints: inout [String], depth: Int) {
        guard depth < 16, let status = try? SystemCalls.status(path: path) else {
            prints.append(path + " missing")
            return
        }
        guard status.kind == .directory else {
            prints.append("\(path) \(status.size) \(status.modified) \(status.device):\(status.inode)")
            return
        }
        // A directory by its entries only: its own time changes with every entry made or removed,
        // hidden ones too (a ConfigMap update makes and removes several), and each would reload.
        prints.append(path + " directory")
        guard let listing = try? SystemCalls.directoryEntries(bytes: Array(path.utf8)) else { return }
        for entry in listing.entries {
            guard let name = String(validating: entry.name, as: UTF8.self), !name.hasPrefix(".") else { continue }
            if entry.isDirectory || name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
                collect(path + "/" + name, into: &prints, depth: depth + 1)
            }
        }
    }
}
