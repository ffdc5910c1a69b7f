import Purser
import Synchronization

/// Where a usage record came from: a log file and a line (the first line of a CSV record).
public struct RecordLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The log file, as given.
    public var file: String { name.path }
    /// The 1-based line.
    public let line: Int
    /// The file, by number (see ``LogName``).
    package let name: LogName

    /// Creates a location.
    public init(file: String, line: Int) {
        self.init(file: LogName(file), line: line)
    }

    /// Creates a location in a file whose name a reader interned once.
    package init(file: LogName, line: Int) {
        self.name = file
        self.line = line
    }

    public static func < (lhs: RecordLocation, rhs: RecordLocation) -> Bool { (lhs.file, lhs.line) < (rhs.file, rhs.line) }

    /// `file:line`.
    public var description: String { "\(file):\(line)" }
}

/// A log file's name, interned for the life of the process: a record's location holds its
/// number, not a string (every record holding the same string would count references to it
/// from the reading, replaying and freeing threads).
package struct LogName: Sendable, Hashable {
    /// The process's names, each once, by number.
    private static let names = Mutex<(numbers: [String: Int32], paths: [String])>(([:], []))

    package let number: Int32

    /// The number of `path` (made on first use).
    package init(_ path: String) {
        number = Self.names.withLock { names in
            if let known = names.numbers[path] { return known }
            let number = Int32(names.paths.count)
            names.paths.append(path)
            names.numbers[path] = number
            return number
        }
    }

    /// The path, as given.
    package var path: String { Self.names.withLock { $0.paths[Int(number)] } }
}

/// One usage record of a log, mapped onto a request (docs/wire-formats.md, "Usage
/// records"): spend that happened, with its actual cost when the log has one.
public struct UsageRecord: Sendable {
    /// The request; its `timestamp` is always set, its `cost` is the actual cost when the log gives one.
    ///
    /// A replay moves the request into the record's prepared evaluation (see ``PreparedEvaluation``)
    /// rather than copying it: copying a request retains every name in it. A record whose
    /// request was moved out reads as a request for model `""`.
    public var request: Request {
        if case .request(let request) = stage { return request }
        return Request(model: "")
    }
    /// Where the record is in its log.
    public var location: RecordLocation
    /// The record's time (logs require one).
    public let timestamp: Timestamp
    /// What the record holds at its stage of an audit: one of the request, its prepared
    /// evaluation or its plan, never two (so a record is half the size it would be with a field each;
    /// batches of records are written by the readers and read by the replay).
    private var stage: Stage

    private enum Stage {
        /// As read, until a replay takes the request.
        case request(Request)
        /// The request taken, nothing prepared yet.
        case taken
        case prepared(PreparedEvaluation)
        case planned(PlannedRecord, PlannedRequest)
    }

    /// The order-independent part of its evaluation, done by the reader's thread
    /// (nil for a record its key's plan decided: see `planned`).
    package var prepared: PreparedEvaluation? {
        get {
            if case .prepared(let prepared) = stage { return prepared }
            return nil
        }
        set { stage = newValue.map { .prepared($0) } ?? .taken }
    }

    /// For a record its key's plan decided on the reader's thread: all the replay needs,
    /// and (`plannedRequest`) the request should a counter not admit it.
    package var planned: PlannedRecord? {
        if case .planned(let planned, _) = stage { return planned }
        return nil
    }

    package var plannedRequest: PlannedRequest? {
        if case .planned(_, let request) = stage { return request }
        return nil
    }

    /// Creates a record.
    public init(request: Request, location: RecordLocation) {
        timestamp = request.timestamp ?? Timestamp(nanoseconds: 0)
        stage = .request(request)
        self.location = location
    }

    /// Creates a record its key's plan decided while it was decoded (it has no request of its own).
    package init(planned: PlannedRecord, request: PlannedRequest, timestamp: Timestamp, location: RecordLocation) {
        self.timestamp = timestamp
        self.location = location
        stage = .planned(planned, request)
    }

    /// Moves the request out (for a record whose evaluation is being prepared); nil if already taken.
    package mutating func takeRequest() -> Request? {
        guard case .request = stage else { return nil }
        var taken = Stage.taken
        swap(&taken, &stage)
        if case .request(let request) = consume taken { return request }
        return nil
    }

