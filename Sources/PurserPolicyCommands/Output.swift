import ArgumentParser
import Purser

/// Writing results to stdout or a file, and messages to stderr.
package enum Output {
    /// Writes a message line to standard error, with terminal escapes and other control
    /// characters (from policy names, logs, file names) replaced (``TerminalText``).
    package static func error(_ message: String) {
        let safe = TerminalText.sanitized(message, keepingNewlines: true)
        let line = safe.hasSuffix("\n") ? safe : safe + "\n"
        try? SystemCalls.writeAll(SystemCalls.standardError, Array(line.utf8))
    }

    /// Writes text to `path`, or to standard output when path is nil or `-`.
    package static func write(_ text: String, to path: String?) throws {
        try write(Array(text.utf8), to: path)
    }

    /// Writes bytes to `path`, or to standard output when path is nil or `-`.
    ///
    /// A file is written whole or not at all: into a temporary file beside it, renamed over it at the end.
    package static func write(_ bytes: [UInt8], to path: String?) throws {
        let writer = try OutputWriter(path)
        defer { writer.close() }
        try writer.write(bytes)
        try writer.commit()
    }

    /// Refuses an output file that is one of the inputs (the same device and inode, so also
    /// through symlinks and hard links): `-o` must never truncate what is being read.
    package static func refuseOverwriting(_ output: String?, inputs: [String]) throws {
        let identities = inputs.compactMap { input -> (name: String, device: UInt64, inode: UInt64)? in
            guard input != "-", let info = try? SystemCalls.status(path: input) else { return nil }
            return (input, info.device, info.inode)
        }
        try refuseOverwriting(output, identities: identities)
    }

    /// Refuses an output whose device and inode are one input's.
    package static func refuseOverwriting(_ output: String?, identities: [(name: String, device: UInt64, inode: UInt64)]) throws {
        guard let output, output != "-" else { return }
        guard let target = try? SystemCalls.status(path: output), target.kind == .regular else { return }
        for input in identities where input.device == target.device && input.inode == target.inode {
            let same = input.name == output ? "" : " (the same file as \(input.name))"
            error("purser: refusing to write to \(output): it is one of the inputs\(same); choose another -o file")
            throw ExitCode(2)
        }
    }

    /// Whether standard output is a terminal.
    package static var stdoutIsTerminal: Bool { SystemCalls.isTerminal(SystemCalls.standardOutput) }

    /// The width of the terminal on standard output, else `$COLUMNS`, else 120.
    package static var terminalWidth: Int {
        if let columns = SystemCalls.terminalColumns(SystemCalls.standardOutput) { return columns }
        if let columns = SystemCalls.environment("COLUMNS").flatMap({ Int($0) }), columns > 0 { return columns }
        return 120
    }

    /// Whether standard error is a terminal.
    package static var stderrIsTerminal: Bool { SystemCalls.isTerminal(SystemCalls.standardError) }
}

extension CheckReport.Format: ExpressibleByArgument {}

/// Parses `--now` values: RFC 3339 times or dates.
package struct NowOption: ExpressibleByArgument {
    package let timestamp: Timestamp

    package init?(argument: String) {
        if let timestamp = Timestamp(rfc3339: argument) {
            self.timestamp = timestamp
        } else if let timestamp = Timestamp(rfc3339: argument + "T00:00:00Z") {
            self.timestamp = timestamp
        } else {
            return nil
        }
    }
}

