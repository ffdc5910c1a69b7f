#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Testing

/// Runs the built `purser` executable as a child process, the way a user or
/// CI does, with a hard time limit so that a hang fails a test instead of
/// stalling the suite.
enum Purser {
    /// What one run produced.
    struct Result: Sendable {
        /// Everything written to standard output.
        let stdout: String
        /// Everything written to standard error.
        let stderr: String
        /// The exit status, or the signal number when the process was killed by one.
        let status: Int32
        /// Whether the process ended by a signal (a crash) rather than exiting.
        let signalled: Bool
        /// Whether it was still running at the time limit (and was killed).
        let timedOut: Bool
        /// Wall-clock seconds from launch to exit.
        let seconds: Double

        /// Standard output split into lines, without the final empty one.
        var lines: [Substring] { stdout.split(separator: "\n", omittingEmptySubsequences: true) }
    }

    /// The time limit of one run: a run that takes longer is a hang.
    static let timeLimit: Double = 30

    /// The `purser` executable: next to the running test binary (the build's
    /// products directory, whatever the scratch path), else the package's
    /// `.build/debug/purser`, found from this file's path.
    static let executable: String = {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("purser").path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            let candidate = URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("purser").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return packageRoot + "/.build/debug/purser"
    }()

    /// The package root, found from this file's path.
    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// Runs `purser` with arguments in a working directory and waits for it,
    /// at most ``timeLimit`` seconds. Output goes to files, never pipes, so a
    /// large report cannot block the child.
    static func run(_ arguments: [String], in directory: String) throws -> Result {
        try run(arguments, in: directory, executable: executable)
    }

    /// Runs any program (`/bin/bash -c …` for pipes and FIFOs) the same way, with extra
    /// environment variables.
    static func run(_ arguments: [String], in directory: String, executable: String,
                    environment extra: [String: String] = [:], timeLimit limit: Double = Purser.timeLimit) throws -> Result {
        let capture = try TemporaryDirectory()
        defer { capture.remove() }
        let outPath = capture.path + "/stdout"
        let errPath = capture.path + "/stderr"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        guard let out = FileHandle(forWritingAtPath: outPath), let err = FileHandle(forWritingAtPath: errPath) else {
            throw CocoaError(.fileWriteUnknown)
        }
        defer {
            try? out.close()
            try? err.close()
        }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err
        // Crashes should end the child at once, not wait for a backtracer.
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_BACKTRACE"] = "enable=no"
        environment.merge(extra) { _, new in new }
        process.environment = environment

        let start = Date()
        try process.run()
        var timedOut = false
        while process.isRunning {
            if Date().timeIntervalSince(start) > limit {
                timedOut = true
                process.terminate()
                usleep(200_000)
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                break
            }
            usleep(5_000)
        }
        process.waitUntilExit()
        let seconds = Date().timeIntervalSince(start)
        return Result(
            stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "",
            status: process.terminationStatus,
            signalled: process.terminationReason == .uncaughtSignal,
            timedOut: timedOut,
            seconds: seconds)
    }
}

/// A fresh temporary directory for one test; `remove()` deletes it.
struct TemporaryDirectory {
    /// The directory's absolute path.
    let path: String

    /// Creates an empty directory under the system's temporary directory.
    init() throws {
        path = NSTemporaryDirectory() + "purser-cli-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// Writes text to a file relative to the directory, creating parent directories.
    func write(_ relative: String, _ text: String) throws {
        try write(relative, bytes: Array(text.utf8))
    }

    /// Writes bytes to a file relative to the directory, creating parent directories.
    func write(_ relative: String, bytes: [UInt8]) throws {
        let url = URL(fileURLWithPath: path + "/" + relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
    }

    /// Creates a directory relative to this one.
    func makeDirectory(_ relative: String) throws {
        try FileManager.default.createDirectory(atPath: path + "/" + relative, withIntermediateDirectories: true)
    }

    /// Creates a symbolic link at `relative` pointing at `target` (as written, not resolved).
    func symlink(_ relative: String, to target: String) throws {
        try FileManager.default.createSymbolicLink(atPath: path + "/" + relative, withDestinationPath: target)
    }

    /// Creates a FIFO (named pipe) at `relative`.
    func fifo(_ relative: String) throws {
        guard mkfifo(path + "/" + relative, 0o644) == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
    }

    /// Deletes the directory and everything in it.
    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