    /// Records that its key's plan decided it (its request taken, now `request`).
    package mutating func plan(_ planned: PlannedRecord, request: PlannedRequest) {
        stage = .planned(planned, request)
    }
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
    /// What the reader noticed that the report should say (bucket widths, rows priced at list price).
    package var notes = ImportNotes()
    /// The counters of the batch's planned records (see ``PlannedRecord``), one array for the whole batch.
    package var counters: [ReplayCounter] = []

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
/// does what depends on order. It owns the record's request (`resolved.request`).
package final class PreparedEvaluation: Sendable {
    // Created on a reader thread, then only read by the replay thread.
    package let resolved: Evaluator.Resolved
    package let candidate: Evaluator.Candidate
    package let assessment: Evaluator.Assessment
    /// For a record a non-budget violation denies: the reroute candidates in order, assessed
    /// except for budgets (which the replay checks against its counters), up to the first one
    /// nothing but a budget could deny; the replay assesses the rest only if a budget denies that one.
    package let reroutes: [Evaluator.Reroute]?
    /// The record's plan key, when it has one and plans are used: then `reroutes` is nil, and the
    /// replay walks the reroute candidates from its plans (``Evaluator/forEachPlannedReroute``).
    package let key: PlanKey?
    /// The counters the record counts against, in assessment order. A planned
    /// record's `assessment.counters` is empty: the replay rebuilds a counter's
    /// full reservation (names, alerts) only when it needs one.
    package let replay: [ReplayCounter]

    /// Prepares the evaluation of `request` (taken from a record: the evaluation keeps it).
    package convenience init(_ request: consuming Request, at timestamp: Timestamp, evaluator: Evaluator, plans: PlanCache? = nil,
                             tests: PlanTests? = nil) {
        let resolved = evaluator.resolve(request, now: timestamp)
        self.init(resolved, evaluator: evaluator, plans: plans, key: tests.flatMap { evaluator.planKey(resolved, tests: $0) }, tests: tests)
    }

    /// Prepares the evaluation of a resolved request (in full, without `plans` or without its plan `key`);
    /// with `plans`, `key` and `tests`, a denied record's reroute candidates are left to the replay's plans.
    package init(_ resolved: Evaluator.Resolved, evaluator: Evaluator, plans: PlanCache? = nil, key: PlanKey? = nil, tests: PlanTests? = nil) {
        self.resolved = resolved
        self.key = key
        if let plans, let key, let (candidate, assessment, replay) = evaluator.plannedCounters(resolved, key: key, plans: plans) {
            self.candidate = candidate
            self.assessment = assessment
            self.replay = replay
        } else {
            candidate = evaluator.original(resolved)
            assessment = evaluator.assess(resolved, candidate)
            let policy = evaluator.policy
            replay = assessment.counters.map { entry in ReplayCounter(entry, budget: policy.budgetLookup[entry.counter.budget] ?? -1) }
        }
        guard assessment.denied, plans == nil || tests == nil || key == nil else {
            reroutes = nil
            return
        }
        var options: [Evaluator.Reroute] = []
        evaluator.forEachReroute(resolved, from: candidate, repricing: true) { option in
            options.append(option)
            return !option.assessment.denied
        }
        reroutes = options
    }
}

extension PreparedEvaluation {
    /// The condition input of the record's candidate (for the rare budget violation's waiver check).
    package func input(_ evaluator: Evaluator) -> ConditionInput {
        evaluator.conditionInput(resolved, candidate, cost: assessment.cost)
    }

