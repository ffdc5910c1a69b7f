import PurserCore

/// The first thing wrong with a decision log: the file, the line (from 1), and what.
public struct DecisionLogProblem: Sendable, Hashable, CustomStringConvertible {
    /// The file, as it was given.
    public let file: String
    /// The line, from 1.
    public let line: Int
    /// What is wrong, and what it suggests happened.
    public let message: String

    /// `decisions-2026-12-07-0001.jsonl:12: …`.
    public var description: String { "\(file):\(line): \(message)" }
}

/// What ``DecisionLogVerifier`` found: counts, and the first problem if there is one.
public struct DecisionLogVerification: Sendable {
    /// Files read.
    public let files: Int
    /// Whole lines read, checkpoints included.
    public let lines: Int
    /// Checkpoints whose signatures verified.
    public let checkpoints: Int
    /// The key ids that signed them, sorted.
    public let keyIDs: [String]
    /// The `seq` of the first line read, nil when there was none.
    public let firstSeq: Int64?
    /// What is worth knowing that is not a problem: a restart after an unfinished file, a
    /// chain that starts before the first file given.
    public let notes: [String]
    /// The first problem, nil when everything verified.
    public let problem: DecisionLogProblem?

    /// Whether everything verified.
    public var isVerified: Bool { problem == nil }
}

/// Checks a decision log's files: the hash chain line by line and across files, the
/// sequence numbers, every checkpoint's signature, and that every line is signed
/// (docs/decision-log.md, "Verifying").
public enum DecisionLogVerifier {
    /// Verifies `files`, in the order given (oldest first), against the public keys of every
    /// key id that may have signed them. Throws only for keys given twice and files that
    /// cannot be read; tampering is the report's ``DecisionLogVerification/problem``.
    public static func verify(files: [String], publicKeys: [DecisionLogPublicKey]) throws(DecisionLogError) -> DecisionLogVerification {
        var keys: [String: DecisionLogPublicKey] = [:]
        for key in publicKeys {
            if let other = keys[key.keyID], other.bytes != key.bytes {
                throw DecisionLogError("two different public keys have the key id \(key.keyID)")
            }
            keys[key.keyID] = key
        }
        var check = ChainCheck(keys: keys, requireKnownKeys: true)
        for file in files {
            _ = try check.read(file: file)
            if check.problem != nil { break }
        }
        let problem = check.problem ?? check.endOfChain()
        return DecisionLogVerification(files: files.count, lines: check.lines, checkpoints: check.checkpoints,
                                       keyIDs: check.keyIDs.sorted(), firstSeq: check.firstSeq, notes: check.notes, problem: problem)
    }

    /// The paths of a log directory's files (`decisions-*.jsonl`), oldest first: what to verify.
    public static func files(in directory: String) throws(DecisionLogError) -> [String] {
        let base = directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        return try DecisionLogFormat.logFiles(in: base).map { base + "/" + $0.name }
    }
}

/// The walk over a chain's lines that the verifier and a writer reopening its directory share.
struct ChainCheck {
    /// A place in the files.
    struct Location {
        let file: String
        let line: Int
    }

    /// A file that ended without its closing checkpoint, judged when the next file starts.
    struct Unfinished {
        let at: Location
        /// Bytes of a partial last line; 0 when the file ends with a whole line.
        let partialBytes: Int
    }

    /// A line whose seq skipped ahead, judged at the next line (missing lines, or two swapped).
    struct Gap {
        let at: Location
        let seq: Int64
        let expected: Int64
    }

    /// What a file held.
    struct FileEnd {
        let wholeLines: Int
        let partialBytes: Int
        let bytes: Int64
    }

    /// The longest line read: a file with more bytes than this and no line feed (a device, a
    /// file that is not a log) is refused rather than held in memory.
    static let maxLineBytes = 64 << 20

    let keys: [String: DecisionLogPublicKey]
    /// Whether a checkpoint by a key id not in `keys` is a problem (the verifier) or is let
    /// through unchecked (a writer reopening its log, which has only its own key).
    let requireKnownKeys: Bool

    private(set) var problem: DecisionLogProblem?
    private(set) var notes: [String] = []
    private(set) var lines = 0
    private(set) var checkpoints = 0
    private(set) var keyIDs = Set<String>()
    private(set) var firstSeq: Int64?
    /// The seq the next line must have; nil before the first line.
    private(set) var expectedSeq: Int64?
    /// The hash of the last whole line.
    private(set) var lastHash: String?
    /// Lines of the current file since its last checkpoint (or its start).
    private(set) var sinceCheckpoint: Int64 = 0
    private(set) var lastWasCheckpoint = false
    private var lastLine: Location?
    private var lastCheckpoint: (at: Location, seq: Int64)?
    private var firstUnsigned: Location?
    private var unsignedLines = 0
    private(set) var unfinished: Unfinished?
    private var gap: Gap?

