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
    /// Where spool and sort files go.
    public var temporaryDirectory = NSTemporaryDirectory()
    /// Records per sorted run when the input has to be sorted.
    public var runSize = 1_000_000
    /// How many malformed records are listed (all are counted).
    public var malformedListed = 1000

    /// The defaults.
    public init() {}
}

/// Progress of a replay, for a progress bar.
public struct AuditProgress: Sendable {
    /// What is happening: `replaying` or `sorting`.
    public let phase: String
    /// Records done so far.
    public let records: Int
}

/// Replays usage logs against a policy with fresh counters (SPEC §6 `audit`):
/// every record's actual cost is counted whether or not it broke policy, and
/// a record violates a budget when the counter, with the record added, is
/// over the limit.
///
/// Records are replayed in time order across files. Files in time order
/// stream through in bounded memory (parsing overlaps with evaluation); a
/// file out of order is sorted on disk and the replay starts again.
public final class Auditor: @unchecked Sendable {
    // Not shared across threads: one audit runs on the calling thread (its readers on their own).
    /// The policy replayed against.
    public let policy: CompiledPolicy
    /// The options.
    public let options: AuditOptions
    /// Called now and then with the number of records done.
    public var progress: (@Sendable (AuditProgress) -> Void)?

    /// Creates an auditor.
    public init(policy: CompiledPolicy, options: AuditOptions = AuditOptions()) {
        self.policy = policy
        self.options = options
    }

    /// Replays the logs and returns the report. Throws when a log cannot be read at
    /// all, or on the first malformed record with `strictInput`.
    public func run(_ files: [String]) throws(AuditError) -> AuditReport {
        let spool: ViolationSpool
        do throws(UsageLogError) {
            spool = try ViolationSpool(directory: options.temporaryDirectory)
        } catch {
            throw AuditError(error.description)
        }
        // First try streaming; a file out of order beyond a batch means sorting and starting again.
        do {
            var sources: [any RecordSource] = []
            for file in files { sources.append(StreamSource(reader: try open(file), file: file)) }
            return try replay(Merger(sources), files: files, spool: spool, sorted: false, malformed: [])
        } catch let error where error.message == AuditError.disorder.message {
            spool.reset()
        }
        let sorter = ExternalSort(directory: options.temporaryDirectory, runSize: options.runSize)
        let progress = self.progress
        let malformed = try sorter.split(files, options: options.logs) { count in progress?(AuditProgress(phase: "sorting", records: count)) }
        if options.strictInput, let first = malformed.first {
            throw AuditError("\(first.location): \(first.message) (--strict-input)")
        }
        return try replay(Merger(try sorter.sources(files: files)), files: files, spool: spool, sorted: true, malformed: malformed,
                          skipped: sorter.skipped)
    }

    private func open(_ file: String) throws(AuditError) -> any UsageLogReader {
        do throws(UsageLogError) {
            return try UsageLogs.open(file, options: options.logs)
        } catch {
            throw AuditError(error.description)
        }
    }

    private func replay(_ merger: consuming Merger, files: [String], spool: ViolationSpool, sorted: Bool,
                        malformed initial: [MalformedRecord], skipped: [String: Int] = [:]) throws(AuditError) -> AuditReport
    {
        var merger = merger
        let state = ReplayState(policy: policy, spool: spool, options: options)
        state.summary.files = files
        state.summary.sorted = sorted
        for entry in initial { state.addMalformed(entry) }
        var count = 0
        defer { merger.cancel() }
        while let record = try merger.next() {
            for entry in merger.takeMalformed() {
                if options.strictInput { throw AuditError("\(entry.location): \(entry.message) (--strict-input)") }
                state.addMalformed(entry)
            }
            state.process(record)
            count += 1
            if count & 0xFFFF == 0 {
                state.evictClosedWindows()
                progress?(AuditProgress(phase: "replaying", records: count))
            }
        }
        for entry in merger.takeMalformed() {
            if options.strictInput { throw AuditError("\(entry.location): \(entry.message) (--strict-input)") }
            state.addMalformed(entry)
        }
        state.summary.skipped = skipped.merging(merger.skipped, uniquingKeysWith: +)
        spool.flush()
        progress?(AuditProgress(phase: "done", records: count))
        return state.report()
    }
}

/// The mutable state of one replay: counters, totals and the spool.
final class ReplayState {
    private struct Counter {
        var spent = Amount()
        let limits: BudgetLimits
        let onExceed: BudgetAction
        let source: SourceLocation
        var crossedAt: Timestamp?
        var crossedInput: RecordLocation?
        /// The highest alert fraction fired, in parts per million.
        var alerted: Int64 = 0
    }

