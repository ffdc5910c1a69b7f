import ArgumentParser
import Purser
import PurserDecisionLog
import PurserPolicyCommands

/// `purser verify-log`: checks a decision log's hash chain and signed checkpoints.
struct VerifyLog: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-log",
        abstract: "Verify a decision log: its hash chain, sequence numbers and signed checkpoints.",
        discussion: """
            A decision log (docs/decision-log.md) is JSON lines, each holding the SHA-256
            of the line before it, with checkpoints signed by an Ed25519 key. This reads
            the files in the order given (a directory stands for its decisions-*.jsonl
            files, oldest first) and names the first problem as FILE:LINE: an edited,
            deleted or reordered line, a missing file, a truncated file, a checkpoint
            whose signature fails (a chain re-hashed without the key) or whose key id
            has no --public-key, and lines after the last checkpoint that nothing signs.

            Give the public key of every key id that signed the files (keys rotate:
            repeat --public-key). purser keygen makes a key pair.

            Exit codes: 0 everything verifies (one summary line); 1 a problem, printed
            as FILE:LINE: message; 2 a bad invocation or an unreadable file or key.

            Examples:
              purser keygen --key-id gw-2026-12 --out gw.key
              purser eval --decision-log decisions --decision-log-key gw.key req.jsonl
              purser verify-log --public-key gw.key.pub decisions/
              purser verify-log --public-key old.pub --public-key new.pub decisions/
              purser verify-log --public-key gw.key.pub decisions/*-2026-12-0[1-7]-*
            """
    )

    @Option(name: .customLong("public-key"),
            help: ArgumentHelp("A public key file (from purser keygen); repeat for each key id that signed.", valueName: "file"))
    var publicKeys: [String] = []

    @Argument(help: ArgumentHelp("Log files, oldest first, or directories of them.", valueName: "file"))
    var paths: [String]

    func validate() throws {
        guard !publicKeys.isEmpty else { throw ValidationError("Give the public key of the log's signer: --public-key FILE.") }
    }

    func run() throws {
        let report: DecisionLogVerification
        do throws(DecisionLogError) {
            let keys = try publicKeys.map { (path) throws(DecisionLogError) in try DecisionLogPublicKey.read(path: path) }
            var files: [String] = []
            for path in paths {
                if (try? SystemCalls.status(path: path))?.kind == .directory {
                    let found = try DecisionLogVerifier.files(in: path)
                    guard !found.isEmpty else { throw DecisionLogError("\(path) holds no decision log files (decisions-*.jsonl)") }
                    files += found
                } else {
                    files.append(path)
                }
            }
            report = try DecisionLogVerifier.verify(files: files, publicKeys: keys)
        } catch {
            Output.error("purser: \(error.message)")
            throw ExitCode(2)
        }
        for note in report.notes { Output.error("purser: note: \(note)") }
        if let problem = report.problem {
            print(TerminalText.sanitized(problem.description))
            throw ExitCode(1)
        }
        let keyIDs = report.keyIDs.isEmpty ? "no key" : "key id\(report.keyIDs.count == 1 ? "" : "s") " + report.keyIDs.joined(separator: ", ")
        let seq = report.firstSeq.map { ", seq \($0)–\($0 + Int64(report.lines) - 1)" } ?? ""
        print(TerminalText.sanitized("""
            verified: \(report.files) file\(report.files == 1 ? "" : "s"), \(report.lines.formatted) lines\(seq), \
            \(report.checkpoints.formatted) checkpoint\(report.checkpoints == 1 ? "" : "s") signed by \(keyIDs)
            """))
    }
}

/// `purser keygen`: a key pair for signing a decision log's checkpoints.
struct Keygen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make an Ed25519 key pair that signs a decision log's checkpoints.",
        discussion: """
            Writes the private key to --out (mode 0600: purser refuses a private key
            file that others can read) and the public key to the same path with .pub
            added; neither overwrites an existing file. Checkpoints name the key by its
            id, so keys can rotate: start a new key under a new id, and verify old and
            new files with both public keys (docs/decision-log.md, "Keys").

            Exit codes: 0 written; 2 a bad key id, or a file that exists or cannot be written.

            Examples:
              purser keygen --key-id gw-2026-12 --out /etc/purser/gw.key
              purser eval --decision-log decisions --decision-log-key /etc/purser/gw.key req.jsonl
              purser verify-log --public-key /etc/purser/gw.key.pub decisions/
            """
    )

    @Option(help: ArgumentHelp("The id checkpoints name the key by: 1 to 64 letters, digits, '.', '_' or '-'.", valueName: "id"))
    var keyId: String

    @Option(name: .shortAndLong, help: ArgumentHelp("The private key file to write; the public key goes to FILE.pub.", valueName: "file"))
    var out: String

    func run() throws {
        do throws(DecisionLogError) {
            let key = try DecisionLogSigningKey.generate(keyID: keyId)
            try key.publicKey.write(to: out + ".pub")
            try key.write(to: out)
        } catch {
            Output.error("purser: \(error.message)")
            throw ExitCode(2)
        }
        print(TerminalText.sanitized("key id \(keyId): private key \(out) (keep it where the log is written), public key \(out).pub (for verify-log)"))
    }
}

