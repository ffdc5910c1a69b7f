import PurserAudit
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import Purser

/// Writing results to stdout or a file, and messages to stderr.
enum Output {
    /// Writes a message line to standard error, with terminal escapes and other control
    /// characters (from policy names, logs, file names) replaced (``TerminalText``).
    static func error(_ message: String) {
        let safe = TerminalText.sanitized(message, keepingNewlines: true)
        let line = safe.hasSuffix("\n") ? safe : safe + "\n"
        _ = writeAll(Array(line.utf8), to: STDERR_FILENO)
    }

    /// Writes every byte to a file descriptor, retrying short writes.
    static func writeAll(_ bytes: [UInt8], to fd: Int32) -> Bool {
        bytes.withUnsafeBufferPointer { writeAll($0, to: fd) }
    }

    /// Writes every byte of a buffer to a file descriptor, retrying short writes.
    static func writeAll(_ buffer: UnsafeBufferPointer<UInt8>, to fd: Int32) -> Bool {
        var offset = 0
        while offset < buffer.count {
            guard let base = buffer.baseAddress else { return true }
            let written = Glibc.write(fd, base + offset, buffer.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += written
        }
        return true
    }

    /// Writes text to `path`, or to standard output when path is nil or `-`.
    static func write(_ text: String, to path: String?) throws {
        try write(Array(text.utf8), to: path)
    }

    /// Writes bytes to `path`, or to standard output when path is nil or `-`.
    ///
    /// A file is written whole or not at all: into a temporary file beside it, renamed over it at the end.
    static func write(_ bytes: [UInt8], to path: String?) throws {
        let writer = try OutputWriter(path)
        defer { writer.close() }
        try writer.write(bytes)
        try writer.commit()
    }

    /// Refuses an output file that is one of the inputs (the same device and inode, so also
    /// through symlinks and hard links): `-o` must never truncate what is being read.
    static func refuseOverwriting(_ output: String?, inputs: [String]) throws {
        let identities = inputs.compactMap { input -> (name: String, device: UInt64, inode: UInt64)? in
            var info = stat()
            guard input != "-", stat(input, &info) == 0 else { return nil }
            return (input, UInt64(info.st_dev), UInt64(info.st_ino))
        }
        try refuseOverwriting(output, identities: identities)
    }

    /// Refuses an output that is one of the opened logs (a file found in a directory counts too).
    static func refuseOverwriting(_ output: String?, sources: [LogSource]) throws {
        try refuseOverwriting(output, identities: sources.map { ($0.name, $0.identity.device, $0.identity.inode) })
    }

    /// Refuses an output whose device and inode are one input's.
    private static func refuseOverwriting(_ output: String?, identities: [(name: String, device: UInt64, inode: UInt64)]) throws {
        guard let output, output != "-" else { return }
        var target = stat()
        guard stat(output, &target) == 0, target.st_mode & S_IFMT == S_IFREG else { return }
        for input in identities where input.device == UInt64(target.st_dev) && input.inode == UInt64(target.st_ino) {
            let same = input.name == output ? "" : " (the same file as \(input.name))"
            error("purser: refusing to write to \(output): it is one of the inputs\(same); choose another -o file")
            throw ExitCode(2)
        }
    }

    /// Whether standard output is a terminal.
    static var stdoutIsTerminal: Bool { isatty(STDOUT_FILENO) == 1 }

    /// The width of the terminal on standard output, else `$COLUMNS`, else 120.
    static var terminalWidth: Int {
        var size = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        if let columns = getenv("COLUMNS").flatMap({ Int(String(cString: $0)) }), columns > 0 { return columns }
        return 120
    }

    /// Whether standard error is a terminal.
    static var stderrIsTerminal: Bool { isatty(STDERR_FILENO) == 1 }
}

extension CheckReport.Format: ExpressibleByArgument {}

/// Parses `--now` values: RFC 3339 times or dates.
struct NowOption: ExpressibleByArgument {
    let timestamp: Timestamp

    init?(argument: String) {
        if let timestamp = Timestamp(rfc3339: argument) {
            self.timestamp = timestamp
        } else if let timestamp = Timestamp(rfc3339: argument + "T00:00:00Z") {
            self.timestamp = timestamp
        } else {
            return nil
        }
    }
}

/// Reads a file or standard input in large chunks.
final class ChunkReader {
    private let fd: Int32
    private let path: String
    /// Whether the end of the input was reached.
    private(set) var isAtEnd = false

    init(_ path: String) throws {
        self.path = path
        if path == "-" {
            fd = STDIN_FILENO
            return
        }
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            Output.error("purser: cannot read \(path): \(String(cString: strerror(errno)))")
            throw ExitCode(2)
        }
    }

    deinit {
        if fd != STDIN_FILENO { close(fd) }
    }

    /// Up to `count` bytes; fewer only at the end of the input.
    func read(_ count: Int) throws -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count, !isAtEnd {
            let got = result.withUnsafeMutableBytes { raw in
                Glibc.read(fd, raw.baseAddress.map { $0 + filled }, count - filled)
            }
            if got < 0 {
                if errno == EINTR { continue }
                Output.error("purser: cannot read \(path): \(String(cString: strerror(errno)))")
                throw ExitCode(2)
            }
            if got == 0 { isAtEnd = true }
            filled += got
        }
        result.removeLast(count - filled)
        return result
    }

    /// Discards input up to and including the next newline; returns what follows it in the chunk read.
    func skipPastNewline() throws -> [UInt8] {
        while !isAtEnd {
            let chunk = try read(1 << 20)
            if let newline = chunk.firstIndex(of: 0x0A) { return Array(chunk[(newline + 1)...]) }
        }
        return []
    }
}

