/// Where a usage record came from: a log file and a line (the first line of a CSV record).
public struct RecordLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The log file, as given.
    public let file: String
    /// The 1-based line.
    public let line: Int

    /// Creates a location.
    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }

    public static func < (lhs: RecordLocation, rhs: RecordLocation) -> Bool { (lhs.file, lhs.line) < (rhs.file, rhs.line) }

    /// `file:line`.
    public var description: String { "\(file):\(line)" }
}

/// One usage record of a log, mapped onto a request (SPEC §5): spend that
/// happened, with its actual cost when the log has one.
public struct UsageRecord: Sendable {
    /// The request; its `timestamp` is always set, its `cost` is the actual cost when the log gives one.
    public var request: Request
    /// Where the record is in its log.
    public var location: RecordLocation
    /// The order-independent part of its evaluation, done by the reader's thread.
    var prepared: PreparedEvaluation?

    /// Creates a record.
    public init(request: Request, location: RecordLocation) {
        self.request = request
        self.location = location
    }

    /// The record's time (logs require one).
    public var timestamp: Timestamp { request.timestamp ?? Timestamp(nanoseconds: 0) }
}

/// A log entry that could not be read as a usage record. It is counted and
/// reported by file and line; the audit goes on.
public struct MalformedRecord: Sendable, Hashable {
    /// Where it is.
    public let location: RecordLocation
    /// What is wrong with it.
    public let message: String

    /// Creates a malformed-record report.
    public init(location: RecordLocation, message: String) {
        self.location = location
        self.message = message
    }
}

/// What a reader read from one part of a log: records in file order and the entries it could not read.
public struct RecordBatch: Sendable {
    /// Records, in the order they appear in the log.
    public var records: [UsageRecord]
    /// Entries that were not valid records.
    public var malformed: [MalformedRecord]
    /// Entries left out on purpose (not usage, refunds, failed calls that cost nothing), counted by reason.
    public var skipped: [String: Int]

    /// Creates a batch.
    public init(records: [UsageRecord] = [], malformed: [MalformedRecord] = [], skipped: [String: Int] = [:]) {
        self.records = records
        self.malformed = malformed
        self.skipped = skipped
    }
}

/// Why a log could not be read at all (as opposed to one bad record).
public struct UsageLogError: Error, Sendable, CustomStringConvertible {
    /// What failed.
    public let message: String
    /// The file.
    public let file: String

    /// Creates an error.
    public init(_ message: String, file: String) {
        self.message = message
        self.file = file
    }

    public var description: String { "\(file): \(message)" }
}

/// What can be evaluated for a record without knowing the counters: names
/// resolved, the candidate, the non-budget violations and the counters it
/// counts against. Computed on the reader threads, so the replay thread only
/// does what depends on order.
final class PreparedEvaluation: @unchecked Sendable {
    // Created on a reader thread, then only read by the replay thread.
    let resolved: Evaluator.Resolved
    let candidate: Evaluator.Candidate
    var assessment: Evaluator.Assessment
    let input: ConditionInput

    init(_ record: UsageRecord, evaluator: Evaluator) {
        resolved = evaluator.resolve(record.request, now: record.timestamp)
        candidate = evaluator.original(resolved)
        assessment = evaluator.assess(resolved, candidate)
        input = evaluator.conditionInput(resolved, candidate, cost: assessment.cost)
    }
}
