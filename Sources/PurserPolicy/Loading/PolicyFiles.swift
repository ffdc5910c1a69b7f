import PurserCore
import PurserYAML

/// Finding and reading policy files: directory walks that survive symlink
/// loops, size limits checked before reading, errors that say what failed.
package enum PolicyFiles {
    /// A problem with a path: unreadable, a loop, nothing found.
    package struct Problem: Error {
        package let code: DiagnosticCode
        package let message: String
        package let path: String
        /// The severity when not the code's default (a skipped file is a warning).
        package var severity: Diagnostic.Severity?

        package init(code: DiagnosticCode, message: String, path: String, severity: Diagnostic.Severity? = nil) {
            self.code = code
            self.message = message
            self.path = path
            self.severity = severity
        }

        /// A code's finding (its rule builds the message) at a path.
        package init(_ finding: Finding, path: String) {
            self.init(code: finding.code, message: finding.message, path: path,
                      severity: finding.severity == finding.code.defaultSeverity ? nil : finding.severity)
        }

        /// The problem as a diagnostic at its path.
        package var diagnostic: Diagnostic {
            Diagnostic(code, severity ?? code.defaultSeverity, message, at: SourceLocation(file: path))
        }
    }

    /// The real (symlink-free, absolute) path of an existing file or directory.
    package static func realPath(_ path: String) -> String? {
        SystemCalls.realPath(path).flatMap { String(validating: $0, as: UTF8.self) }
    }

    /// Whether a real path lies inside one of the real `roots` (or is one).
    package static func isInside(_ real: String, roots: [String]) -> Bool {
        roots.contains { root in real == root || real.hasPrefix(root.hasSuffix("/") ? root : root + "/") }
    }

    /// The directories reads are kept inside: each directory given, and the directory of each file given.
    package static func roots(of paths: [String]) -> [String] {
        paths.compactMap { path in
            guard let info = try? SystemCalls.status(path: path) else { return nil }
            return realPath(info.kind == .directory ? path : directory(of: path))
        }
    }

    /// A file name's bytes for a message, invalid UTF-8 shown as `\xNN`.
    package static func escapedName(_ bytes: some Sequence<UInt8>) -> String {
        var out = ""
        var pending: [UInt8] = []
        func flush() {
            guard !pending.isEmpty else { return }
            if let text = String(validating: pending, as: UTF8.self) {
                out += text
            } else {
                for byte in pending {
                    out += byte < 0x80 ? String(UnicodeScalar(byte)) : "\\x" + String(byte, radix: 16, uppercase: true)
                }
            }
            pending.removeAll()
        }
        for byte in bytes {
            pending.append(byte)
            if byte < 0x80 { flush() }
        }
        flush()
        return out
    }

    /// Whether a file name is a policy test file (`*.test.yaml`, `*.test.yml`).
    package static func isTestFile(_ path: String) -> Bool {
        path.hasSuffix(".test.yaml") || path.hasSuffix(".test.yml")
    }

    package static func isYAML(_ path: String) -> Bool {
        path.hasSuffix(".yaml") || path.hasSuffix(".yml")
    }

    /// A name for a file that does not depend on where the set was loaded from:
    /// the path relative to the directory given, or the file name for a file given directly.
    package static func revisionName(of file: String, roots: [String]) -> String {
        for root in roots {
            let prefix = root.hasSuffix("/") ? root : root + "/"
            if file.hasPrefix(prefix) { return String(file.dropFirst(prefix.count)) }
        }
        return file.split(separator: "/").last.map(String.init) ?? file
    }

    /// The files of a policy set (docs/policy-language.md, "Files, fragments and merging"):
    /// explicit files as given, and every
    /// `*.yaml`/`*.yml` under directories (recursively, sorted by path),
    /// leaving out test files and hidden entries.
    ///
    /// Unless `allowOutsideRoots`, a symlink under a directory that leads outside it is refused
    /// (docs/policy-language.md, "Input limits"); entries whose names are not UTF-8 are skipped
    /// with a warning.
    package static func discover(_ paths: [String], tests: Bool = false, allowOutsideRoots: Bool = false)
        -> (files: [String], problems: [Problem])
    {
        var files: [String] = []
        var problems: [Problem] = []
        for path in paths {
            guard let info = status(path, problems: &problems) else { continue }
            if info.kind == .directory {
                var found: [String] = []
                var visits = Visits()
                let root = allowOutsideRoots ? nil : realPath(path).map { (given: path, real: $0) }
                walk(path, into: &found, problems: &problems, visits: &visits, tests: tests, root: root)
                if found.isEmpty && !problems.contains(where: { $0.path.hasPrefix(path) }) {
                    problems.append(Problem(NoPolicies.inDirectory(path, tests: tests), path: path))
                }
                files.append(contentsOf: found.sorted())
            } else if tests && !isTestFile(path) {
                continue
            } else {
                files.append(path)
            }
        }
        var seen: Set<String> = []
        return (files.filter { seen.insert($0).inserted }, problems)
    }

    private struct DirectoryID: Hashable {
        package let device: UInt64
        package let inode: UInt64
    }

    /// The directories of one walk: those being read (a symlink back to one
    /// is a loop) and every one already read (a second symlink to it adds
    /// nothing; without this, symlinks that fan out to shared directories
    /// make the walk exponential).
    private struct Visits {
        package var open: Set<DirectoryID> = []
        package var done: Set<DirectoryID> = []
    }

    private static func walk(_ directory: String, into files: inout [String], problems: inout [Problem],
                             visits: inout Visits, tests: Bool, root: (given: String, real: String)?)
    {
        guard let info = status(directory, problems: &problems) else { return }
        let id = DirectoryID(device: info.device, inode: info.inode)
        guard !visits.open.contains(id) else {
            problems.append(Problem(SymlinkLoop.leadsBack(directory), path: directory))
            return
        }
        guard visits.done.insert(id).inserted else { return }
        visits.open.insert(id)
        defer { visits.open.remove(id) }
        let entries: [DirectoryEntry]
        do throws(SystemError) {
            entries = try SystemCalls.directoryEntries(bytes: Array(directory.utf8)).entries
        } catch {
            problems.append(Problem(UnreadableFile.failed(error, path: directory), path: directory))
            return
        }
        var names: [String] = []
        for entry in entries {
            let bytes = entry.name
            if bytes.first == UInt8(ascii: ".") { continue }
            guard let name = String(validating: bytes, as: UTF8.self) else {
                // Such a name cannot be a path here; skipping it (loudly) beats failing the whole set.
                let shown = escapedName(bytes)
                let isDirectory = entry.isDirectory
                if isDirectory || isYAML(shown) {
                    let path = directory.hasSuffix("/") ? directory + shown : directory + "/" + shown
                    problems.append(Problem(UnreadableFile.nameNotUTF8(path, isDirectory: isDirectory), path: path))
                }
                continue
            }
            names.append(name)
        }
        for name in names.sorted() {
            let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            if let root, (try? SystemCalls.linkStatus(path: path))?.kind == .symbolicLink,
               let target = realPath(path), !isInside(target, roots: [root.real])
            {
                // A symlink out of the directory given: its target is not read (nor quoted).
                if isYAML(name) || isDirectory(target) {
                    problems.append(Problem(UnreadableFile.outsideRoot(path, target: target, root: root.given), path: path))
                }
                continue
            }
            let entryInfo: FileStatus
            do throws(SystemError) {
                entryInfo = try SystemCalls.status(path: path)
            } catch {
                // A dangling or looping symlink: report it only if it looks like a policy.
                let failure = SymlinkLoop.orUnreadable(error, path: path)
                if isYAML(name) || failure.code == .symlinkLoop {
                    problems.append(Problem(failure, path: path))
                }
                continue
            }
            if entryInfo.kind == .directory {
                walk(path, into: &files, problems: &problems, visits: &visits, tests: tests, root: root)
            } else if isYAML(name) && isTestFile(name) == tests {
                // Non-regular files (FIFOs, sockets, devices) are kept so that
                // `read` reports them; opening a FIFO must never block the walk.
                files.append(path)
            }
        }
    }

    /// Reads a whole file, refusing files over `limit` bytes before reading them.
    ///
    /// Only regular files are read. The file is opened non-blocking, so a
    /// FIFO without a writer is refused at once instead of hanging the open.
    package static func read(_ path: String, limit: Int) -> Result<[UInt8], Problem> {
        let fd: Int32
        do throws(SystemError) {
            fd = try SystemCalls.open(path, .readingWithoutBlocking)
        } catch {
            return .failure(Problem(SymlinkLoop.orUnreadable(error, path: path), path: path))
        }
        defer { try? SystemCalls.close(fd) }
        let info: FileStatus
        do throws(SystemError) {
            info = try SystemCalls.status(fd)
        } catch {
            return .failure(Problem(UnreadableFile.failed(error, path: path), path: path))
        }
        switch info.kind {
        case .regular:
            break
        case .directory:
            return .failure(Problem(UnreadableFile.directory(path), path: path))
        default:
            return .failure(Problem(UnreadableFile.notRegular(path, kind: fileKind(info.kind)), path: path))
        }
        if info.size > limit {
            return .failure(Problem(FileTooLarge.size(info.size, limit: limit), path: path))
        }
        let bytes: [UInt8]
        do throws(SystemError) {
            bytes = try SystemCalls.readToEnd(fd, limit: limit, sizeHint: info.size > 0 ? Int(info.size) : 4096)
        } catch {
            return .failure(Problem(UnreadableFile.failed(error, path: path), path: path))
        }
        if bytes.count > limit {
            return .failure(Problem(FileTooLarge.grew(limit: limit), path: path))
        }
        return .success(bytes)
    }

    /// What a path is (through symlinks), or nil with the problem added (a loop, an unreadable path).
    private static func status(_ path: String, problems: inout [Problem]) -> FileStatus? {
        do throws(SystemError) {
            return try SystemCalls.status(path: path)
        } catch {
            problems.append(Problem(SymlinkLoop.orUnreadable(error, path: path), path: path))
            return nil
        }
    }

    private static func isDirectory(_ path: String) -> Bool {
        (try? SystemCalls.status(path: path))?.kind == .directory
    }

    /// A name for a non-regular file type, for messages.
    private static func fileKind(_ kind: FileStatus.Kind) -> String {
        switch kind {
        case .fifo: return "a FIFO"
        case .socket: return "a socket"
        case .characterDevice: return "a character device"
        case .blockDevice: return "a block device"
        default: return "a special file"
        }
    }

    package static func describe(_ error: SystemError, path: String) -> String {
        if error.isNotFound { return "\(path): no such file or directory" }
        if error.isPermissionDenied { return "\(path): permission denied" }
        if error.isSymlinkLoop { return "\(path): symlink loop (too many levels of symbolic links)" }
        if error.isDirectory { return "\(path) is a directory" }
        return "\(path): " + error.message
    }

    /// The directory part of a path (`.` for a bare file name).
    package static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Joins a path relative to a directory, leaving absolute paths alone.
    package static func resolve(_ path: String, relativeTo directory: String) -> String {
        if path.hasPrefix("/") || directory == "." { return path }
        return directory + "/" + path
    }
}
