#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import Purser

/// Writing results to stdout or a file, and messages to stderr.
enum Output {
    /// Writes a message line to standard error.
    static func error(_ message: String) {
        let line = message.hasSuffix("\n") ? message : message + "\n"
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
    static func write(_ bytes: [UInt8], to path: String?) throws {
        guard let path, path != "-" else {
            _ = writeAll(bytes, to: STDOUT_FILENO)
            return
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            error("purser: cannot write \(path): \(String(cString: strerror(errno)))")
            throw ExitCode(2)
        }
        defer { close(fd) }
        guard writeAll(bytes, to: fd) else {
            error("purser: cannot write \(path): \(String(cString: strerror(errno)))")
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
final class OutputWriter {
    private let fd: Int32
    private let path: String
    private var buffer: [UInt8] = []

    init(_ path: String?) throws {
        self.path = path ?? "-"
        guard let path, path != "-" else {
            fd = STDOUT_FILENO
            return
        }
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            Output.error("purser: cannot write \(path): \(String(cString: strerror(errno)))")
            throw ExitCode(2)
        }
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
        guard Output.writeAll(bytes, to: fd) else {
            Output.error("purser: cannot write \(path): \(String(cString: strerror(errno)))")
            throw ExitCode(2)
        }
    }

    func flush() throws {
        guard !buffer.isEmpty else { return }
        guard Output.writeAll(buffer, to: fd) else {
            Output.error("purser: cannot write \(path): \(String(cString: strerror(errno)))")
            throw ExitCode(2)
        }
        buffer.removeAll(keepingCapacity: true)
    }

    func close() {
        try? flush()
        if fd != STDOUT_FILENO { Glibc.close(fd) }
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
