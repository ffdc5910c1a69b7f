import Purser
import PurserCore
import Synchronization

/// A tamper-evident, append-only log of decisions: JSON lines chained by SHA-256, with
/// Ed25519-signed checkpoints (docs/decision-log.md).
///
/// Thread-safe: appends from many tasks are put in one order under a mutex, each line
/// carrying the next `seq` and the hash of the line before it. Lines are buffered; the buffer
/// is written at every checkpoint, when it passes ``Options/bufferBytes``, on ``flush()`` and
/// on ``close()``. A process killed with `kill -9` loses the buffered tail and nothing else:
/// call ``flush()`` on a timer (every second) to bound it.
///
/// After a write fails (a full disk) the file is cut back to its last whole line and the log
/// takes nothing more: every later call throws the same error. Reopening the directory
/// continues the chain.
public final class DecisionLog: Sendable {
    /// How files are cut and how often checkpoints are signed.
    public struct Options: Sendable {
        /// The largest file; a line that would pass it starts a new file (at least 4096).
        public var maxFileBytes: Int
        /// Lines between two checkpoints (at least 1).
        public var checkpointEvery: Int
        /// Buffered bytes past which an append writes the buffer.
        public var bufferBytes: Int
        /// Whether every checkpoint waits for the disk (`fsync`), so that a power loss keeps
        /// every signed line; closing and rotating always do.
        public var synchronizeAtCheckpoints: Bool
        /// The clock of the lines the log writes itself (the closing checkpoint, a restart).
        public var clock: any PurserClock
        /// How each line is written (OCSF on standard output only).
        public var format: LineFormat

        /// Creates options.
        public init(maxFileBytes: Int = 64 << 20, checkpointEvery: Int = 1000, bufferBytes: Int = 64 << 10,
                    synchronizeAtCheckpoints: Bool = true, clock: any PurserClock = SystemClock(), format: LineFormat = .jsonLines) {
            self.maxFileBytes = maxFileBytes
            self.checkpointEvery = checkpointEvery
            self.bufferBytes = bufferBytes
            self.synchronizeAtCheckpoints = synchronizeAtCheckpoints
            self.clock = clock
            self.format = format
        }
    }

    /// How the lines of the chain are written.
    public enum LineFormat: String, Sendable, CaseIterable {
        /// The chained JSON lines themselves.
        case jsonLines = "jsonl"
        /// Each chained line wrapped in an OCSF 1.8.0 API Activity event, as its `raw_data`
        /// (docs/decision-log.md, "OCSF"); `purser verify-log` reads both.
        case ocsf
    }

    private let state: Mutex<DecisionLogWriter>

    /// Opens a log directory (creating it when missing) and continues its chain from the newest
    /// file. A newest file that ends unfinished (a crash) is left as it is: the log starts a new
    /// file with a `restart` line that names it. Throws when the newest file's chain is broken,
    /// or another process is writing the directory.
    public init(directory: String, key: DecisionLogSigningKey, options: Options = Options()) throws(DecisionLogError) {
        guard options.format == .jsonLines else {
            throw DecisionLogError("a decision log directory holds JSON lines; OCSF goes to standard output only (--decision-log -)")
        }
        state = Mutex(try DecisionLogWriter(directory: directory, key: key, options: try Self.checked(options)))
    }

    /// A log written to standard output as JSON lines, for a collector: one chain from seq 1,
    /// with checkpoints when there is a key; never rotated.
    public convenience init(standardOutput key: DecisionLogSigningKey?, options: Options = Options()) throws(DecisionLogError) {
        try self.init(descriptor: SystemCalls.standardOutput, key: key, options: options)
    }

    /// A log written to an open descriptor that it does not close (standard output; a test's `/dev/full`).
    init(descriptor: Int32, key: DecisionLogSigningKey?, options: Options) throws(DecisionLogError) {
        state = Mutex(DecisionLogWriter(descriptor: descriptor, key: key, options: try Self.checked(options)))
    }

    deinit {
        // Best effort for a log that was not closed: write what is buffered (no checkpoint).
        state.withLock { writer in writer.abandon() }
    }

    /// Appends one event: `payload` is the bytes of one compact JSON object (its `data`).
    /// `event` is 1 to 64 lowercase letters, digits, `_`, `.` or `-` (`authorize`, `settle`);
    /// `checkpoint` and `restart` are the log's own.
    public func append(event: String, time: Timestamp, payload: [UInt8]) throws(DecisionLogError) {
        try state.withLock { (writer: inout DecisionLogWriter) throws(DecisionLogError) in
            try writer.append(event: event, time: time, payload: payload)
        }
    }

