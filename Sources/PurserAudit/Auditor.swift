import Purser
import Foundation

/// How to run an audit.
public struct AuditOptions: Sendable {
    /// How to read the logs.
    public var logs = UsageLogOptions()
    /// Records before this instant are skipped.
    public var since: Timestamp?
    /// Records at or after this instant are skipped.
    public var until: Timestamp?
    /// Fail on the first malformed record instead of counting it.
    public var strictInput = false
    /// How many malformed records an audit tolerates (`--max-malformed`); none by default.
    public var maxMalformed = MalformedTolerance.count(0)
    /// Where spool and sort files go.
    public var temporaryDirectory = NSTemporaryDirectory()
    /// Records per sorted run when the input has to be sorted.
    public var runSize = 1_000_000
    /// How many malformed records are listed (all are counted).
    public var malformedListed = 1000
    /// How many violations the report keeps, the first in time order; nil keeps every one.
    /// Counts and totals cover every violation either way. A report that lists only the first
    /// (the table lists ``AuditRenderOptions/tableViolations``, the HTML page
    /// ``AuditRenderOptions/htmlViolations``) need keep no more, and an audit in which most
    /// records break policy then spends no time writing the rest; the json, jsonl, csv, sarif and
    /// ocsf formats list every violation and refuse a report that did not keep them all.
    public var violationsKept: Int?
    /// An open, empty regular file (readable and writable) that the violations are written to as
    /// they are found, in the `--format jsonl` shape, instead of a temporary spool: that file is
    /// then the JSON Lines report, written without copying the spool into it afterwards
    /// (`purser audit --format jsonl -o FILE`). The audit does not close it; a replay that starts
    /// again (input out of order) empties it first.
    package var violationsFile: Int32?
    /// Whether records may be assessed from cached plans (tests compare against full assessment).
    package var usePlans = true
    /// The lines of the replay's direct-mapped cache in front of its counter table, a power of two
    /// (tests make it 1, so that lookups go past it to the table).
    package var slotCacheLines = 4096
    /// Whether the report keeps every budget counter's final spend (``AuditReport/counters``), for
    /// `purser ledger reconcile`; the audit's own reports list only the counters that went over.
    package var keepCounters = false

    /// The defaults.
    public init() {}
}

/// How many malformed records an audit tolerates (`--max-malformed`, docs/audit-reports.md, "Exit codes").
public enum MalformedTolerance: Sendable, Hashable, CustomStringConvertible {
    /// At most this many.
    case count(Int)
    /// At most this percentage of the entries read (records, out-of-window records and malformed ones).
    case percent(Double)

    /// Parses `10` or `0.1%`; nil for anything else (negative, not a number, over 100%).
    public init?(_ text: String) {
        if text.hasSuffix("%") {
            guard let value = Double(text.dropLast()), value.isFinite, value >= 0, value <= 100 else { return nil }
            self = .percent(value)
        } else {
            guard let value = Int(text), value >= 0 else { return nil }
            self = .count(value)
        }
    }

    /// The most malformed records allowed among `entries` entries read.
    public func allowed(of entries: Int) -> Int {
        switch self {
        case .count(let count): return count
        case .percent(let percent): return Int((Double(entries) * percent / 100).rounded(.down))
        }
    }

    public var description: String {
        switch self {
        case .count(let count): return String(count)
        case .percent(let percent): return "\(percent)%"
        }
    }
}

/// Progress of a replay, for a progress bar.
public struct AuditProgress: Sendable {
    /// What is happening: `replaying` or `sorting`.
    public let phase: String
    /// Records done so far.
    public let records: Int
}

/// Replays usage logs against a policy with fresh counters (docs/cli.md, "purser audit"):
/// every record's actual cost is counted whether or not it broke policy, and
/// a record violates a budget when the counter, with the record added, is
/// over the limit.
///
/// Records are replayed in time order across files. Files in time order
/// stream through in bounded memory (parsing overlaps with evaluation); a
/// file out of order is sorted on disk and the replay starts again.
///
/// An `Auditor` is an immutable value: each `run` replays with counters of its own, so one
/// auditor may run several audits, one after the other or at once.
public struct Auditor: Sendable {
    /// The policy replayed against.
    public let policy: CompiledPolicy
    /// The options.
    public let options: AuditOptions
    /// Called now and then with the number of records done (from the thread that called `run`).
    public let progress: (@Sendable (AuditProgress) -> Void)?

    /// Creates an auditor; `progress`, when given, is called now and then with the records done.
    public init(policy: CompiledPolicy, options: AuditOptions = AuditOptions(),
                progress: (@Sendable (AuditProgress) -> Void)? = nil) {
        self.policy = policy
        self.options = options
        self.progress = progress
    }

