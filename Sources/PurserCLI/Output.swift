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
        bytes.withUnsafeBufferPointer { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += written
            }
            return true
        }
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