    /// Writes the buffered lines to the file (not waiting for the disk).
    public func flush() throws(DecisionLogError) {
        try state.withLock { (writer: inout DecisionLogWriter) throws(DecisionLogError) in try writer.flush(synchronize: false) }
    }

    /// Signs a closing checkpoint, writes and `fsync`s the file, and closes it. Later calls
    /// throw; closing again does nothing.
    public func close() throws(DecisionLogError) {
        try state.withLock { (writer: inout DecisionLogWriter) throws(DecisionLogError) in try writer.close() }
    }

    /// The file being written (nil for standard output, or before the first line).
    public var currentFile: String? {
        state.withLock { writer in writer.currentPath }
    }

    /// Refuses options that cannot work.
    private static func checked(_ options: Options) throws(DecisionLogError) -> Options {
        guard options.maxFileBytes >= 4096 else { throw DecisionLogError("maxFileBytes must be at least 4096, not \(options.maxFileBytes)") }
        guard options.checkpointEvery >= 1 else { throw DecisionLogError("checkpointEvery must be at least 1, not \(options.checkpointEvery)") }
        return options
    }
}

/// The log's state, which ``DecisionLog`` keeps behind its mutex.
struct DecisionLogWriter: ~Copyable {
    private let key: DecisionLogSigningKey?
    private let options: DecisionLog.Options
    /// The directory; nil when writing to standard output.
    private let directory: String?
    /// The directory's lock file, held while the log is open.
    private var lockFD: Int32?

    private var fd: Int32?
    private var fileName: String?
    /// The day and number of the newest file name in the directory (the current file's, once there is one).
    private var fileDay: CivilDate?
    private var fileNumber = 0
    /// The current file's bytes, buffered ones included.
    private var fileBytes: Int64 = 0
    /// Its bytes on the file: a failed write is cut back to this.
    private var writtenBytes: Int64 = 0
    private var buffer: [UInt8] = []

    private var nextSeq: Int64 = 1
    private var prev = DecisionLogFormat.zeroHash
    /// Lines of the current file since its last checkpoint.
    private var sinceCheckpoint: Int64 = 0
    /// Lines of the current file.
    private var fileLines = 0
    private var lastWasCheckpoint = false
    private var failure: DecisionLogError?
    private var closed = false

    /// The lock file's name inside the directory.
    static let lockName = ".decisions.lock"

    /// A log written to an open descriptor (standard output).
    init(descriptor: Int32, key: DecisionLogSigningKey?, options: DecisionLog.Options) {
        self.key = key
        self.options = options
        directory = nil
        fd = descriptor
    }

    /// A log in a directory, continuing the chain of its newest file.
    init(directory: String, key: DecisionLogSigningKey, options: DecisionLog.Options) throws(DecisionLogError) {
        self.key = key
        self.options = options
        self.directory = directory
        do throws(SystemError) {
            try SystemCalls.makeDirectory(directory, permissions: 0o750)
        } catch where error.isAlreadyExisting {
        } catch {
            throw DecisionLogError("cannot create the decision log directory \(directory): \(error.message)")
        }
        let lock: Int32
        let locked: Bool
        do throws(SystemError) {
            lock = try SystemCalls.open(directory + "/" + Self.lockName, .appending, permissions: 0o600)
            locked = try SystemCalls.tryLock(lock)
        } catch {
            throw DecisionLogError("cannot lock the decision log directory \(directory): \(error.message)")
        }
        guard locked else {
            try? SystemCalls.close(lock)
            throw DecisionLogError("another process is writing the decision log in \(directory)")
        }
        lockFD = lock
        do throws(DecisionLogError) {
            try resume()
        } catch {
            releaseLock()
            throw error
        }
    }

    /// Where the current file is.
    var currentPath: String? {
        guard let directory, let fileName else { return nil }
        return directory + "/" + fileName
    }

    // MARK: Opening

