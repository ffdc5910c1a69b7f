import Purser
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
public final class LogSource: Sendable {
    // Immutable; readers only `pread` the descriptor, so they never share an offset.
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
        let identity = (try? SystemCalls.status(descriptor)).map(FileIdentity.init) ?? FileIdentity(device: 0, inode: 0)
        self.init(name: "sort run", identity: identity, compression: .none, descriptor: descriptor, length: nil)
    }

    deinit {
        try? SystemCalls.close(descriptor)
    }

    /// Opens a log by path (`-` is standard input); non-regular inputs are spooled into `temporaryDirectory`.
    public static func open(_ path: String, temporaryDirectory: String = NSTemporaryDirectory()) throws(UsageLogError) -> LogSource {
        if path == "-" {
            let fd: Int32
            do throws(SystemError) {
                fd = try SystemCalls.duplicate(SystemCalls.standardInput)
            } catch {
                throw UsageLogError("cannot read standard input: \(error.message)", file: "-")
            }
            return try adopt(fd, name: "-", temporaryDirectory: temporaryDirectory)
        }
        return try open(bytes: Array(path.utf8), name: path, temporaryDirectory: temporaryDirectory)
    }

    /// Opens a log by its path's bytes (a name that is not UTF-8 is opened as it is), located as `name`.
    package static func open(bytes: [UInt8], name: String, temporaryDirectory: String) throws(UsageLogError) -> LogSource {
        let fd: Int32
        do throws(SystemError) {
            fd = try SystemCalls.open(bytes: bytes)
        } catch {
            throw UsageLogError(PolicyFiles.describe(error, path: name).replacingFirst(name + ": ", with: ""), file: name)
        }
        return try adopt(fd, name: name, temporaryDirectory: temporaryDirectory)
    }

    /// Takes ownership of an open descriptor: checks what it is, spools it when it is not a regular file.
    private static func adopt(_ fd: Int32, name: String, temporaryDirectory: String) throws(UsageLogError) -> LogSource {
        let status: FileStatus
        do throws(SystemError) {
            status = try SystemCalls.status(fd)
        } catch {
            try? SystemCalls.close(fd)
            throw UsageLogError(error.message, file: name)
        }
        if status.kind == .directory {
            try? SystemCalls.close(fd)
            throw UsageLogError("is a directory, not a log file", file: name)
        }
        var descriptor = fd
        // A regular file of length 0 may still be a file system's generated one (/proc): read it to the end.
        var length: Int64? = status.size > 0 ? status.size : nil
        // Standard input redirected from a file starts where its offset is (usually 0).
        var start = status.kind == .regular && name == "-" ? max(0, (try? SystemCalls.offset(fd)) ?? 0) : 0
        if status.kind != .regular {
            defer { try? SystemCalls.close(fd) }
            let spool = try TemporaryFile.anonymous(in: temporaryDirectory)
            do throws(UsageLogError) {
                length = try copy(from: fd, to: spool, name: name)
            } catch {
                try? SystemCalls.close(spool)
                throw error
            }
            descriptor = spool
            start = 0
        }
        let head = (try? SystemCalls.pread(descriptor, upTo: 4, at: start)) ?? []
        if head.starts(with: [0x28, 0xB5, 0x2F, 0xFD]) {
            try? SystemCalls.close(descriptor)
            throw UsageLogError(LogNames.zstdReason, file: name)
        }
        let compression: LogCompression = head.starts(with: [0x1F, 0x8B]) ? .gzip : .none
        return LogSource(name: name, identity: FileIdentity(status), compression: compression, descriptor: descriptor, start: start,
                         length: length)
    }

    /// Copies everything `from` holds into `to`; returns the number of bytes.
    private static func copy(from source: Int32, to target: Int32, name: String) throws(UsageLogError) -> Int64 {
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var total: Int64 = 0
        while true {
            let got: Int
            do throws(SystemError) {
                got = try SystemCalls.read(source, into: &chunk)
            } catch {
                throw UsageLogError(error.message, file: name)
            }
            if got == 0 { return total }
            do throws(SystemError) {
                try SystemCalls.writeAll(target, chunk[0..<got])
            } catch {
                throw UsageLogError("cannot copy it to a temporary file: \(error.message)", file: name)
            }
            total += Int64(got)
        }
    }
}

extension FileIdentity {
    /// The identity of the file `status` describes.
    package init(_ status: FileStatus) {
        self.init(device: status.device, inode: status.inode)
    }
}

/// Anonymous temporary files: unlinked right after they are created, so that no exit
/// (an error, SIGINT, SIGTERM, a crash) leaves one behind (docs/audit-reports.md, "Input").
package enum TemporaryFile {
    /// A new read-write file in `directory` with no name.
    package static func anonymous(in directory: String) throws(UsageLogError) -> Int32 {
        do throws(SystemError) {
            let (fd, path) = try SystemCalls.makeTemporaryFile(directory + "/purser-XXXXXX")
            try? SystemCalls.unlink(bytes: path)
            return fd
        } catch {
            throw UsageLogError("cannot create a temporary file: \(error.message)", file: directory)
        }
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
        if path != "-", (try? SystemCalls.status(path: path))?.kind == .directory {
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
        let listing: (status: FileStatus?, entries: [DirectoryEntry])
        do throws(SystemError) {
            listing = try SystemCalls.directoryEntries(bytes: path)
        } catch {
            throw UsageLogError(error.message, file: name)
        }
        if let status = listing.status {
            guard directories.insert(FileIdentity(status)).inserted else {
                skipped.append(SkippedLog(path: name, reason: "a directory already read (a symlink loop or a repeat)"))
                return
            }
        }
        let entries = listing.entries.map(\.name)
        let separator: [UInt8] = path.last == 0x2F ? [] : [0x2F]
        for entry in entries.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            let full = path + separator + entry
            let shown = PolicyFiles.escapedName(full)
            let kind: FileStatus.Kind
            do throws(SystemError) {
                kind = try SystemCalls.status(bytes: full).kind
            } catch {
                skipped.append(SkippedLog(path: shown, reason: "cannot be read: \(error.message)"))
                continue
            }
            if entry.first == 0x2E {
                skipped.append(SkippedLog(path: shown, reason: kind == .directory ? "a hidden directory" : "a hidden file"))
                continue
            }
            if kind == .directory {
                try walk(full, name: shown, temporaryDirectory: temporaryDirectory)
                continue
            }
            guard kind == .regular else {
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