    init(keys: [String: DecisionLogPublicKey], requireKnownKeys: Bool) {
        self.keys = keys
        self.requireKnownKeys = requireKnownKeys
    }

    /// Reads a file's lines into the check, stopping at the first problem.
    mutating func read(file: String) throws(DecisionLogError) -> FileEnd {
        let fd: Int32
        do throws(SystemError) {
            fd = try SystemCalls.open(file)
        } catch {
            throw DecisionLogError("cannot read \(file): \(error.message)")
        }
        defer { try? SystemCalls.close(fd) }
        sinceCheckpoint = 0
        var pending: [UInt8] = []
        var number = 0
        var total: Int64 = 0
        var atEnd = false
        while !atEnd, problem == nil {
            let chunk: [UInt8]
            do throws(SystemError) {
                chunk = try SystemCalls.read(fd, upTo: 1 << 20)
            } catch {
                throw DecisionLogError("cannot read \(file): \(error.message)")
            }
            atEnd = chunk.isEmpty
            total += Int64(chunk.count)
            pending.append(contentsOf: chunk)
            var start = 0
            while problem == nil, let newline = pending[start...].firstIndex(of: 0x0A) {
                number += 1
                pending.withUnsafeBufferPointer { buffer in
                    check(UnsafeBufferPointer(rebasing: buffer[start..<newline]), at: Location(file: file, line: number))
                }
                start = newline + 1
            }
            pending.removeFirst(start)
            if pending.count > Self.maxLineBytes {
                fail(Location(file: file, line: number + 1), "a line longer than \(Self.maxLineBytes >> 20) MiB: not a decision log line")
            }
        }
        let end = FileEnd(wholeLines: number, partialBytes: pending.count, bytes: total)
        guard problem == nil else { return end }
        if end.partialBytes > 0 {
            unfinished = Unfinished(at: Location(file: file, line: number + 1), partialBytes: end.partialBytes)
        } else if number > 0, !lastWasCheckpoint {
            unfinished = Unfinished(at: Location(file: file, line: number), partialBytes: 0)
        }
        return end
    }

    /// The problem at the end of the last file, if any: lines not yet judged, or not signed.
    mutating func endOfChain() -> DecisionLogProblem? {
        if let gap { return missing(gap) }
        guard let unfinished else { return nil }
        let through = lastCheckpoint.map { "the chain verifies through seq \($0.seq) (the checkpoint at \($0.at.file):\($0.at.line))" }
            ?? "no checkpoint signs any line"
        let unsigned = unsignedLines == 0 ? "" : "; the last \(unsignedLines) line\(unsignedLines == 1 ? "" : "s") after it \(unsignedLines == 1 ? "is" : "are") not signed"
        if unfinished.partialBytes > 0 {
            return DecisionLogProblem(file: unfinished.at.file, line: unfinished.at.line, message: """
                the last line is incomplete (\(unfinished.partialBytes) bytes without a line feed): \(through)\(unsigned) \
                (the writer was killed mid-write, or the file was truncated)
                """)
        }
        let at = firstUnsigned ?? unfinished.at
        return DecisionLogProblem(file: at.file, line: at.line, message: """
            \(through)\(unsigned) (the writer was killed or is still writing, or the closing checkpoint was removed)
            """)
    }

    /// A seq skip at the last line read, which no later line explained.
    var pendingGap: DecisionLogProblem? { gap.map(missing) }

    /// Records the first problem.
    private mutating func fail(_ at: Location, _ message: String) {
        if problem == nil { problem = DecisionLogProblem(file: at.file, line: at.line, message: message) }
    }

    /// The problem of a seq that skipped ahead with no line after it to explain it.
    private func missing(_ gap: Gap) -> DecisionLogProblem {
        let count = gap.seq - gap.expected
        return DecisionLogProblem(file: gap.at.file, line: gap.at.line, message: """
            seq \(gap.seq) where \(gap.expected) was expected: \(count) line\(count == 1 ? " is" : "s are") missing before this one (deleted)
            """)
    }