    /// Continues the chain of the directory's newest file (or starts one).
    private mutating func resume() throws(DecisionLogError) {
        guard let directory else { return }
        let files = try DecisionLogFormat.logFiles(in: directory)
        guard let newest = files.last else { return }
        fileDay = newest.day
        fileNumber = newest.number
        // The newest file that is not empty is where the chain stopped; when it holds only a
        // partial line, the chain's last whole line is in a file before it.
        var check = ChainCheck(keys: key.map { [$0.keyID: $0.publicKey] } ?? [:], requireKnownKeys: false)
        var last: (name: String, end: ChainCheck.FileEnd)?
        for file in files.reversed() {
            var attempt = ChainCheck(keys: check.keys, requireKnownKeys: false)
            let end = try attempt.read(file: directory + "/" + file.name)
            if let problem = attempt.problem ?? attempt.pendingGap {
                throw DecisionLogError("""
                    cannot continue the decision log in \(directory): \(problem) (verify it with purser verify-log; \
                    move the directory aside to start a new chain)
                    """)
            }
            guard end.bytes > 0 else { continue }
            if last == nil { last = (file.name, end) }
            check = attempt
            if end.wholeLines > 0 { break }
        }
        guard let last, let seq = check.expectedSeq, let hash = check.lastHash else { return }
        nextSeq = seq
        prev = hash
        if last.end.partialBytes == 0, check.lastWasCheckpoint {
            // A clean end: go on writing the newest file (empty when it is not the one that ended the chain).
            try open(directory + "/" + newest.name, name: newest.name, mode: .appending)
            let isLast = newest.name == last.name
            fileBytes = isLast ? last.end.bytes : 0
            writtenBytes = fileBytes
            fileLines = isLast ? last.end.wholeLines : 0
            lastWasCheckpoint = true
            return
        }
        // An unfinished file: never append after it. A new file starts with a line that names it.
        let now = options.clock.now()
        try openNewFile(day: max(DecisionLogFormat.day(now), newest.day))
        let data = DecisionLogFormat.restartData(file: last.name, wholeLines: last.end.wholeLines, droppedBytes: last.end.partialBytes)
        put(DecisionLogFormat.eventLine(seq: nextSeq, time: now, event: DecisionLogFormat.restartEvent, payload: data, prev: prev), isCheckpoint: false)
        try flush(synchronize: true)
    }

    /// Opens a file of the directory as the current file.
    private mutating func open(_ path: String, name: String, mode: SystemCalls.OpenMode) throws(DecisionLogError) {
        do throws(SystemError) {
            fd = try SystemCalls.open(path, mode, permissions: 0o640)
        } catch {
            throw DecisionLogError("cannot open the decision log file \(path): \(error.message)")
        }
        fileName = name
    }

    /// Creates the next file for `day` and makes it current.
    private mutating func openNewFile(day: CivilDate) throws(DecisionLogError) {
        guard let directory else { return }
        var number = day == fileDay ? fileNumber + 1 : 1
        while true {
            let name = DecisionLogFormat.fileName(day: day, number: number)
            do throws(DecisionLogError) {
                try open(directory + "/" + name, name: name, mode: .creatingNew)
                break
            } catch {
                // A name taken (by a file this log did not list) is skipped; anything else fails.
                guard (try? SystemCalls.status(path: directory + "/" + name)) != nil, number < 999_999 else { throw error }
                number += 1
            }
        }
        fileDay = day
        fileNumber = number
        fileBytes = 0
        writtenBytes = 0
        fileLines = 0
        sinceCheckpoint = 0
        lastWasCheckpoint = false
        // The new name is on the disk before any line of it is.
        if let dirFD = try? SystemCalls.open(directory) {
            try? SystemCalls.synchronize(dirFD)
            try? SystemCalls.close(dirFD)
        }
    }

    // MARK: Writing

    /// Refuses a call after a failure or after closing.
    private func checkUsable() throws(DecisionLogError) {
        if let failure { throw failure }
        if closed { throw DecisionLogError("the decision log is closed") }
    }

    /// Appends an event line, rotating the file and signing a checkpoint when due.
    mutating func append(event: String, time: Timestamp, payload: [UInt8]) throws(DecisionLogError) {
        try checkUsable()
        guard DecisionLogFormat.isEventName(event), event != DecisionLogFormat.checkpointEvent, event != DecisionLogFormat.restartEvent else {
            throw DecisionLogError("'\(event)' cannot name an event: 1 to 64 lowercase letters, digits, '_', '.' or '-', not checkpoint or restart")
        }
        try DecisionLogLine.checkPayload(payload)
        var line = DecisionLogFormat.eventLine(seq: nextSeq, time: time, event: event, payload: payload, prev: prev)
        if directory != nil {
            // Room for the line, a checkpoint after it, and the file's closing one.
            let needed = Int64(line.count + 1 + 2 * DecisionLogFormat.maxCheckpointBytes)
            guard needed <= options.maxFileBytes else {
                throw DecisionLogError("the \(event) line would be \(line.count + 1) bytes: too long for files of at most \(options.maxFileBytes) bytes")
            }
            let day = DecisionLogFormat.day(time)
            if fd == nil {
                try openNewFile(day: max(day, fileDay ?? day))
            } else if let fileDay, day > fileDay {
                try rotate(time: time, day: day)
            } else if fileBytes + needed > options.maxFileBytes {
                try rotate(time: time, day: fileDay ?? day)
            }
            // A rotation signs a checkpoint, which moves the chain on.
            line = DecisionLogFormat.eventLine(seq: nextSeq, time: time, event: event, payload: payload, prev: prev)
        }
        put(line, isCheckpoint: false)
        if key != nil, sinceCheckpoint >= options.checkpointEvery {
            try checkpoint(time: time)
            try flush(synchronize: options.synchronizeAtCheckpoints)
        } else if buffer.count >= options.bufferBytes {
            try flush(synchronize: false)
        }
    }