    /// Replays the logs at these paths (files, directories, `-`) and returns the report.
    public func run(_ paths: [String]) throws(AuditError) -> AuditReport {
        let inputs: LogInputs
        do throws(UsageLogError) {
            inputs = try LogInputs(paths, temporaryDirectory: options.temporaryDirectory)
        } catch {
            throw AuditError(error.description)
        }
        return try run(inputs)
    }

    /// Replays the logs and returns the report. Throws when a log cannot be read at
    /// all, or on the first malformed record with `strictInput`.
    public func run(_ inputs: LogInputs) throws(AuditError) -> AuditReport {
        let files = inputs.sources
        let spool: ViolationSpool
        var logOptions = self.logOptions
        do throws(UsageLogError) {
            if let file = options.violationsFile {
                spool = ViolationSpool(descriptor: file, path: "(the report)", closes: false)
            } else {
                spool = try ViolationSpool(directory: options.temporaryDirectory)
            }
            logOptions.decisionLogIndex = try DecisionLogIndex.forAudit(files, options: logOptions)
        } catch {
            throw AuditError(error.description)
        }
        // First try streaming; a file out of order beyond a batch means sorting and starting again.
        let plans = PlanPool(enabled: options.usePlans)
        do {
            var sources: [any RecordSource] = []
            let evaluator = Evaluator(policy: policy)
            let depth = ParallelSource.depth(sources: files.count)
            for file in files {
                sources.append(ParallelSource(reader: try open(file, logOptions), evaluator: evaluator, planPool: plans, depth: depth))
            }
            return try replay(Merger(sources), inputs: inputs, spool: spool, plans: plans, sorted: false, malformed: [])
        } catch let error where error.isDisorder {
            spool.reset()
        }
        let sorter = ExternalSort(directory: options.temporaryDirectory, runSize: options.runSize)
        let progress = self.progress
        let malformed = try sorter.split(files, options: logOptions) { count in progress?(AuditProgress(phase: "sorting", records: count)) }
        if options.strictInput, let first = malformed.first {
            throw AuditError("\(first.location): \(first.message) (--strict-input)")
        }
        return try replay(Merger(try sorter.sources()), inputs: inputs, spool: spool, plans: plans, sorted: true, malformed: malformed,
                          skipped: sorter.skipped, notes: sorter.notes)
    }

    /// How the readers are set up: the `--input-format`, `--map` and limits asked for, with
    /// aggregated rows dated in the policy's time zone (``BucketDating``).
    private var logOptions: UsageLogOptions {
        var logs = options.logs
        logs.dating = BucketDating(zone: policy.zone)
        logs.pricing = TierPricing(policy: policy)
        return logs
    }

    private func open(_ file: LogSource, _ logOptions: UsageLogOptions) throws(AuditError) -> any UsageLogReader {
        do throws(UsageLogError) {
            return try UsageLogs.open(file, options: logOptions)
        } catch {
            throw AuditError(error.description)
        }
    }

    private func replay(_ merger: consuming Merger, inputs: LogInputs, spool: ViolationSpool, plans: PlanPool, sorted: Bool,
                        malformed initial: [MalformedRecord], skipped: [String: Int] = [:],
                        notes: ImportNotes = ImportNotes()) throws(AuditError) -> AuditReport
    {
        var merger = merger
        // The replay's own plan cache: for records it assesses (a planned record a counter does not
        // admit, records of a sorted log) and the reroutes of records a budget denies.
        let cache = plans.borrow()
        defer { plans.giveBack(cache) }
        var state = ReplayState(policy: policy, spool: spool, options: options, plans: cache)
        state.summary.files = inputs.sources.map(\.name)
        state.summary.skippedFiles = inputs.skipped
        state.summary.sorted = sorted
        for entry in initial { state.addMalformed(entry) }
        var count = 0
        defer { merger.cancel() }
        while try merger.advance(run: true) {
            if !merger.pendingMalformed.isEmpty {
                for entry in merger.takeMalformed() {
                    if options.strictInput { throw AuditError("\(entry.location): \(entry.message) (--strict-input)") }
                    state.addMalformed(entry)
                }
            }
            merger.withRun { records, counters in
                guard let first = records.baseAddress else { return }
                for offset in records.indices {
                    state.process(first + offset, counters)
                    count += 1
                    if count & 0xFFFF == 0 {
                        state.evictClosedWindows()
                        progress?(AuditProgress(phase: "replaying", records: count))
                    }
                }
            }
        }
        for entry in merger.takeMalformed() {
            if options.strictInput { throw AuditError("\(entry.location): \(entry.message) (--strict-input)") }
            state.addMalformed(entry)
        }
        state.summary.skipped = skipped.merging(merger.skipped, uniquingKeysWith: +)
        var notes = notes
        notes.merge(merger.notes)
        state.summary.bucketWidths = notes.bucketWidths
        state.summary.listPriced = notes.listPriced
        let summary = state.summary
        state.summary.malformedAllowed = options.maxMalformed.allowed(of: summary.records + summary.outOfWindow + summary.malformed)
        spool.flush()
        if let failure = spool.failure { throw AuditError(failure) }
        progress?(AuditProgress(phase: "done", records: count))
        return state.report()
    }
}

