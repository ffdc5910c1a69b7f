import PurserCore
import PurserYAML
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

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
        guard let pointer = realpath(path, nil) else { return nil }
        defer { free(pointer) }
        return String(validatingCString: pointer)
    }

    /// Whether a real path lies inside one of the real `roots` (or is one).
    package static func isInside(_ real: String, roots: [String]) -> Bool {
        roots.contains { root in real == root || real.hasPrefix(root.hasSuffix("/") ? root : root + "/") }
    }

    /// The directories reads are kept inside: each directory given, and the directory of each file given.
    package static func roots(of paths: [String]) -> [String] {
        paths.compactMap { path in
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }
            return realPath(info.st_mode & S_IFMT == S_IFDIR ? path : directory(of: path))
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

    /// The files of a policy set (SPEC §1): explicit files as given, and every
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
            var info = stat()
            guard stat(path, &info) == 0 else {
                problems.append(Problem(SymlinkLoop.orUnreadable(errno, path: path), path: path))
                continue
            }
            if info.st_mode & S_IFMT == S_IFDIR {
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
        var info = stat()
        guard stat(directory, &info) == 0 else {
            problems.append(Problem(SymlinkLoop.orUnreadable(errno, path: directory), path: directory))
            return
        }
        let id = DirectoryID(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
        guard !visits.open.contains(id) else {
            problems.append(Problem(SymlinkLoop.leadsBack(directory), path: directory))
            return
        }
        guard visits.done.insert(id).inserted else { return }
        visits.open.insert(id)
        defer { visits.open.remove(id) }
        guard let handle = opendir(directory) else {
            problems.append(Problem(UnreadableFile.failed(errno, path: directory), path: directory))
            return
        }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let bytes = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix(while: { $0 != 0 })) }
            if bytes.first == UInt8(ascii: ".") { continue }
            guard let name = String(validating: bytes, as: UTF8.self) else {
                // Such a name cannot be a path here; skipping it (loudly) beats failing the whole set.
                let shown = escapedName(bytes)
                let isDirectory = entry.pointee.d_type == UInt8(DT_DIR)
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
            var linkInfo = stat()
            if let root, lstat(path, &linkInfo) == 0, linkInfo.st_mode & S_IFMT == S_IFLNK,
               let target = realPath(path), !isInside(target, roots: [root.real])
            {
                // A symlink out of the directory given: its target is not read (nor quoted).
                if isYAML(name) || isDirectory(target) {
                    problems.append(Problem(UnreadableFile.outsideRoot(path, target: target, root: root.given), path: path))
                }
                continue
            }
            var entryInfo = stat()
            guard stat(path, &entryInfo) == 0 else {
                // A dangling or looping symlink: report it only if it looks like a policy.
                let failure = SymlinkLoop.orUnreadable(errno, path: path)
                if isYAML(name) || failure.code == .symlinkLoop {
                    problems.append(Problem(failure, path: path))
                }
                continue
            }
            if entryInfo.st_mode & S_IFMT == S_IFDIR {
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
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            return .failure(Problem(SymlinkLoop.orUnreadable(errno, path: path), path: path))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            return .failure(Problem(UnreadableFile.failed(errno, path: path), path: path))
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG:
            break
        case S_IFDIR:
            return .failure(Problem(UnreadableFile.directory(path), path: path))
        default:
            return .failure(Problem(UnreadableFile.notRegular(path, kind: fileKind(info.st_mode)), path: path))
        }
        if info.st_size > limit {
            return .failure(Problem(FileTooLarge.size(info.st_size, limit: limit), path: path))
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(info.st_size > 0 ? Int(info.st_size) : 4096)
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(Problem(UnreadableFile.failed(errno, path: path), path: path))
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
            if bytes.count > limit {
                return .failure(Problem(FileTooLarge.grew(limit: limit), path: path))
            }
        }
        return .success(bytes)
    }

    private static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }

    /// A name for a non-regular file type, for messages.
    private static func fileKind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFIFO: return "a FIFO"
        case S_IFSOCK: return "a socket"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        default: return "a special file"
        }
    }

    package static func describe(_ error: Int32, path: String) -> String {
        switch error {
        case ENOENT: return "\(path): no such file or directory"
        case EACCES: return "\(path): permission denied"
        case ELOOP: return "\(path): symlink loop (too many levels of symbolic links)"
        case EISDIR: return "\(path) is a directory"
        default: return "\(path): " + String(cString: strerror(error))
        }
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
