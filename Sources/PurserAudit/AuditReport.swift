import Purser
/// One violation found in a usage log, with the record it came from.
public struct AuditViolation: Sendable {
    /// The violation (rule, kind, effect, severity, message, source, waived_by).
    public let violation: Violation
    /// The record's request id.
    public let requestID: String?
    /// When the record happened.
    public let timestamp: Timestamp
    public let team: String?
    public let environment: String?
    /// The model the record used (canonical when known).
    public let model: String
    public let region: String?
    /// The record's actual cost (nil when neither the log nor the price gives one).
    public let cost: USD?
    /// The log file and line.
    public let input: RecordLocation
    /// Where the policy would have sent the request instead, and what it would have cost.
    public let reroute: Reroute?

    /// A what-if: the candidate rerouting would have chosen.
    public struct Reroute: Sendable, Hashable {
        public let model: String
        public let region: String?
        /// The record's usage priced at that model (nil when the log has no token counts).
        public let cost: USD?

        package init(model: String, region: String?, cost: USD?) {
            self.model = model
            self.region = region
            self.cost = cost
        }
    }

    package init(violation: Violation, requestID: String?, timestamp: Timestamp, team: String?, environment: String?, model: String, region: String?, cost: USD?, input: RecordLocation, reroute: Reroute?) {
        self.violation = violation
        self.requestID = requestID
        self.timestamp = timestamp
        self.team = team
        self.environment = environment
        self.model = model
        self.region = region
        self.cost = cost
        self.input = input
        self.reroute = reroute
    }
}

/// A budget counter whose cap the log went over.
public struct BudgetCrossing: Sendable {
    /// The counter: budget id, scope key, window.
    public let counter: CounterKey
    /// What the cap counts.
    public let unit: BudgetStatus.Unit
    /// The cap.
    public let limit: Int64
    /// Spent in the window by the end of the log (nano-USD for `usd`).
    public let spent: Int64
    /// When the counter first went over the cap.
    public let firstCrossedAt: Timestamp
    /// The record that took it over.
    public let firstCrossedInput: RecordLocation
    /// Hard (`deny`) or soft (`warn`).
    package let onExceed: BudgetAction
    /// Where the budget is defined.
    public let source: SourceLocation

    /// How far over the cap the window ended.
    public var overspend: Int64 { spent - limit }
}

/// A counter crossing one of its `alerts` fractions during the replay.
public struct AuditAlert: Sendable {
    public let counter: CounterKey
    /// The fraction, in parts per million.
    public let threshold: Int64
    public let unit: BudgetStatus.Unit
    public let used: Int64
    public let limit: Int64
    /// When, and which record.
    public let at: Timestamp
    public let input: RecordLocation
}

/// Aggregates per team, environment, model or rule.
public struct AuditTotal: Sendable, Hashable {
    /// The team, environment, model or rule id.
    public let name: String
    /// Records (for rules: violations).
    public var records: Int
    /// Their spend.
    public var spend: USDTotal
    /// Violations among them (any effect).
    public var violations: Int
    /// Spend of records with a deny violation.
    public var violatingSpend: USDTotal
}

/// Daily spend of a team, against its monthly cap (for charts).
public struct SpendSeries: Sendable {
    public let team: String
    /// The team's monthly cap, when it has one.
    public let monthlyCap: USD?
    /// Spend per local day, in day order: (day label, spend that day).
    public let days: [(day: String, spend: USDTotal)]

    /// One series adding up several teams' spend day by day, without a cap (for charts).
    package static func grouping(_ series: [SpendSeries], as name: String) -> SpendSeries {
        var sums: [String: USDTotal] = [:]
        for one in series {
            for (day, spend) in one.days { sums[day, default: .zero] += spend }
        }
        return SpendSeries(team: name, monthlyCap: nil, days: sums.keys.sorted().map { ($0, sums[$0] ?? .zero) })
    }

    package init(team: String, monthlyCap: USD?, days: [(day: String, spend: USDTotal)]) {
        self.team = team
        self.monthlyCap = monthlyCap
        self.days = days
    }
}

/// What a violation's rule id refers to: a built-in check, a budget or a rule (for rule lists in reports).
public struct AuditRule: Sendable, Hashable {
    /// The id, as violations carry it.
    public let id: String
    /// The violation kind it raises.
    public let kind: ViolationKind
    /// One line on what it enforces.
    public let summary: String
    /// Where it is defined (nil for built-in checks).
    public let source: SourceLocation?

    /// Creates a rule description.
    public init(id: String, kind: ViolationKind, summary: String, source: SourceLocation?) {
        self.id = id
        self.kind = kind
        self.summary = summary
        self.source = source
    }
}