/// A buffered writer to a file or standard output.
///
/// A regular file is written atomically: into a temporary file in the same directory, which
/// ``commit()`` renames over the target; ``close()`` without a commit (a failed write, a full
/// disk, an error) removes it and leaves the target as it was. Devices and FIFOs
/// (`/dev/stdout`, `/dev/null`) are written directly.
final class OutputWriter {
    private let fd: Int32
    private let path: String
    /// The temporary file being written, renamed to `target` on commit.
    private var temporary: String?
    /// The file the temporary one replaces (the symlink's target when `path` is a symlink).
    private let target: String
    private var buffer: [UInt8] = []
    private var closed = false

    init(_ path: String?) throws {
        self.path = path ?? "-"
        guard let path, path != "-" else {
            fd = STDOUT_FILENO
            target = "-"
            return
        }
        var info = stat()
        let exists = stat(path, &info) == 0
        if exists && info.st_mode & S_IFMT != S_IFREG {
            // A device, a FIFO or a directory: opened as it is (a directory fails with a clear message).
            fd = open(path, O_WRONLY | O_CLOEXEC)
            target = path
            guard fd >= 0 else {
                Output.error("purser: cannot write \(path): \(String(cString: strerror(errno)))")
                throw ExitCode(2)
            }
            return
        }
        // Through a symlink, the file it points to is replaced, not the link.
        let resolved = exists ? (realpath(path, nil).map { pointer in
            defer { free(pointer) }
            return String(cString: pointer)
        } ?? path) : path
        target = resolved
        let directory = resolved.lastIndex(of: "/").map { String(resolved[...$0]) } ?? ""
        let name = resolved.split(separator: "/").last.map(String.init) ?? "output"
        var template = Array("\(directory).\(name.prefix(64)).purser-XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.map { mkstemp($0) } ?? -1 }
        guard created >= 0 else {
            Output.error("purser: cannot write \(path): \(String(cString: strerror(errno)))")
            throw ExitCode(2)
        }
        _ = fcntl(created, F_SETFD, FD_CLOEXEC)
        fd = created
        temporary = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // The mode a new file would get (0644 less the umask), or the replaced file's.
        let mask = umask(0)
        umask(mask)
        _ = fchmod(fd, exists ? info.st_mode & 0o7777 : 0o644 & ~mask)
    }

    deinit {
        close()
    }

    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBufferPointer { try write($0) }
    }

    /// Writes bytes; a large block goes straight to the file after what is buffered (no copy).
    func write(_ bytes: UnsafeBufferPointer<UInt8>) throws {
        guard bytes.count >= 1 << 16 else {
            buffer.append(contentsOf: bytes)
            if buffer.count >= 1 << 20 { try flush() }
            return
        }
        try flush()
        guard Output.writeAll(bytes, to: fd) else { throw failure() }
    }

    func flush() throws {
        guard !buffer.isEmpty else { return }
        guard Output.writeAll(buffer, to: fd) else { throw failure() }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Reports a failed write and removes the temporary file.
    private func failure() -> ExitCode {
        Output.error("purser: cannot write \(path): \(String(cString: strerror(errno)))")
        buffer.removeAll()
        close()
        return ExitCode(2)
    }

    /// Flushes and puts the file in place: the output is complete.
    func commit() throws {
        try flush()
        guard let temporary, !closed else { return }
        // No fsync: it would cost the timed runs of docs/performance.md, and a crash is not a partial
        // write. close() still reports late errors (NFS, quotas).
        guard Glibc.close(fd) == 0 else {
            closed = true
            throw failure()
        }
        closed = true
        guard rename(temporary, target) == 0 else {
            Output.error("purser: cannot write \(path): \(String(cString: strerror(errno)))")
            unlink(temporary)
            self.temporary = nil
            throw ExitCode(2)
        }
        self.temporary = nil
    }

    /// Flushes standard output or a device; a temporary file not committed is removed.
    func close() {
        if temporary == nil { try? flush() }
        guard !closed else {
            if let temporary { unlink(temporary) }
            temporary = nil
            return
        }
        closed = true
        if fd != STDOUT_FILENO { Glibc.close(fd) }
        if let temporary { unlink(temporary) }
        temporary = nil
    }
}

/// A one-line progress indicator on standard error, for long runs on a terminal.
final class ProgressBar: @unchecked Sendable {
    // Updated from the auditor's thread only.
    private let enabled: Bool
    private var shown = false
    private let start = SystemClock().now()

    init(enabled: Bool) {
        self.enabled = enabled
    }

    func update(_ progress: AuditProgress) {
        guard enabled, progress.phase != "done" else { return }
        let seconds = Double(SystemClock().now().nanoseconds - start.nanoseconds) / 1e9
        let rate = seconds > 0 ? Int(Double(progress.records) / seconds) : 0
        let line = "\r\u{1B}[2K\(progress.phase) \(progress.records.formatted) records (\(rate.formatted)/s)"
        _ = Output.writeAll(Array(line.utf8), to: STDERR_FILENO)
        shown = true
    }

    func finish() {
        if shown { _ = Output.writeAll(Array("\r\u{1B}[2K".utf8), to: STDERR_FILENO) }
    }
}

extension Int {
    /// `1,234,567`
    var formatted: String {
        let digits = Array(String(self.magnitude))
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        return (self < 0 ? "-" : "") + out
    }
}