    /// Adds a line to the buffer and moves the chain on.
    private mutating func put(_ line: [UInt8], isCheckpoint: Bool) {
        buffer.append(contentsOf: options.format == .ocsf ? DecisionLogOCSF.wrap(line) : line)
        buffer.append(0x0A)
        fileBytes += Int64(line.count + 1)
        fileLines += 1
        nextSeq += 1
        prev = DecisionLogFormat.hash(line)
        sinceCheckpoint = isCheckpoint ? 0 : sinceCheckpoint + 1
        lastWasCheckpoint = isCheckpoint
    }

    /// Signs a checkpoint over the chain so far.
    private mutating func checkpoint(time: Timestamp) throws(DecisionLogError) {
        guard let key else { return }
        let body = DecisionLogFormat.checkpointBody(seq: nextSeq, time: time, keyID: key.keyID, lines: sinceCheckpoint, prev: prev)
        let signature = try key.signature(for: DecisionLogFormat.signaturePrefix + body)
        put(DecisionLogFormat.checkpointLine(body: body, signature: signature), isCheckpoint: true)
    }

    /// Closes the current file with a checkpoint and starts the next.
    private mutating func rotate(time: Timestamp, day: CivilDate) throws(DecisionLogError) {
        try finishFile(time: time)
        try openNewFile(day: day)
    }

    /// Signs the current file's closing checkpoint (unless its last line is one), writes and
    /// `fsync`s it, and closes it.
    private mutating func finishFile(time: Timestamp) throws(DecisionLogError) {
        if fileLines > 0, !lastWasCheckpoint { try checkpoint(time: time) }
        try flush(synchronize: true)
        if let fd, directory != nil {
            do throws(SystemError) {
                try SystemCalls.close(fd)
            } catch {
                throw broken("cannot close", error)
            }
        }
        fd = nil
    }

    /// Writes the buffer; with `synchronize`, waits for the disk.
    mutating func flush(synchronize: Bool) throws(DecisionLogError) {
        try checkUsable()
        guard let fd else { return }
        if !buffer.isEmpty {
            do throws(SystemError) {
                try SystemCalls.writeAll(fd, buffer)
            } catch {
                // No partial line stays behind: the file is cut back to its last whole line.
                if directory != nil { try? SystemCalls.truncate(fd, length: writtenBytes) }
                throw broken("cannot write", error)
            }
            writtenBytes += Int64(buffer.count)
            buffer.removeAll(keepingCapacity: true)
        }
        if synchronize, directory != nil {
            do throws(SystemError) {
                try SystemCalls.synchronize(fd)
            } catch {
                throw broken("cannot fsync", error)
            }
        }
    }

    /// Records a failure that ends the log, and returns it.
    private mutating func broken(_ what: String, _ error: SystemError) -> DecisionLogError {
        let lines = buffer.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
        let failure = DecisionLogError("""
            \(what) the decision log \(currentPath ?? "on standard output"): \(error.message)\(error.isNoSpace ? " (the disk is full)" : ""); \
            \(lines) buffered line\(lines == 1 ? " is" : "s are") lost and the log takes no more lines (reopen it to continue the chain)
            """)
        self.failure = failure
        return failure
    }

    /// Signs the closing checkpoint, writes, `fsync`s and closes.
    mutating func close() throws(DecisionLogError) {
        if closed { return }
        try checkUsable()
        if fd != nil { try finishFile(time: options.clock.now()) }
        closed = true
        releaseLock()
    }

    /// Writes what is buffered, signing nothing, and lets go of the files (a log never closed).
    mutating func abandon() {
        if !closed, failure == nil { try? flush(synchronize: false) }
        if let fd, directory != nil { try? SystemCalls.close(fd) }
        fd = nil
        closed = true
        releaseLock()
    }

    /// Closes the lock file.
    private mutating func releaseLock() {
        if let lockFD { try? SystemCalls.close(lockFD) }
        lockFD = nil
    }
}