/// `--decision-log-format jsonl|ocsf`: ArgumentParser names the choices in `--help` and in its error.
extension DecisionLog.LineFormat: ExpressibleByArgument {}

/// `--decision-log DIR --decision-log-key FILE`: a command's decisions appended to a decision log.
struct DecisionLogOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Append every decision to a tamper-evident decision log in this directory, or - for standard output (docs/decision-log.md).",
                               valueName: "dir"))
    var decisionLog: String?

    @Option(help: ArgumentHelp("The private key that signs the decision log's checkpoints (purser keygen).", valueName: "file"))
    var decisionLogKey: String?

    @Option(help: ArgumentHelp("The lines of --decision-log -: jsonl, or ocsf (each line an OCSF API Activity event carrying the chained line; purser verify-log reads both).",
                               valueName: "format"))
    var decisionLogFormat: DecisionLog.LineFormat = .jsonLines

    func validate() throws {
        guard (decisionLog == nil) == (decisionLogKey == nil) else {
            throw ValidationError("--decision-log and --decision-log-key go together.")
        }
        guard decisionLogFormat == .jsonLines || decisionLog == "-" else {
            throw ValidationError("--decision-log-format ocsf writes to standard output only (--decision-log -); a log directory holds JSON lines")
        }
    }

    /// The log, opened; nil without --decision-log.
    func open(event: String, time: Timestamp?) throws -> DecisionRecorder? {
        try openLog(time: time).map { DecisionRecorder(log: $0, event: event, time: time) }
    }

    /// The log itself (`-` is standard output), or exit 2 with the reason; nil without --decision-log.
    func openLog(time: Timestamp? = nil) throws -> DecisionLog? {
        guard let decisionLog, let decisionLogKey else { return nil }
        do throws(DecisionLogError) {
            let key = try DecisionLogSigningKey.read(path: decisionLogKey)
            // With --now, the lines the log writes itself (its closing checkpoint) carry that time too.
            let options = DecisionLog.Options(clock: time.map { ManualClock($0) } ?? SystemClock(),
                                              format: decisionLogFormat)
            return decisionLog == "-" ? try DecisionLog(standardOutput: key, options: options)
                                      : try DecisionLog(directory: decisionLog, key: key, options: options)
        } catch {
            Output.error("purser: \(error.message)")
            throw ExitCode(2)
        }
    }
}

/// Appends a command's JSON-lines output to a decision log, one event per line.
struct DecisionRecorder {
    let log: DecisionLog
    /// The event of a decision line; a line that reports a malformed request is `invalid-request`.
    let event: String
    /// The time of every line (`--now`), else the clock's.
    let time: Timestamp?

    /// Appends each line of `bytes` (whole lines, each ending with a line feed).
    func record(_ bytes: UnsafeBufferPointer<UInt8>) throws {
        var start = 0
        let errorPrefix = Array(#"{"error":"#.utf8)
        do throws(DecisionLogError) {
            while start < bytes.count {
                let end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.count
                let line = Array(bytes[start..<end])
                if !line.isEmpty {
                    try log.append(event: line.starts(with: errorPrefix) ? "invalid-request" : event,
                                   time: time ?? SystemClock().now(), payload: line)
                }
                start = end + 1
            }
        } catch {
            Output.error("purser: \(error.message)")
            throw ExitCode(2)
        }
    }

    /// Appends each line of `bytes`.
    func record(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBufferPointer { buffer in try record(buffer) }
    }

    /// Signs the closing checkpoint and closes the log.
    func close() throws {
        do throws(DecisionLogError) {
            try log.close()
        } catch {
            Output.error("purser: \(error.message)")
            throw ExitCode(2)
        }
    }
}
