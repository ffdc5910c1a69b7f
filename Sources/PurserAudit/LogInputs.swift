import Purser
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// How a log's bytes are stored.
public enum LogCompression: String, Sendable {
    /// Plain text.
    case none
    /// gzip (RFC 1952), as log rotation leaves it; members may be concatenated.
    case gzip
}

/// A file's identity on its file system: two paths to one file (the same path twice, a
/// symlink, a directory and a file in it) have the same one.
public struct FileIdentity: Sendable, Hashable {
    /// `st_dev`.
    public let device: UInt64
    /// `st_ino`.
    public let inode: UInt64
}

/// A usage log opened once (docs/audit-reports.md, "Input"): every pass of an audit reads
/// this descriptor, never the path again, so a pipe or FIFO is read once and a log rotated
/// or appended to during the audit reads the same bytes on every pass.
///
/// A regular file is read as it was when it was opened (its length then); anything else
/// (standard input, a pipe, a FIFO, a device) is copied once into an anonymous temporary
/// file (unlinked as soon as it is created, so nothing is left behind, whatever ends the run).
public final class LogSource: @unchecked Sendable {
    // Immutable after init; readers only `pread` the descriptor, so they never share an offset.
    /// The name records are located by (the path as given, `-` for standard input).
    public let name: String
    /// The file's identity (of the pipe, for a spooled one).
    public let identity: FileIdentity
    /// How the bytes are stored.
    public let compression: LogCompression
    package let descriptor: Int32
    /// Where the log starts in the file (standard input redirected from a file part-read already: its offset).
    package let start: Int64
    /// Where it ends (a regular file's length when opened); nil: at the end of the file.
    package let length: Int64?

    private init(name: String, identity: FileIdentity, compression: LogCompression, descriptor: Int32, start: Int64 = 0, length: Int64?) {
        self.name = name
        self.identity = identity
        self.compression = compression
        self.descriptor = descriptor
        self.start = start
        self.length = length
    }

    /// A sort run in an anonymous temporary file, read back to its end.
    package convenience init(run descriptor: Int32) {
        let identity = Self.status(descriptor)?.identity ?? FileIdentity(device: 0, inode: 0)
        self.init(name: "sort run", identity: identity, compression: .none, descriptor: descriptor, length: nil)
    }

    deinit {
        close(descriptor)
    }

    /// Opens a log by path (`-` is standard input); non-regular inputs are spooled into `temporaryDirectory`.
    public static func open(_ path: String, temporaryDirectory: String = NSTemporaryDirectory()) throws(UsageLogError) -> LogSource {
        if path == "-" {
            let fd = dup(STDIN_FILENO)
            guard fd >= 0 else { throw UsageLogError("cannot read standard input: \(String(cString: strerror(errno)))", file: "-") }
            return try adopt(fd, name: "-", temporaryDirectory: temporaryDirectory)
        }
        return try open(bytes: Array(path.utf8), name: path, temporaryDirectory: temporaryDirectory)
    }

    /// Opens a log by its path's bytes (a name that is not UTF-8 is opened as it is), located as `name`.
    package static func open(bytes: [UInt8], name: String, temporaryDirectory: String) throws(UsageLogError) -> LogSource {
        let fd = Glibc.open((bytes + [0]).map { CChar(bitPattern: $0) }, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw UsageLogError(PolicyFiles.describe(errno, path: name).replacingFirst(name + ": ", with: ""), file: name)
        }
        return try adopt(fd, name: name, temporaryDirectory: temporaryDirectory)
    }