/// The mutable state of one replay: counters, totals and the spool.
///
/// Built for millions of records a second: a counter is found with one hash
/// lookup and then lives in an array slot; totals for the policy's teams,
/// environments and models are indexed by their ids.
package struct ReplayState {
    /// One counter's state.
    private struct Slot {
        package var key: CounterKey
        package var spent = Amount()
        package var limits: BudgetLimits
        /// The budget's index in the compiled policy.
        package var budget: Int32
        /// When the window ends (UTC seconds): after that the slot can be freed.
        package var windowEnd: Int64
        package var crossedAt: Timestamp?
        package var crossedInput: RecordLocation?
        /// The highest alert fraction fired, in parts per million.
        package var alerted: Int64 = 0
        /// The amount (in the primary unit) at which the next unfired alert fires; `Int64.max` when none is left.
        package var nextAlert: Int64 = .max
        package var live = true
    }

    private let policy: CompiledPolicy
    private let evaluator: Evaluator
    private let spool: ViolationSpool
    private let options: AuditOptions
    /// The replay thread's plan cache and the policy's plan tests (nil without plans).
    private let plans: PlanCache?
    private let tests: PlanTests?
    private var slotIndex: [CounterKey: Int32] = [:]
    /// A direct-mapped cache in front of `slotIndex`, indexed by the key's own hash (no SipHash).
    private var slotCache: [Int32]
    /// The cache's size less one (a power of two less one).
    private let slotMask: Int
    private var slots: [Slot] = []
    private var freeSlots: [Int32] = []
    private var crossings: [BudgetCrossing] = []
    /// Every counter's final spend, when `options.keepCounters`: closed windows as they are evicted.
    private var finished: [CounterKey: Amount] = [:]
    private var alerts: [AuditAlert] = []
    private var byRule: [String: AuditTotal] = [:]
    private var teams: [AuditTotal?]
    private var environments: [AuditTotal?]
    private var models: [AuditTotal?]
    private var otherTeams: [String: AuditTotal] = [:]
    private var otherEnvironments: [String: AuditTotal] = [:]
    private var otherModels: [String: AuditTotal] = [:]
    /// Spend per team (by id; unknown teams after them) per local day.
    private var teamDays: [DailySpend]
    private var otherTeamIDs: [String: Int] = [:]
    private var malformed: [MalformedRecord] = []
    private var latest = Timestamp(nanoseconds: Int64.min)
    /// The slots of the record being processed (kept to save an allocation per record).
    private var recordSlots: [Int32] = []
    package var summary = AuditReport.Summary()

    package init(policy: CompiledPolicy, spool: ViolationSpool, options: AuditOptions, plans: PlanCache? = nil) {
        self.policy = policy
        self.tests = plans == nil ? nil : PlanTests(policy: policy)
        self.plans = self.tests == nil ? nil : plans
        let lines = max(1, options.slotCacheLines)
        slotCache = [Int32](repeating: -1, count: lines)
        slotMask = lines - 1
        self.evaluator = Evaluator(policy: policy)
        self.spool = spool
        self.options = options
        teams = Array(repeating: nil, count: policy.teams.count)
        environments = Array(repeating: nil, count: policy.environments.count)
        models = Array(repeating: nil, count: policy.models.count)
        teamDays = Array(repeating: DailySpend(), count: policy.teams.count)
    }

    package mutating func addMalformed(_ entry: MalformedRecord) {
        summary.malformed += 1
        if malformed.count < options.malformedListed { malformed.append(entry) }
    }

    /// Replays one record (read in place: the record is not copied); `counters` are its batch's
    /// (a planned record's counters are there).
    package mutating func process(_ record: UnsafePointer<UsageRecord>, _ counters: UnsafeBufferPointer<ReplayCounter>) {
        let time = record.pointee.timestamp
        if let since = options.since, time < since {
            summary.outOfWindow += 1
            return
        }
        if let until = options.until, time >= until {
            summary.outOfWindow += 1
            return
        }
        summary.records += 1
        if summary.first == nil { summary.first = time }
        summary.last = time
        if time > latest { latest = time }

        let planned = record.pointee.planned
        if let planned, processPlanned(planned, counters, record) { return }
        // A planned record a counter does not admit is assessed in full (it will be a budget violation).
        let prepared = record.pointee.prepared
            ?? record.pointee.plannedRequest.map { planned in
                let resolved = planned.resolved(evaluator, at: time)
                return PreparedEvaluation(resolved, evaluator: evaluator, plans: plans, key: tests.flatMap { evaluator.planKey(resolved, tests: $0) },
                                          tests: tests)
            }
            ?? PreparedEvaluation(record.pointee.request, at: time, evaluator: evaluator, plans: plans, tests: tests)
        let resolved = prepared.resolved
        let cost = prepared.assessment.cost
        let staticViolations = prepared.assessment.violations
        var budgetViolations: [Violation] = []

        // Each counter: find its slot once; a budget is violated when the counter, with this record, is over.
        recordSlots.removeAll(keepingCapacity: true)
        // A report that keeps only its first violations (the table, the HTML page) drops every one
        // of this record's budget violations once the spool holds that many: their messages are not built.
        let messages = options.violationsKept.map { spool.count + staticViolations.count < $0 } ?? true
        // Counters are read in place (through a pointer): copying one would retain its key.
        prepared.replay.withUnsafeBufferPointer { entries in
            guard let base = entries.baseAddress else { return }
            for offset in entries.indices {
                let slot = slotFor(base + offset, prepared, offset)
                recordSlots.append(slot)
                let spent = slots[Int(slot)].spent
                if !CounterReservation.admits(CounterState(spent: spent), base[offset].amount, slots[Int(slot)].limits) {
                    let entry = prepared.reservation(offset, evaluator)
                    if let violation = evaluator.budgetViolation(entry, CounterState(spent: spent), prepared.input(evaluator), resolved,
                                                                 message: messages) {
                        budgetViolations.append(violation)
                    }
                }
            }
        }
        let denied = prepared.assessment.denied || budgetViolations.contains { $0.effect == .deny }
        let reroute = denied ? whatIf(prepared) : nil

        // The spend happened: count it.
        prepared.replay.withUnsafeBufferPointer { entries in
            guard let base = entries.baseAddress else { return }
            for offset in entries.indices {
                count(base + offset, slot: Int(recordSlots[offset]), prepared, offset, record: record)
            }
        }

        // Totals.
        let spend = cost ?? .zero
        if cost == nil { summary.unpricedRecords += 1 }
        summary.totalSpend += spend
        let violations = staticViolations.count + budgetViolations.count
        summary.violations += violations
        if denied {
            summary.violatingRecords += 1
            summary.spendBreakingPolicy += spend
            if let reroute {
                summary.reroutable += 1
                if let rerouted = reroute.cost, rerouted < spend {
                    // Both are non-negative, so the difference is in range.
                    summary.reroutingSavings += USDTotal(nanos: Int128(spend.nanos) - Int128(rerouted.nanos))
                }
            } else {
                summary.blockable += 1
                summary.blockableSpend += spend
            }
        }
        // The request is the prepared evaluation's (the record's own was moved there). Names are read
        // only to make a total or row: the reading threads count references to the same strings,
        // and every retain here would contend with theirs.
        Self.add(&teams, &otherTeams, resolved.team, resolved.request.team ?? "(none)", spend, violations, denied)
        Self.add(&environments, &otherEnvironments, resolved.environment, resolved.request.environment ?? "(none)", spend, violations, denied)
        Self.add(&models, &otherModels, prepared.candidate.model, prepared.candidate.modelName, spend, violations, denied)
        // The resolved request's local day is the record's (its time is the record's).
        teamDays[teamRow(resolved.team, resolved.request.team ?? "(none)")].add(spend, day: resolved.day)

        guard violations > 0 else { return }
        let candidate = prepared.candidate
        // By index: iterating the array copied each violation (retaining its strings).
        for index in staticViolations.indices {
            report(staticViolations[index], record: record, request: resolved.request, candidate: candidate, cost: cost, spend: spend, reroute: reroute)
        }
        for violation in budgetViolations {
            report(violation, record: record, request: resolved.request, candidate: candidate, cost: cost, spend: spend, reroute: reroute)
        }
    }

    /// Replays a record its key's plan decided, unless a counter does not admit it (then false, and
    /// nothing counted: the record is a budget violation and is assessed in full).
    private mutating func processPlanned(_ planned: PlannedRecord, _ counters: UnsafeBufferPointer<ReplayCounter>,
                                         _ record: UnsafePointer<UsageRecord>) -> Bool
    {
        guard let all = counters.baseAddress else { return planned.count == 0 ? countPlanned(planned, record) : false }
        let base = all + Int(planned.start)
        let count = Int(planned.count)
        // The record's slots on the stack (an array member would check its uniqueness on every append).
        let admitted = withUnsafeTemporaryAllocation(of: Int32.self, capacity: max(count, 1)) { found -> Bool in
            for offset in 0..<count {
                let counter = base + offset
                let slot = slotFor(counter, nil, offset)
                guard CounterReservation.admits(CounterState(spent: slots[Int(slot)].spent), counter.pointee.amount, slots[Int(slot)].limits) else {
                    return false
                }
                found[offset] = slot
            }
            for offset in 0..<count {
                self.count(base + offset, slot: Int(found[offset]), nil, offset, record: record)
            }
            return true
        }
        return admitted && countPlanned(planned, record)
    }

    /// The totals of a clean planned record (its team, environment and model are the policy's).
    private mutating func countPlanned(_ planned: PlannedRecord, _ record: UnsafePointer<UsageRecord>) -> Bool {
        let spend = planned.cost ?? .zero
        if planned.cost == nil { summary.unpricedRecords += 1 }
        summary.totalSpend += spend
        let (team, environment, model) = (Int(planned.team), Int(planned.environment), Int(planned.model))
        Self.addClean(&teams, team, spend, name: record.pointee.plannedRequest?.teamName ?? "(none)")
        Self.addClean(&environments, environment, spend, name: record.pointee.plannedRequest?.environmentName ?? "(none)")
        Self.addClean(&models, model, spend, name: policy.models[model].name)
        teamDays[team].add(spend, day: planned.day)
        return true
    }

    /// Adds a clean record's spend to total `index`, made (named `name`) on first use.
    /// The total is moved out and back, never copied: a copy would retain its name.
    @inline(__always)
    private static func addClean(_ totals: inout [AuditTotal?], _ index: Int, _ spend: USD, name: @autoclosure () -> String) {
        totals.withUnsafeMutableBufferPointer { buffer in
            var total = buffer[index].take() ?? AuditTotal(name: name())
            total.add(spend)
            buffer[index] = total
        }
    }

    /// Counts one violation in the totals and spools it.
    private mutating func report(_ violation: Violation, record: UnsafePointer<UsageRecord>, request: borrowing Request, candidate: Evaluator.Candidate,
                                 cost: USD?, spend: USD,
                                 reroute: AuditViolation.Reroute?)
    {
        switch violation.effect {
        case .deny: summary.denied += 1
        case .warn: summary.warned += 1
        case .waived: summary.waived += 1
        case .rerouted: break
        }
        // Updated in place: one lookup, and the total (with its name) is not copied.
        let denies = violation.effect == .deny
        byRule[violation.rule, default: AuditTotal(name: violation.rule)].count(spend, violations: 1, denied: denies)
        if let kept = options.violationsKept, spool.count >= kept {
            spool.drop()
            return
        }
        spool.append(AuditViolation(
            violation: violation, requestID: request.id, timestamp: record.pointee.timestamp, team: request.team,
            environment: request.environment, model: candidate.modelName, region: candidate.region, cost: cost,
            input: record.pointee.location, reroute: violation.effect == .deny ? reroute : nil))
    }

    /// A total by id for names the policy defines, by name otherwise.
    private static func add(_ known: inout [AuditTotal?], _ other: inout [String: AuditTotal], _ id: Int32, _ made: @autoclosure () -> String,
                            _ spend: USD, _ violations: Int, _ denied: Bool)
    {
        // In place: a copy of the total would retain its name.
        if id >= 0 {
            known.withUnsafeMutableBufferPointer { buffer in
                var total = buffer[Int(id)].take() ?? AuditTotal(name: made())
                total.count(spend, violations: violations, denied: denied)
                buffer[Int(id)] = total
            }
        } else {
            let name = made()
            other[name, default: AuditTotal(name: name)].count(spend, violations: violations, denied: denied)
        }
    }

    private mutating func teamRow(_ id: Int32, _ made: @autoclosure () -> String) -> Int {
        if id >= 0 { return Int(id) }
        let name = made()
        if let row = otherTeamIDs[name] { return row }
        teamDays.append(DailySpend())
        otherTeamIDs[name] = teamDays.count - 1
        return teamDays.count - 1
    }

    /// The slot of counter `offset` of a record (of `prepared`, else a planned record), created on first use.
    private mutating func slotFor(_ counter: UnsafePointer<ReplayCounter>, _ prepared: PreparedEvaluation?, _ offset: Int) -> Int32 {
        if let cached = cachedSlot(counter.pointee.line, budget: counter.pointee.budget, window: counter.pointee.window,
                                   key: counter.pointee.hasKey) {
            return cached
        }
        let cacheIndex = counter.pointee.line & slotMask
        let entry = reservation(counter, prepared, offset)
        let key = entry.counter
        if let slot = slotIndex[key] {
            slotCache[cacheIndex] = slot
            return slot
        }
        let end = policy.zone.utc(fromLocal: CalendarWindow.localStart(key.window + 1, period: key.period))
        var slot = Slot(key: key, limits: entry.limits, budget: counter.pointee.budget, windowEnd: end)
        slot.nextAlert = Self.nextAlert(entry, after: 0)
        let index: Int32
        if let free = freeSlots.popLast() {
            index = free
            slots[Int(free)] = slot
        } else {
            index = Int32(slots.count)
            slots.append(slot)
        }
        slotIndex[key] = index
        slotCache[cacheIndex] = index
        return index
    }

    /// The slot the cache holds for a counter's line, if it is that counter's (live, same budget,
    /// window and scope key, `key` telling whether a slot's key is the counter's).
    @inline(__always)
    private func cachedSlot(_ line: Int, budget: Int32, window: Int64, key: (String) -> Bool) -> Int32? {
        let cached = slotCache[line & slotMask]
        guard cached >= 0, slots[Int(cached)].live, slots[Int(cached)].budget == budget, slots[Int(cached)].key.window == window,
              key(slots[Int(cached)].key.key) else { return nil }
        return cached
    }

    /// The full reservation of counter `offset` of a record (of `prepared`, else a planned record).
    private func reservation(_ counter: UnsafePointer<ReplayCounter>, _ prepared: PreparedEvaluation?, _ offset: Int) -> CounterReservation {
        prepared?.reservation(offset, evaluator) ?? evaluator.reservation(counter.pointee)
    }

    /// The amount of a counter's primary unit (USD, else tokens, else requests).
    @inline(__always)
    private static func primaryAmount(_ limits: BudgetLimits, _ amount: Amount) -> Int64 {
        if limits.usd != nil { return amount.usd }
        if limits.tokens != nil { return amount.tokens }
        return amount.requests
    }

    /// The primary amount at which the lowest alert above `fired` (ppm) fires; `Int64.max` when none.
    private static func nextAlert(_ entry: CounterReservation, after fired: Int64) -> Int64 {
        guard let threshold = entry.alerts.first(where: { $0 > fired }) else { return .max }
        let limit: Int64
        if let usd = entry.limits.usd { limit = usd.nanos } else if let tokens = entry.limits.tokens { limit = tokens } else if let requests = entry.limits.requests {
            limit = requests
        } else {
            return .max
        }
        guard limit > 0 else { return .max }
        // used × 1e6 >= limit × ppm  ⇔  used >= ceil(limit × ppm / 1e6)
        let line = (Int128(limit) * Int128(threshold) + 999_999) / 1_000_000
        return line > Int128(Int64.max) ? .max : Int64(line)
    }

    /// Where the policy would have sent a denied request: the first reroute candidate
    /// without a deny against the counters as they stood, re-priced at its model.
    private func whatIf(_ prepared: PreparedEvaluation) -> AuditViolation.Reroute? {
        var found: AuditViolation.Reroute?
        // The candidates from `start` on are assessed in full.
        let start: Int
        if let plans, let tests, let key = prepared.key {
            // A record with a plan key: its candidates walked from the replay's plans, up to the first
            // admitted or the first the plans do not decide.
            let unplanned = evaluator.forEachPlannedReroute(
                prepared.resolved, from: prepared.candidate, key: key, plans: plans, tests: tests,
                admits: { counter in CounterReservation.admits(CounterState(spent: standing(counter)), counter.amount, counter.limits) }
            ) { candidate, admitted in
                if admitted { found = AuditViolation.Reroute(model: candidate.modelName, region: candidate.region, cost: candidate.cost) }
                return admitted
            }
            guard let unplanned else { return found }
            start = unplanned
        } else if let known = prepared.reroutes {
            for option in known where found == nil { found = allowed(option) }
            // The prepared options stop at the first one only a budget could deny (the last, then):
            // a budget denied it, so the ones after it are assessed now.
            guard found == nil, let last = known.last, !last.assessment.denied else { return found }
            start = known.count
        } else {
            start = 0
        }
        // Assessed one at a time, up to the first one allowed.
        evaluator.forEachReroute(prepared.resolved, from: prepared.candidate, skipping: start, repricing: true) { option in
            found = allowed(option)
            return found != nil
        }
        return found
    }

    /// What a planned candidate's counter has spent as the replay stands (nothing when it has no slot).
    private func standing(_ counter: CandidateCounter) -> Amount {
        if let cached = cachedSlot(counter.line, budget: counter.budget, window: counter.window, key: { $0 == counter.key }) {
            return slots[Int(cached)].spent
        }
        let budget = policy.budgets[Int(counter.budget)]
        let key = CounterKey(budget: budget.id, budgetHash: budget.idHash, key: counter.key, keyHash: counter.keyHash,
                             period: budget.period, window: counter.window)
        return slotIndex[key].map { slots[Int($0)].spent } ?? Amount()
    }

    /// Where an option would have sent the request, unless a check or a counter (as it stands) denies it.
    private func allowed(_ option: Evaluator.Reroute) -> AuditViolation.Reroute? {
        let assessment = option.assessment
        guard !assessment.denied else { return nil }
        let counters = assessment.counters
        let denied = evaluator.budgetsDeny(assessment, spent: { offset in
            slotIndex[counters[offset].counter].map { slots[Int($0)].spent } ?? Amount()
        }, option.resolved)
        guard !denied else { return nil }
        let candidate = assessment.candidate
        return AuditViolation.Reroute(model: candidate.modelName, region: candidate.region, cost: option.sameModel ? assessment.cost : option.repriced)
    }

    /// Adds a record's amount to a counter, noting the first crossing of its cap and alert fractions.
    private mutating func count(_ counter: UnsafePointer<ReplayCounter>, slot index: Int, _ prepared: PreparedEvaluation?, _ offset: Int,
                                record: UnsafePointer<UsageRecord>)
    {
        let before = slots[index].spent
        let after = before + counter.pointee.amount
        slots[index].spent = after
        if slots[index].crossedAt == nil, !CounterReservation.admits(CounterState(spent: before), counter.pointee.amount, slots[index].limits) {
            slots[index].crossedAt = record.pointee.timestamp
            slots[index].crossedInput = record.pointee.location
        }
        guard counter.pointee.hasAlerts, Self.primaryAmount(slots[index].limits, after) >= slots[index].nextAlert else { return }
        let reservation = reservation(counter, prepared, offset)
        for threshold in reservation.crossedAlerts(before: before, after: after) where threshold > slots[index].alerted {
            slots[index].alerted = threshold
            let (unit, used, limit) = Self.primary(slots[index].limits, after)
            alerts.append(AuditAlert(counter: reservation.counter, threshold: threshold, unit: unit, used: used, limit: limit,
                                     at: record.pointee.timestamp, input: record.pointee.location))
        }
        slots[index].nextAlert = Self.nextAlert(reservation, after: slots[index].alerted)
    }

    /// The unit alerts and crossings are reported in: USD, else tokens, else requests.
    private static func primary(_ limits: BudgetLimits, _ spent: Amount) -> (BudgetStatus.Unit, Int64, Int64) {
        if let usd = limits.usd { return (.usd, spent.usd, usd.nanos) }
        if let tokens = limits.tokens { return (.tokens, spent.tokens, tokens) }
        return (.requests, spent.requests, limits.requests ?? 0)
    }

    private func crossing(_ slot: Slot) -> BudgetCrossing? {
        guard let at = slot.crossedAt, let input = slot.crossedInput else { return nil }
        // Report the unit that went over (USD first).
        let limits = slot.limits
        let (unit, spent, limit): (BudgetStatus.Unit, Int64, Int64)
        if let usd = limits.usd, slot.spent.usd > usd.nanos {
            (unit, spent, limit) = (.usd, slot.spent.usd, usd.nanos)
        } else if let tokens = limits.tokens, slot.spent.tokens > tokens {
            (unit, spent, limit) = (.tokens, slot.spent.tokens, tokens)
        } else {
            (unit, spent, limit) = (.requests, slot.spent.requests, limits.requests ?? 0)
        }
        let budget = slot.budget >= 0 ? policy.budgets[Int(slot.budget)] : nil
        return BudgetCrossing(counter: slot.key, unit: unit, limit: limit, spent: spent, firstCrossedAt: at, firstCrossedInput: input,
                              onExceed: budget?.onExceed ?? .deny, source: budget?.location ?? SourceLocation(file: "."))
    }

    /// Frees the slots of counters whose window has ended (keeping crossings): memory stays flat over long logs.
    package mutating func evictClosedWindows() {
        let now = latest.seconds
        for index in slots.indices where slots[index].live && slots[index].windowEnd <= now {
            if let crossing = crossing(slots[index]) { crossings.append(crossing) }
            if options.keepCounters { finished[slots[index].key, default: Amount()] += slots[index].spent }
            slotIndex[slots[index].key] = nil
            slots[index].live = false
            freeSlots.append(Int32(index))
        }
    }

    /// A warning per budget whose window is shorter than some of the aggregated rows replayed
    /// against the policy: a bucket counts all at once, so such a budget sees a day's (or an
    /// hour's) usage arrive at one instant.
    package static func bucketWarnings(_ widths: [Int64: Int], budgets: [BudgetDefinition]) -> [String] {
        guard let widest = widths.keys.max() else { return [] }
        var warnings: [String] = []
        for budget in budgets {
            let window = budget.period.shortestSeconds
            guard widest > window else { continue }
            let wider = widths.filter { $0.key > window }.values.reduce(0, +)
            warnings.append("budget \(budget.id) (\(budget.location)) has a window of one \(budget.period.rawValue), narrower than "
                + "\(ReportText.plural(wider, "aggregated record")) (buckets up to \(ReportText.duration(seconds: widest)) wide): "
                + "each bucket counts all at once, at the time it is dated to (docs/importers.md, \"Buckets: the day they count on\")")
        }
        return warnings
    }

    /// A warning per model whose batch or flex records were priced at the list price.
    package static func listPriceWarnings(_ listPriced: [String: Int]) -> [String] {
        listPriced.keys.sorted().map { key in
            "\(ReportText.plural(listPriced[key] ?? 0, "record")) of \(key) priced at the list price: neither the policy nor its "
                + "price table gives that tier's price (price.batch, price.flex, price.priority; docs/policy-language.md, \"Batch, flex and priority prices\")"
        }
    }

    package func report() -> AuditReport {
        var crossings = self.crossings
        for slot in slots where slot.live {
            if let crossing = crossing(slot) { crossings.append(crossing) }
        }
        var report = AuditReport(policyRevision: policy.revision, timezone: policy.settings.timezoneIdentifier, spool: spool)
        report.summary = summary
        report.budgets = crossings.sorted { ($0.firstCrossedAt, $0.counter.budget, $0.counter.key) < ($1.firstCrossedAt, $1.counter.budget, $1.counter.key) }
        report.alerts = alerts
        if options.keepCounters {
            var counters = finished
            for slot in slots where slot.live { counters[slot.key, default: Amount()] += slot.spent }
            report.counters = counters
        }
        let order = { (lhs: AuditTotal, rhs: AuditTotal) in (lhs.spend, rhs.name) > (rhs.spend, lhs.name) }
        report.byRule = byRule.values.sorted { ($0.records, $1.name) > ($1.records, $0.name) }
        report.byTeam = (teams.compactMap { $0 } + otherTeams.values).sorted(by: order)
        report.byEnvironment = (environments.compactMap { $0 } + otherEnvironments.values).sorted(by: order)
        report.byModel = (models.compactMap { $0 } + otherModels.values).sorted(by: order)
        report.malformed = malformed.sorted { $0.location < $1.location }
        let caps = Dictionary(policy.source.budgets.compactMap { budget in
            budget.team.flatMap { team in budget.period == .month ? (team, budget.limits.usd) : nil }
        }, uniquingKeysWith: { first, _ in first })
        for rule in policy.source.rules {
            report.rules[rule.id] = AuditRule(id: rule.id, kind: .rule, summary: rule.description ?? rule.message ?? rule.id, source: rule.location)
        }
        for budget in policy.source.budgets {
            report.rules[budget.id] = AuditRule(id: budget.id, kind: .budget, summary: budget.description ?? "budget \(budget.id)",
                                                source: budget.location)
        }
        report.warnings = Self.bucketWarnings(summary.bucketWidths, budgets: policy.source.budgets)
            + Self.listPriceWarnings(summary.listPriced)
        var names = policy.teams.map(\.name)
        for (name, row) in otherTeamIDs.sorted(by: { $0.value < $1.value }) where row == names.count { names.append(name) }
        report.series = zip(names, teamDays.map(\.all)).filter { !$0.1.isEmpty }.sorted { $0.0 < $1.0 }.map { team, spend in
            SpendSeries(team: team, monthlyCap: caps[team] ?? nil,
                        days: spend.keys.sorted().map { (CalendarWindow.label($0, period: .day), spend[$0] ?? .zero) })
        }
        return report
    }
}