/// The result of replaying usage logs against a policy.
public struct AuditReport: Sendable {
    /// Counts and money.
    public struct Summary: Sendable {
        public var files: [String] = []
        public var records = 0
        public var malformed = 0
        /// Log entries left out on purpose (charges that are not usage, refunds, failed calls that cost nothing), by reason.
        public var skipped: [String: Int] = [:]
        public var first: Timestamp?
        public var last: Timestamp?
        /// Every record's cost.
        public var totalSpend = USDTotal.zero
        /// Records without a cost (no price, no cost in the log).
        public var unpricedRecords = 0
        /// Violations by effect.
        public var violations = 0
        public var denied = 0
        public var warned = 0
        public var waived = 0
        /// Records with at least one unwaived deny violation, and their spend.
        public var violatingRecords = 0
        public var spendBreakingPolicy = USDTotal.zero
        /// Violating records the policy would have rerouted, and what that would have saved.
        public var reroutable = 0
        public var reroutingSavings = USDTotal.zero
        /// Violating records the policy would have denied outright, and their spend.
        public var blockable = 0
        public var blockableSpend = USDTotal.zero
        /// Whether the input had to be sorted by time.
        public var sorted = false
        /// Files and directories not read (a repeat of a log, a name that is not a log's), and why.
        public var skippedFiles: [SkippedLog] = []
        /// Records read but outside `--since`/`--until`: not replayed, not in any total but this one.
        public var outOfWindow = 0
        /// How many malformed records `--max-malformed` allows (0: none).
        public var malformedAllowed = 0
        /// Records read from aggregated rows (OpenAI buckets, FOCUS charge periods), by the bucket's width in seconds.
        public var bucketWidths: [Int64: Int] = [:]
        /// Batch, flex and priority records priced at the list price for want of a tier price, by `model (tier)`.
        public var listPriced: [String: Int] = [:]

        /// Malformed records within the tolerance (all of them, or 0 when there are more than it allows).
        public var malformedTolerated: Int { malformed <= malformedAllowed ? malformed : 0 }
        /// Whether there are more malformed records than the tolerance allows: the log was
        /// not audited whole, and `purser audit` exits 1 (docs/audit-reports.md, "Exit codes").
        public var malformedExceeded: Bool { malformed > malformedAllowed }
    }

    public package(set) var summary = Summary()
    /// Counters that went over their caps, in the order they first did.
    public package(set) var budgets: [BudgetCrossing] = []
    /// Alert fractions crossed, in time order.
    public package(set) var alerts: [AuditAlert] = []
    /// Every budget counter's spend over the replay, when the audit was asked to keep them
    /// (`purser ledger reconcile`); empty otherwise.
    package var counters: [CounterKey: Amount] = [:]
    /// Totals by rule id, team, environment and model, largest spend first.
    public package(set) var byRule: [AuditTotal] = []
    public package(set) var byTeam: [AuditTotal] = []
    public package(set) var byEnvironment: [AuditTotal] = []
    public package(set) var byModel: [AuditTotal] = []
    /// The first malformed records (all are counted in `summary.malformed`).
    public package(set) var malformed: [MalformedRecord] = []
    /// Daily spend per team.
    public package(set) var series: [SpendSeries] = []
    /// What the analyst should know about how the logs met the policy: aggregated rows wider
    /// than a budget's window (docs/importers.md, "Buckets: the day they count on").
    public package(set) var warnings: [String] = []
    /// The policy's rules and budgets by id (built-in checks are described by ``rule(_:)``).
    public package(set) var rules: [String: AuditRule] = [:]
    /// The policy revision replayed against.
    public let policyRevision: String
    /// The policy's time zone (windows and days are in it).
    public let timezone: String
    /// The violations, as JSON Lines (docs/wire-formats.md, "Audit violations"), in time order (a spool file; read it with `forEachViolation`).
    package let spool: ViolationSpool

    package init(policyRevision: String, timezone: String, spool: ViolationSpool) {
        self.policyRevision = policyRevision
        self.timezone = timezone
        self.spool = spool
    }

    /// Calls `body` with every violation, in time order, reading them back from disk.
    public func forEachViolation(_ body: (AuditViolation) throws -> Void) throws {
        try spool.forEach(body)
    }

    /// Calls `body` with the first `limit` violations, in time order, and stops reading there.
    public func forEachViolation(first limit: Int, _ body: (AuditViolation) throws -> Void) throws {
        guard limit > 0 else { return }
        struct Enough: Error {}
        var seen = 0
        do {
            try spool.forEach { violation in
                try body(violation)
                seen += 1
                if seen >= limit { throw Enough() }
            }
        } catch is Enough {
            return
        }
    }

    /// The number of violations (every effect).
    public var violationCount: Int { spool.count + spool.dropped }

    /// Whether the report kept every violation (``AuditOptions/violationsKept`` was nil or not reached).
    public var keptEveryViolation: Bool { spool.dropped == 0 }

    /// What a rule id refers to: a built-in check, or a rule or budget of the policy.
    public func rule(_ id: String) -> AuditRule {
        if let check = BuiltinCheck(rawValue: id) {
            return AuditRule(id: id, kind: check.kind, summary: check.summary, source: nil)
        }
        return rules[id] ?? AuditRule(id: id, kind: .rule, summary: id, source: nil)
    }

    /// The violations as JSON Lines bytes (docs/wire-formats.md, "Audit violations"), chunk by chunk (for `--format jsonl`).
    public func forEachViolationChunk(_ body: ([UInt8]) throws -> Void) throws {
        try spool.forEachChunk(body)
    }
}