/// A buffered writer to a file or standard output.
///
/// A regular file is written atomically: into a temporary file in the same directory, which
/// ``commit()`` renames over the target; ``close()`` without a commit (a failed write, a full
/// disk, an error) removes it and leaves the target as it was. Devices and FIFOs
/// (`/dev/stdout`, `/dev/null`) are written directly.
package final class OutputWriter {
    private let fd: Int32
    private let path: String
    /// The temporary file being written, renamed to `target` on commit.
    private var temporary: String?
    /// The file the temporary one replaces (the symlink's target when `path` is a symlink).
    private let target: String
    private var buffer: [UInt8] = []
    private var closed = false

    package init(_ path: String?) throws {
        self.path = path ?? "-"
        guard let path, path != "-" else {
            fd = SystemCalls.standardOutput
            target = "-"
            return
        }
        let info = try? SystemCalls.status(path: path)
        if let info, info.kind != .regular {
            // A device, a FIFO or a directory: opened as it is (a directory fails with a clear message).
            target = path
            do throws(SystemError) {
                fd = try SystemCalls.open(path, .writing)
            } catch {
                Output.error("purser: cannot write \(path): \(error.message)")
                throw ExitCode(2)
            }
            return
        }
        // Through a symlink, the file it points to is replaced, not the link.
        let resolved = info != nil ? (SystemCalls.realPath(path).map { String(decoding: $0, as: UTF8.self) } ?? path) : path
        target = resolved
        let directory = resolved.lastIndex(of: "/").map { String(resolved[...$0]) } ?? ""
        let name = resolved.split(separator: "/").last.map(String.init) ?? "output"
        do throws(SystemError) {
            let created = try SystemCalls.makeTemporaryFile("\(directory).\(name.prefix(64)).purser-XXXXXX")
            fd = created.fd
            temporary = String(decoding: created.path, as: UTF8.self)
        } catch {
            Output.error("purser: cannot write \(path): \(error.message)")
            throw ExitCode(2)
        }
        // The mode a new file would get (0644 less the umask), or the replaced file's.
        try? SystemCalls.setPermissions(fd, info?.permissions ?? 0o644 & ~SystemCalls.creationMask)
    }

    deinit {
        close()
    }

    /// The descriptor of the temporary file being written, when the output is a regular file and
    /// nothing is buffered: a caller may write it directly (with `pwrite` or at its offset) before
    /// ``commit()``. Nil for standard output, devices and FIFOs.
    package var regularFile: Int32? {
        guard temporary != nil, !closed, buffer.isEmpty else { return nil }
        return fd
    }

    package func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBufferPointer { try write($0) }
    }

    /// Writes bytes; a large block goes straight to the file after what is buffered (no copy).
    package func write(_ bytes: UnsafeBufferPointer<UInt8>) throws {
        guard bytes.count >= 1 << 16 else {
            buffer.append(contentsOf: bytes)
            if buffer.count >= 1 << 20 { try flush() }
            return
        }
        try flush()
        do throws(SystemError) { try SystemCalls.writeAll(fd, bytes) } catch { throw failure(error) }
    }

    package func flush() throws {
        guard !buffer.isEmpty else { return }
        do throws(SystemError) { try SystemCalls.writeAll(fd, buffer) } catch { throw failure(error) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Reports a failed write and removes the temporary file.
    private func failure(_ error: SystemError) -> ExitCode {
        Output.error("purser: cannot write \(path): \(error.message)")
        buffer.removeAll()
        close()
        return ExitCode(2)
    }

    /// Flushes and puts the file in place: the output is complete.
    package func commit() throws {
        try flush()
        guard let temporary, !closed else { return }
        // No fsync: it would cost the timed runs of docs/performance.md, and a crash is not a partial
        // write. close() still reports late errors (NFS, quotas).
        closed = true
        do throws(SystemError) { try SystemCalls.close(fd) } catch { throw failure(error) }
        do throws(SystemError) {
            try SystemCalls.rename(temporary, to: target)
        } catch {
            Output.error("purser: cannot write \(path): \(error.message)")
            try? SystemCalls.unlink(temporary)
            self.temporary = nil
            throw ExitCode(2)
        }
        self.temporary = nil
    }

    /// Flushes standard output or a device; a temporary file not committed is removed.
    package func close() {
        if temporary == nil { try? flush() }
        guard !closed else {
            if let temporary { try? SystemCalls.unlink(temporary) }
            temporary = nil
            return
        }
        closed = true
        if fd != SystemCalls.standardOutput { try? SystemCalls.close(fd) }
        if let temporary { try? SystemCalls.unlink(temporary) }
        temporary = nil
    }
}