    /// The identity of an open descriptor, and whether it is a regular file, a directory, and its length.
    package static func status(_ fd: Int32) -> (identity: FileIdentity, kind: mode_t, length: Int64)? {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        return (FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)), info.st_mode & S_IFMT, Int64(info.st_size))
    }

    /// Takes ownership of an open descriptor: checks what it is, spools it when it is not a regular file.
    private static func adopt(_ fd: Int32, name: String, temporaryDirectory: String) throws(UsageLogError) -> LogSource {
        guard let (identity, kind, size) = status(fd) else {
            let problem = String(cString: strerror(errno))
            close(fd)
            throw UsageLogError(problem, file: name)
        }
        if kind == S_IFDIR {
            close(fd)
            throw UsageLogError("is a directory, not a log file", file: name)
        }
        var descriptor = fd
        // A regular file of length 0 may still be a file system's generated one (/proc): read it to the end.
        var length: Int64? = size > 0 ? size : nil
        // Standard input redirected from a file starts where its offset is (usually 0).
        var start = kind == S_IFREG && name == "-" ? max(0, Int64(lseek(fd, 0, SEEK_CUR))) : 0
        if kind != S_IFREG {
            defer { close(fd) }
            let spool = try TemporaryFile.anonymous(in: temporaryDirectory)
            do throws(UsageLogError) {
                length = try copy(from: fd, to: spool, name: name)
            } catch {
                close(spool)
                throw error
            }
            descriptor = spool
            start = 0
        }
        var magic = [UInt8](repeating: 0, count: 4)
        let got = magic.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, 4, off_t(start)) }
        let head = magic.prefix(max(got, 0))
        if head.starts(with: [0x28, 0xB5, 0x2F, 0xFD]) {
            close(descriptor)
            throw UsageLogError(LogNames.zstdReason, file: name)
        }
        let compression: LogCompression = head.starts(with: [0x1F, 0x8B]) ? .gzip : .none
        return LogSource(name: name, identity: identity, compression: compression, descriptor: descriptor, start: start, length: length)
    }

    /// Copies everything `from` holds into `to`; returns the number of bytes.
    private static func copy(from source: Int32, to target: Int32, name: String) throws(UsageLogError) -> Int64 {
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var total: Int64 = 0
        while true {
            let got = chunk.withUnsafeMutableBytes { Glibc.read(source, $0.baseAddress, $0.count) }
            if got < 0 {
                if errno == EINTR { continue }
                throw UsageLogError(String(cString: strerror(errno)), file: name)
            }
            if got == 0 { return total }
            guard ExternalSort.write(target, Array(chunk[0..<got])) else {
                throw UsageLogError("cannot copy it to a temporary file: \(String(cString: strerror(errno)))", file: name)
            }
            total += Int64(got)
        }
    }
}