    private let policy: CompiledPolicy
    private let evaluator: Evaluator
    private let spool: ViolationSpool
    private let options: AuditOptions
    private var counters: [CounterKey: Counter] = [:]
    private var crossings: [BudgetCrossing] = []
    private var alerts: [AuditAlert] = []
    private var byRule: [String: AuditTotal] = [:]
    private var byTeam: [String: AuditTotal] = [:]
    private var byEnvironment: [String: AuditTotal] = [:]
    private var byModel: [String: AuditTotal] = [:]
    private var days: [String: [Int64: Int64]] = [:]
    private var malformed: [MalformedRecord] = []
    private var latest = Timestamp(nanoseconds: Int64.min)
    var summary = AuditReport.Summary()

    init(policy: CompiledPolicy, spool: ViolationSpool, options: AuditOptions) {
        self.policy = policy
        self.evaluator = Evaluator(policy: policy)
        self.spool = spool
        self.options = options
    }

    func addMalformed(_ entry: MalformedRecord) {
        summary.malformed += 1
        if malformed.count < options.malformedListed { malformed.append(entry) }
    }

    func process(_ record: UsageRecord) {
        let time = record.timestamp
        if let since = options.since, time < since { return }
        if let until = options.until, time >= until { return }
        summary.records += 1
        if summary.first == nil { summary.first = time }
        summary.last = time
        if time > latest { latest = time }

        let resolved = evaluator.resolve(record.request, now: time)
        let candidate = evaluator.original(resolved)
        var assessment = evaluator.assess(resolved, candidate)
        let cost = assessment.cost

        // Budget violations against the counters as they were before this record.
        var before: [CounterState] = []
        before.reserveCapacity(assessment.counters.count)
        for entry in assessment.counters {
            before.append(CounterState(spent: counters[entry.counter]?.spent ?? Amount(), reserved: Amount()))
        }
        evaluator.applyBudgets(&assessment, states: before, resolved)

        let denied = assessment.violations.contains { $0.effect == .deny }
        var reroute: AuditViolation.Reroute?
        if denied { reroute = whatIf(resolved, candidate) }

        // The spend happened: count it.
        for (offset, entry) in assessment.counters.enumerated() {
            count(entry, before: before[offset].spent, record: record)
        }

        // Totals.
        let spend = cost ?? .zero
        if cost == nil { summary.unpricedRecords += 1 }
        summary.totalSpend += spend
        let violations = assessment.violations.count
        summary.violations += violations
        if denied {
            summary.violatingRecords += 1
            summary.spendBreakingPolicy += spend
            if let reroute {
                summary.reroutable += 1
                if let rerouted = reroute.cost, rerouted < spend { summary.reroutingSavings += spend - rerouted }
            } else {
                summary.blockable += 1
                summary.blockableSpend += spend
            }
        }
        let team = record.request.team ?? "(none)"
        let environment = record.request.environment ?? "(none)"
        Self.add(&byTeam, team, spend, violations, denied)
        Self.add(&byEnvironment, environment, spend, violations, denied)
        Self.add(&byModel, candidate.modelName, spend, violations, denied)
        let day = CalendarWindow.index(of: time.seconds, period: .day, zone: policy.zone)
        days[team, default: [:]][day, default: 0] &+= spend.nanos

        for violation in assessment.violations {
            switch violation.effect {
            case .deny: summary.denied += 1
            case .warn: summary.warned += 1
            case .waived: summary.waived += 1
            case .rerouted: break
            }
            Self.add(&byRule, violation.rule, spend, 1, violation.effect == .deny)
            spool.append(AuditViolation(
                violation: violation, requestID: record.request.id, timestamp: time, team: record.request.team,
                environment: record.request.environment, model: candidate.modelName, region: candidate.region, cost: cost,
                input: record.location, reroute: violation.effect == .deny ? reroute : nil))
        }
    }

    private static func add(_ totals: inout [String: AuditTotal], _ name: String, _ spend: USD, _ violations: Int, _ denied: Bool) {
        var total = totals[name] ?? AuditTotal(name: name, records: 0, spend: .zero, violations: 0, violatingSpend: .zero)
        total.records += 1
        total.spend += spend
        total.violations += violations
        if denied { total.violatingSpend += spend }
        totals[name] = total
    }

    /// Where the policy would have sent a denied request: the first reroute candidate
    /// without a deny against the counters as they stood, re-priced at its model.
    private func whatIf(_ resolved: Evaluator.Resolved, _ original: Evaluator.Candidate) -> AuditViolation.Reroute? {
        for candidate in evaluator.fallbacks(resolved, from: original) {
            // Another region of the same model costs what the record cost; another model is re-priced from the usage.
            var request = resolved.request
            let sameModel = candidate.model == original.model
            let repriced = !sameModel && candidate.model >= 0 && request.usage.totalTokens > 0
                ? policy.models[Int(candidate.model)].rates?.cost(request.usage) : nil
            if let repriced { request.cost = repriced }
            let again = evaluator.resolve(request, now: resolved.timestamp)
            var assessment = evaluator.assess(again, candidate)
            guard !assessment.denied else { continue }
            let states = assessment.counters.map { CounterState(spent: counters[$0.counter]?.spent ?? Amount(), reserved: Amount()) }
            evaluator.applyBudgets(&assessment, states: states, again)
            guard !assessment.denied else { continue }
            return AuditViolation.Reroute(model: candidate.modelName, region: candidate.region, cost: sameModel ? assessment.cost : repriced)
        }
        return nil
    }