    /// The full reservation of counter `offset` (built again for a planned record).
    package func reservation(_ offset: Int, _ evaluator: Evaluator) -> CounterReservation {
        if offset < assessment.counters.count { return assessment.counters[offset] }
        return evaluator.reservation(replay[offset])
    }
}

/// A clean record its key's plan decided on a reader's thread (see ``PlanCache``):
/// no prepared evaluation, candidate or assessment is built for it, only its
/// cost and counters. Should a counter not admit it, the replay assesses it
/// in full from the record's ``PlannedRequest``.
///
/// Plain numbers only: the replay reads it for every record, and copying it retains nothing.
package struct PlannedRecord: Sendable {
    /// The team, environment and model ids (the policy knows all three).
    package let team: Int32
    package let environment: Int32
    package let model: Int32
    /// The local day (for the spend-per-day series).
    package let day: Int64
    /// The record's cost (nil when unpriced and no budget caps USD).
    package let cost: USD?
    /// Where its counters are in its batch's `counters`.
    package let start: Int32
    package let count: Int32

    package init(team: Int32, environment: Int32, model: Int32, day: Int64, cost: USD?, start: Int32, count: Int32) {
        self.team = team
        self.environment = environment
        self.model = model
        self.day = day
        self.cost = cost
        self.start = start
        self.count = count
    }
}

/// A planned record's request (it owns the record's request): resolved, or (for a record
/// decoded by its names) its shape and its own numbers.
package enum PlannedRequest: Sendable {
    // Made on a reader thread, then only read by the replay thread (like `PreparedEvaluation`).
    case resolved(Evaluator.Resolved)
    case shaped(ShapedRequest)

    /// The team's name as the record gives it.
    package var teamName: String? {
        switch self {
        case .resolved(let resolved): return resolved.request.team
        case .shaped(let shaped): return shaped.shape.template.team
        }
    }

    /// The environment's name as the record gives it.
    package var environmentName: String? {
        switch self {
        case .resolved(let resolved): return resolved.request.environment
        case .shaped(let shaped): return shaped.shape.template.environment
        }
    }

    /// The resolved request, for assessing the record in full.
    package func resolved(_ evaluator: Evaluator, at timestamp: Timestamp) -> Evaluator.Resolved {
        switch self {
        case .resolved(let resolved): return resolved
        case .shaped(let shaped): return evaluator.resolve(shaped.request(at: timestamp), now: timestamp)
        }
    }
}

/// One counter a record counts against: its identity (budget, scope key,
/// window) and the numbers the replay reads for every record.
///
/// It carries no caps: a counter's caps follow from its budget and scope key, so the replay reads
/// them from the counter's slot (made from the first reservation of the counter). Leaving them out
/// makes a counter 72 bytes rather than 120, and a batch holds two or three per record.
package struct ReplayCounter: Sendable {
    package let amount: Amount
    /// The counter key's own hash (`CounterKey.cacheLine`).
    package let line: Int
    package let window: Int64
    /// The scope key, e.g. `payments` or `payments/qa`, when the counter has its own.
    private let ownKey: String
    /// The scope key, when a reader keeps it (see ``SharedKey``), unretained: retaining it for every
    /// counter of every record, on the reading, replaying and freeing threads, cost more than the rest
    /// of a counter. Safe while the key lives, which it does as long as the audit: a fixed key is
    /// kept by the plan cache (`PlanCache.sharedKey`), a user's or tag value's by its ``ShapedUser``
    /// or ``ShapedTags``, which their ``ShapeTable`` keeps (`kept`); the caches live in the audit's
    /// ``PlanPool``. Debug builds check it with a weak reference on every read.
    private let sharedKey: Unmanaged<SharedKey>?
    #if DEBUG
    private weak var sharedKeyAlive: SharedKey?
    #endif
    /// The budget's index in the compiled policy (-1 if unknown).
    package let budget: Int32
    package let enforced: Bool
    package let hasAlerts: Bool

    /// A counter with its own scope key.
    package init(amount: Amount, line: Int, window: Int64, key: String, budget: Int32, enforced: Bool, hasAlerts: Bool) {
        (self.amount, self.line, self.window) = (amount, line, window)
        (ownKey, sharedKey) = (key, nil)
        (self.budget, self.enforced, self.hasAlerts) = (budget, enforced, hasAlerts)
    }

    /// A counter whose scope key a reader keeps.
    package init(amount: Amount, line: Int, window: Int64, key: Unmanaged<SharedKey>, budget: Int32, enforced: Bool, hasAlerts: Bool) {
        (self.amount, self.line, self.window) = (amount, line, window)
        (ownKey, sharedKey) = ("", key)
        (self.budget, self.enforced, self.hasAlerts) = (budget, enforced, hasAlerts)
        #if DEBUG
        sharedKeyAlive = key.takeUnretainedValue()
        #endif
    }

    /// The shared scope key, if the counter has one.
    @inline(__always)
    private var shared: SharedKey? {
        #if DEBUG
        assert(sharedKey == nil || sharedKeyAlive != nil, "a replay counter outlived its scope key")
        #endif
        return sharedKey?.takeUnretainedValue()
    }

    /// The scope key, e.g. `payments` or `payments/qa`.
    package var key: String {
        if let shared { return shared.text }
        return ownKey
    }

    /// Whether the scope key is `other` (the shared key lent, not retained: see `Unmanaged.withBorrowed`).
    @inline(__always)
    package func hasKey(_ other: String) -> Bool {
        if let sharedKey {
            #if DEBUG
            assert(sharedKeyAlive != nil, "a replay counter outlived its scope key")
            #endif
            return sharedKey.withBorrowed { $0.text == other }
        }
        return ownKey == other
    }
}

extension ReplayCounter {
    /// The replay counter of a full reservation of budget `budget`.
    package init(_ entry: CounterReservation, budget: Int32) {
        self.init(amount: entry.amount, line: entry.counter.cacheLine, window: entry.counter.window,
                  key: entry.counter.key, budget: budget, enforced: entry.enforced, hasAlerts: !entry.alerts.isEmpty)
    }
}

/// What readers noticed while reading, for the report's summary and warnings.
package struct ImportNotes: Sendable {
    /// Records read from aggregated rows (a bucket or a charge period), by the bucket's width in seconds.
    package var bucketWidths: [Int64: Int] = [:]
    /// Batch or flex records priced at the list price for want of a tier price, by `model (tier)`.
    package var listPriced: [String: Int] = [:]

    package init() {}

    /// Whether nothing was noticed.
    package var isEmpty: Bool { bucketWidths.isEmpty && listPriced.isEmpty }

    /// Adds what another batch noticed.
    package mutating func merge(_ other: ImportNotes) {
        bucketWidths.merge(other.bucketWidths, uniquingKeysWith: +)
        listPriced.merge(other.listPriced, uniquingKeysWith: +)
    }
}
