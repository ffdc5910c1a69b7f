import PurserAudit
import PurserPolicyCommands
import ArgumentParser
import Purser

extension Output {
    /// Refuses an output that is one of the opened logs (a file found in a directory counts too).
    static func refuseOverwriting(_ output: String?, sources: [LogSource]) throws {
        try refuseOverwriting(output, identities: sources.map { ($0.name, $0.identity.device, $0.identity.inode) })
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
            fd = SystemCalls.standardInput
            return
        }
        do throws(SystemError) {
            fd = try SystemCalls.open(path)
        } catch {
            Output.error("purser: cannot read \(path): \(error.message)")
            throw ExitCode(2)
        }
    }

    deinit {
        if fd != SystemCalls.standardInput { try? SystemCalls.close(fd) }
    }

    /// Up to `count` bytes; fewer only at the end of the input.
    func read(_ count: Int) throws -> [UInt8] {
        guard !isAtEnd else { return [] }
        do throws(SystemError) {
            let result = try SystemCalls.read(fd, upTo: count)
            if result.count < count { isAtEnd = true }
            return result
        } catch {
            Output.error("purser: cannot read \(path): \(error.message)")
            throw ExitCode(2)
        }
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

/// A one-line progress indicator on standard error, for long runs on a terminal.
final class ProgressBar: @unchecked Sendable {
    // `@unchecked` for `shown`: updated from the auditor's thread only (`updater` checks that no
    // two threads do at once, in debug builds).
    private let enabled: Bool
    private var shown = false
    private let updater = ThreadOwner()
    private let start = SystemClock().now()

    init(enabled: Bool) {
        self.enabled = enabled
    }

    func update(_ progress: AuditProgress) {
        let use = updater.enter()
        defer { updater.exit(use) }
        guard enabled, progress.phase != "done" else { return }
        let seconds = Double(SystemClock().now().nanoseconds - start.nanoseconds) / 1e9
        let rate = seconds > 0 ? Int(Double(progress.records) / seconds) : 0
        let line = "\r\u{1B}[2K\(progress.phase) \(progress.records.formatted) records (\(rate.formatted)/s)"
        try? SystemCalls.writeAll(SystemCalls.standardError, Array(line.utf8))
        shown = true
    }

    func finish() {
        let use = updater.enter()
        defer { updater.exit(use) }
        if shown { try? SystemCalls.writeAll(SystemCalls.standardError, Array("\r\u{1B}[2K".utf8)) }
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