    /// Checks one whole line (without its newline).
    private mutating func check(_ bytes: UnsafeBufferPointer<UInt8>, at: Location) {
        // An OCSF event of `--decision-log-format ocsf`: the chained line is its raw_data.
        if let inner = DecisionLogOCSF.unwrap(bytes) {
            // Its other fields are a view of that line: rebuilt from it, they must be the same bytes.
            guard DecisionLogOCSF.wrap(inner).elementsEqual(bytes) else {
                return fail(at, "the OCSF event's fields do not match the line in its raw_data: it was changed after it was written")
            }
            return inner.withUnsafeBufferPointer { check($0, at: at) }
        }
        let parsed: DecisionLogLine
        do throws(JSONError) {
            parsed = try DecisionLogLine.parse(bytes)
        } catch {
            if let gap { problem = missing(gap); return }
            return fail(at, "not a decision log line: \(error.message) (at byte \(error.offset + 1))")
        }
        if let pending = gap {
            // The line after a skip: the skipped line here means the two were swapped.
            problem = parsed.seq == pending.expected
                ? DecisionLogProblem(file: pending.at.file, line: pending.at.line, message: """
                    seq \(pending.seq) comes before seq \(pending.expected) (\(at.file):\(at.line)): the lines are out of order
                    """)
                : missing(pending)
            return
        }
        if at.line == 1, let unfinished {
            // A file that ended unfinished must be followed by the writer's restart line naming it.
            let name = unfinished.at.file.split(separator: "/").last.map(String.init) ?? unfinished.at.file
            guard parsed.event == DecisionLogFormat.restartEvent, parsed.restartFile == name else {
                return fail(unfinished.at, unfinished.partialBytes > 0
                    ? "the last line is incomplete (\(unfinished.partialBytes) bytes without a line feed), and \(at.file) does not start with the writer's restart line naming \(name)"
                    : "the file ends without a closing checkpoint, and \(at.file) does not start with the writer's restart line naming \(name) (the checkpoint was removed?)")
            }
            notes.append("\(at.file):1: the writer restarted after \(unfinished.at.file) ended unfinished"
                         + (unfinished.partialBytes > 0 ? " (\(unfinished.partialBytes) bytes of a partial line left behind)" : ""))
            self.unfinished = nil
        }
        if let expected = expectedSeq {
            if parsed.seq > expected, at.line == 1, let lastLine {
                let count = parsed.seq - expected
                return fail(at, """
                    seq \(parsed.seq) where \(expected) was expected after \(lastLine.file): \(count) line\(count == 1 ? " is" : "s are") \
                    missing between the two files (a deleted file?)
                    """)
            }
            if parsed.seq > expected {
                gap = Gap(at: at, seq: parsed.seq, expected: expected)
                return
            }
            if parsed.seq < expected {
                return fail(at, "seq \(parsed.seq) where \(expected) was expected: the line is repeated or out of order")
            }
            if parsed.prev != lastHash, let lastLine {
                return fail(lastLine, """
                    the line does not hash to the prev of the line after it (\(at.file):\(at.line)): it was changed after it \
                    was written (or that line's prev was)
                    """)
            }
        } else {
            firstSeq = parsed.seq
            if parsed.prev == DecisionLogFormat.zeroHash {
                guard parsed.seq == 1 else { return fail(at, "the chain's first line (prev all zeros) has seq \(parsed.seq), not 1") }
            } else {
                notes.append("\(at.file):\(at.line): the chain starts before the files given (at seq \(parsed.seq)); its first line's prev is not checked")
            }
        }
        if let checkpoint = parsed.checkpoint {
            if let key = keys[checkpoint.keyID] {
                let signed = DecisionLogFormat.signaturePrefix + UnsafeBufferPointer(rebasing: bytes[..<checkpoint.bodyCount])
                guard key.isValidSignature(checkpoint.signature, for: signed) else {
                    return fail(at, """
                        the checkpoint's signature does not verify with key \(checkpoint.keyID): the lines before it were changed \
                        and the chain re-hashed, or another key signed it
                        """)
                }
                keyIDs.insert(checkpoint.keyID)
            } else if requireKnownKeys {
                let given = keys.keys.sorted().joined(separator: ", ")
                return fail(at, "the checkpoint is signed by key id \(checkpoint.keyID), and no public key with that id was given"
                            + (given.isEmpty ? " (none was)" : " (given: \(given))"))
            }
            guard checkpoint.lines == sinceCheckpoint else {
                return fail(at, "the checkpoint says it covers \(checkpoint.lines) lines, but \(sinceCheckpoint) follow the file's previous checkpoint or start")
            }
            checkpoints += 1
            sinceCheckpoint = 0
            lastCheckpoint = (at, parsed.seq)
            firstUnsigned = nil
            unsignedLines = 0
        } else {
            sinceCheckpoint += 1
            if firstUnsigned == nil { firstUnsigned = at }
            unsignedLines += 1
        }
        expectedSeq = parsed.seq + 1
        lastHash = DecisionLogFormat.hash(bytes)
        lastLine = at
        lastWasCheckpoint = parsed.isCheckpoint
        lines += 1
    }
}