/// Anonymous temporary files: unlinked right after they are created, so that no exit
/// (an error, SIGINT, SIGTERM, a crash) leaves one behind (docs/audit-reports.md, "Input").
package enum TemporaryFile {
    /// A new read-write file in `directory` with no name.
    package static func anonymous(in directory: String) throws(UsageLogError) -> Int32 {
        var template = Array((directory + "/purser-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.map { mkstemp($0) } ?? -1 }
        guard fd >= 0 else {
            throw UsageLogError("cannot create a temporary file: \(String(cString: strerror(errno)))", file: directory)
        }
        template.withUnsafeBufferPointer { buffer in _ = unlink(buffer.baseAddress.unsafelyUnwrapped) }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        return fd
    }
}

/// A file or directory an audit did not read, and why (listed on standard error and in the report).
public struct SkippedLog: Sendable, Hashable {
    /// The path (bytes that are not UTF-8 shown as `\xNN`).
    public let path: String
    /// Why it was not read.
    public let reason: String

    /// Creates an entry.
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
}

/// Which names in a log directory are usage logs (docs/audit-reports.md, "Input").
package enum LogNames {
    /// The extensions read, in any case, each also with `.gz`.
    package static let extensions = [".jsonl", ".ndjson", ".json", ".csv", ".log"]

    package static let zstdReason = "compressed with zstd, which purser does not read; decompress it first (zstd -d)"

    /// Why a file name in a directory is not read, or nil when it is read.
    package static func skipReason(_ name: String) -> String? {
        let lowered = name.lowercased()
        if lowered.hasSuffix(".zst") || lowered.hasSuffix(".zstd") { return zstdReason }
        let plain = lowered.hasSuffix(".gz") ? String(lowered.dropLast(3)) : lowered
        if extensions.contains(where: plain.hasSuffix) { return nil }
        return "not a usage log name (" + extensions.joined(separator: ", ") + ", each optionally .gz)"
    }
}

/// The logs of an audit: the paths given, directories walked recursively, each file opened
/// once, repeats and files that are not logs listed with the reason (docs/audit-reports.md, "Input").
public struct LogInputs: Sendable {
    /// The logs to read, in the order given (a directory's files sorted by path).
    public private(set) var sources: [LogSource] = []
    /// Files and directories not read, and why.
    public private(set) var skipped: [SkippedLog] = []
    private var seen: [FileIdentity: String] = [:]
    private var directories: Set<FileIdentity> = []

    /// No logs.
    public init() {}

    /// Opens every log under `paths`: files as given (`-` is standard input), directories walked
    /// recursively. Throws for a path that cannot be read, or a directory with no log in it.
    public init(_ paths: [String], temporaryDirectory: String = NSTemporaryDirectory()) throws(UsageLogError) {
        for path in paths {
            try add(path, temporaryDirectory: temporaryDirectory)
        }
    }

    /// Adds one path: a file, a directory, or `-`.
    public mutating func add(_ path: String, temporaryDirectory: String = NSTemporaryDirectory()) throws(UsageLogError) {
        var info = stat()
        if path != "-", stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR {
            let before = sources.count
            let skippedBefore = skipped.count
            try walk(Array(path.utf8), name: path, temporaryDirectory: temporaryDirectory)
            if sources.count == before && !skipped[skippedBefore...].contains(where: { $0.reason.hasPrefix("the same file as") }) {
                let left = skipped.count - skippedBefore
                throw UsageLogError("no usage logs (" + LogNames.extensions.joined(separator: ", ")
                                    + ", each optionally .gz) in the directory" + (left > 0 ? "; \(left) file\(left == 1 ? "" : "s") skipped" : ""),
                                    file: path)
            }
            return
        }
        let source = try LogSource.open(path, temporaryDirectory: temporaryDirectory)
        append(source)
    }

    /// Keeps a source unless its file is already in (then lists it as skipped).
    private mutating func append(_ source: LogSource) {
        if let first = seen[source.identity] {
            skipped.append(SkippedLog(path: source.name, reason: "the same file as \(first), read once"))
            return
        }
        seen[source.identity] = source.name
        sources.append(source)
    }

    /// Walks a directory (its path's bytes, shown as `name`): logs are opened, everything else is listed.
    private mutating func walk(_ path: [UInt8], name: String, temporaryDirectory: String) throws(UsageLogError) {
        let cPath = (path + [0]).map { CChar(bitPattern: $0) }
        guard let handle = opendir(cPath) else {
            throw UsageLogError(String(cString: strerror(errno)), file: name)
        }
        defer { closedir(handle) }
        let fd = dirfd(handle)
        if let (identity, _, _) = LogSource.status(fd) {
            guard directories.insert(identity).inserted else {
                skipped.append(SkippedLog(path: name, reason: "a directory already read (a symlink loop or a repeat)"))
                return
            }
        }
        var entries: [[UInt8]] = []
        while let entry = readdir(handle) {
            let bytes = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            if bytes == [0x2E] || bytes == [0x2E, 0x2E] { continue }
            entries.append(bytes)
        }
        let separator: [UInt8] = path.last == 0x2F ? [] : [0x2F]
        for entry in entries.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            let full = path + separator + entry
            let shown = PolicyFiles.escapedName(full)
            var info = stat()
            let cFull = (full + [0]).map { CChar(bitPattern: $0) }
            guard stat(cFull, &info) == 0 else {
                skipped.append(SkippedLog(path: shown, reason: "cannot be read: \(String(cString: strerror(errno)))"))
                continue
            }
            let kind = info.st_mode & S_IFMT
            if entry.first == 0x2E {
                skipped.append(SkippedLog(path: shown, reason: kind == S_IFDIR ? "a hidden directory" : "a hidden file"))
                continue
            }
            if kind == S_IFDIR {
                try walk(full, name: shown, temporaryDirectory: temporaryDirectory)
                continue
            }
            guard kind == S_IFREG else {
                skipped.append(SkippedLog(path: shown, reason: "not a regular file (a FIFO, socket or device; name it to read it)"))
                continue
            }
            if let reason = LogNames.skipReason(PolicyFiles.escapedName(entry)) {
                skipped.append(SkippedLog(path: shown, reason: reason))
                continue
            }
            append(try LogSource.open(bytes: full, name: shown, temporaryDirectory: temporaryDirectory))
        }
    }
}