/// One team's spend per local day index. Records come
/// in time order, so the current day is summed in place and reaches the
/// dictionary (and its hashing) only when the day changes.
package struct DailySpend {
    private var days: [Int64: USDTotal] = [:]
    private var day = Int64.min
    private var sum = USDTotal.zero

    /// Adds spend on local day `day`.
    @inline(__always)
    package mutating func add(_ spend: USD, day: Int64) {
        if day != self.day {
            if self.day != .min { days[self.day, default: .zero] += sum }
            self.day = day
            sum = .zero
        }
        sum += spend
    }

    /// Every day with a record, and its spend.
    package var all: [Int64: USDTotal] {
        var result = days
        if day != .min { result[day, default: .zero] += sum }
        return result
    }
}

extension AuditTotal {
    /// An empty total.
    package init(name: String) {
        self.init(name: name, records: 0, spend: .zero, violations: 0, violatingSpend: .zero)
    }

    /// Counts a clean record.
    @inline(__always)
    package mutating func add(_ spend: USD) {
        records += 1
        self.spend += spend
    }

    /// Counts a record with `violations` violations, `denied` or not.
    @inline(__always)
    package mutating func count(_ spend: USD, violations: Int, denied: Bool) {
        records += 1
        self.spend += spend
        self.violations += violations
        if denied { violatingSpend += spend }
    }
}

extension BudgetPeriod {
    /// The shortest a window of this period can be, in seconds (a month of 28 days, a
    /// quarter of 89, a year of 365): a bucket wider than this never fits in one window.
    fileprivate var shortestSeconds: Int64 {
        switch self {
        case .minute: return 60
        case .hour: return 3_600
        case .day: return 86_400
        case .week: return 7 * 86_400
        case .month: return 28 * 86_400
        case .quarter: return 89 * 86_400
        case .year: return 365 * 86_400
        }
    }
}