    /// Adds a record's amount to a counter, noting the first crossing of its cap and alert fractions.
    private func count(_ entry: CounterReservation, before: Amount, record: UsageRecord) {
        var counter = counters[entry.counter] ?? Counter(
            limits: entry.limits, onExceed: policy.budgetLookup[entry.counter.budget].map { policy.budgets[Int($0)].onExceed } ?? .deny,
            source: policy.budgetLookup[entry.counter.budget].map { policy.budgets[Int($0)].location } ?? SourceLocation(file: "."))
        counter.spent += entry.amount
        if counter.crossedAt == nil, !entry.admits(CounterState(spent: before, reserved: Amount())) {
            counter.crossedAt = record.timestamp
            counter.crossedInput = record.location
        }
        for threshold in entry.crossedAlerts(before: before, after: counter.spent) where threshold > counter.alerted {
            counter.alerted = threshold
            let (unit, used, limit) = Self.primary(entry.limits, counter.spent)
            alerts.append(AuditAlert(counter: entry.counter, threshold: threshold, unit: unit, used: used, limit: limit,
                                     at: record.timestamp, input: record.location))
        }
        counters[entry.counter] = counter
    }

    /// The unit alerts and crossings are reported in: USD, else tokens, else requests.
    private static func primary(_ limits: BudgetLimits, _ spent: Amount) -> (BudgetStatus.Unit, Int64, Int64) {
        if let usd = limits.usd { return (.usd, spent.usd, usd.nanos) }
        if let tokens = limits.tokens { return (.tokens, spent.tokens, tokens) }
        return (.requests, spent.requests, limits.requests ?? 0)
    }

    private func crossing(_ key: CounterKey, _ counter: Counter) -> BudgetCrossing? {
        guard let at = counter.crossedAt, let input = counter.crossedInput else { return nil }
        // Report the unit that went over (USD first).
        let limits = counter.limits
        let (unit, spent, limit): (BudgetStatus.Unit, Int64, Int64)
        if let usd = limits.usd, counter.spent.usd > usd.nanos {
            (unit, spent, limit) = (.usd, counter.spent.usd, usd.nanos)
        } else if let tokens = limits.tokens, counter.spent.tokens > tokens {
            (unit, spent, limit) = (.tokens, counter.spent.tokens, tokens)
        } else {
            (unit, spent, limit) = (.requests, counter.spent.requests, limits.requests ?? 0)
        }
        return BudgetCrossing(counter: key, unit: unit, limit: limit, spent: spent, firstCrossedAt: at, firstCrossedInput: input,
                              onExceed: counter.onExceed, source: counter.source)
    }

    /// Forgets counters whose window has ended (keeping crossings): memory stays flat over long logs.
    func evictClosedWindows() {
        let now = latest.seconds
        var closed: [CounterKey] = []
        for key in counters.keys {
            let end = policy.zone.utc(fromLocal: CalendarWindow.localStart(key.window + 1, period: key.period))
            if end <= now { closed.append(key) }
        }
        for key in closed {
            if let counter = counters.removeValue(forKey: key), let crossing = crossing(key, counter) { crossings.append(crossing) }
        }
    }

    func report() -> AuditReport {
        for (key, counter) in counters {
            if let crossing = crossing(key, counter) { crossings.append(crossing) }
        }
        var report = AuditReport(policyRevision: policy.revision, timezone: policy.settings.timezoneIdentifier, spool: spool)
        report.summary = summary
        report.budgets = crossings.sorted { ($0.firstCrossedAt, $0.counter.budget, $0.counter.key) < ($1.firstCrossedAt, $1.counter.budget, $1.counter.key) }
        report.alerts = alerts
        let order = { (lhs: AuditTotal, rhs: AuditTotal) in (lhs.spend, rhs.name) > (rhs.spend, lhs.name) }
        report.byRule = byRule.values.sorted { ($0.records, $1.name) > ($1.records, $0.name) }
        report.byTeam = byTeam.values.sorted(by: order)
        report.byEnvironment = byEnvironment.values.sorted(by: order)
        report.byModel = byModel.values.sorted(by: order)
        report.malformed = malformed.sorted { $0.location < $1.location }
        let caps = Dictionary(policy.source.budgets.compactMap { budget in
            budget.team.flatMap { team in budget.period == .month ? (team, budget.limits.usd) : nil }
        }, uniquingKeysWith: { first, _ in first })
        report.series = days.keys.sorted().map { team in
            let spend = days[team] ?? [:]
            return SpendSeries(team: team, monthlyCap: caps[team] ?? nil,
                               days: spend.keys.sorted().map { (CalendarWindow.label($0, period: .day), USD(nanos: spend[$0] ?? 0)) })
        }
        return report
    }
}
