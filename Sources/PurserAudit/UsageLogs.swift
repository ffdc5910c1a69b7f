import Purser
/// The usage-log formats `purser audit` reads (`--input-format`).
public enum UsageLogFormat: String, Sendable, CaseIterable {
    /// Detect from the first bytes of each file.
    case auto
    /// Purser's own JSON Lines: one request per line, `timestamp` required (docs/wire-formats.md, "Usage records").
    case purser
    /// LiteLLM spend logs: JSON lines, the CSV export of `LiteLLM_SpendLogs`, or
    /// the bodies of `GET /spend/logs` (an array of rows) and `/spend/logs/v2` (pages).
    case litellm
    /// OpenAI organization usage and costs pages (`/v1/organization/usage/completions`,
    /// `/usage/embeddings`, `/costs`).
    case openaiUsage = "openai-usage"
    /// FinOps FOCUS 1.x CSV.
    case focus
    /// Purser's decision logs (`purser serve --decision-log`): each allowed authorization, at its
    /// settled cost when it was settled (docs/importers.md, "Decision logs (decision-log)").
    case decisionLog = "decision-log"
}

/// A request field a `--map FIELD=PATH` rule fills.
public enum MappedField: Sendable, Hashable, CustomStringConvertible {
    case team, environment, user, model, region, id
    /// `tags.KEY`
    case tag(String)

    /// Parses `team`, `tags.project`, …
    public init?(_ name: String) {
        switch name {
        case "team": self = .team
        case "environment": self = .environment
        case "user": self = .user
        case "model": self = .model
        case "region": self = .region
        case "id": self = .id
        default:
            guard name.hasPrefix("tags."), name.count > 5 else { return nil }
            self = .tag(String(name.dropFirst(5)))
        }
    }

    public var description: String {
        switch self {
        case .team: return "team"
        case .environment: return "environment"
        case .user: return "user"
        case .model: return "model"
        case .region: return "region"
        case .id: return "id"
        case .tag(let key): return "tags.\(key)"
        }
    }
}

/// Where a mapped value comes from in a log record (the PATH of `--map FIELD=PATH`):
/// a column or top-level key (`team_id`), a key inside a JSON column
/// (`metadata.user_api_key_team_alias`), or a tag (`tags.env`, LiteLLM
/// `request_tags` entries like `env:prod`, FOCUS `Tags`).
public struct FieldPath: Sendable, Hashable, CustomStringConvertible {
    /// The dotted path as written.
    public let components: [String]

    /// Parses `metadata.user_api_key_team_alias`; nil if empty.
    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !text.isEmpty, !parts.contains(where: \.isEmpty) else { return nil }
        components = parts
    }

    public var description: String { components.joined(separator: ".") }
}

/// `--map` rules: which log path fills which request field. Each importer has
/// defaults (LiteLLM's `team_id`, FOCUS `Tags.team`…); a rule overrides them.
public struct FieldMapping: Sendable, Hashable {
    /// The rules, in the order given.
    public var rules: [(field: MappedField, path: FieldPath)] = []

    /// No rules: every importer's defaults.
    public init() {}

    /// `--map cost=COLUMN`: the column a FOCUS file's cost is read from instead
    /// of `BilledCost` (e.g. `EffectiveCost`); only the FOCUS importer reads it
    /// (docs/importers.md, "FOCUS 1.x (focus)").
    package var costPath: FieldPath?

    /// Parses `FIELD=PATH`, e.g. `team=metadata.user_api_key_team_alias`.
    public mutating func add(_ rule: String) throws(UsageLogError) {
        guard let equals = rule.firstIndex(of: "=") else {
            throw UsageLogError("--map takes FIELD=PATH, e.g. team=metadata.team_alias; got \"\(rule)\"", file: "--map")
        }
        let name = String(rule[..<equals])
        guard name == "cost" || MappedField(name) != nil else {
            throw UsageLogError("--map: unknown field \"\(name)\"; map team, environment, user, model, region, id, tags.KEY or (FOCUS) cost",
                                file: "--map")
        }
        guard let path = FieldPath(String(rule[rule.index(after: equals)...])) else {
            throw UsageLogError("--map \(name)= needs a path, e.g. metadata.team_alias", file: "--map")
        }
        guard let field = MappedField(name) else {
            guard path.components.count == 1 else {
                throw UsageLogError("--map cost= takes a column name, e.g. cost=EffectiveCost; got \"\(path)\"", file: "--map")
            }
            costPath = path
            return
        }
        rules.removeAll { $0.field == field }
        rules.append((field, path))
    }

    /// The path for a field, if a rule sets one.
    public func path(for field: MappedField) -> FieldPath? {
        rules.first { $0.field == field }?.path
    }

    public static func == (lhs: FieldMapping, rhs: FieldMapping) -> Bool {
        lhs.rules.map(\.field) == rhs.rules.map(\.field) && lhs.rules.map(\.path) == rhs.rules.map(\.path)
            && lhs.costPath == rhs.costPath
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(costPath)
        for rule in rules {
            hasher.combine(rule.field)
            hasher.combine(rule.path)
        }
    }
}

/// How to read usage logs.
public struct UsageLogOptions: Sendable {
    /// The format, or `auto` to detect it per file.
    public var format: UsageLogFormat = .auto
    /// `--map` rules.
    public var mapping = FieldMapping()
    /// The largest record accepted in bytes (a record-size limit: a 100 MB line is one malformed record, not an out-of-memory).
    public var maxRecordBytes = 1 << 20
    /// Records per batch a reader returns. Small enough that a batch stays in a core's cache
    /// while it is decoded and prepared (1,024 Purser log lines read 15–20% faster end to end than
    /// 4,096); a log out of time order by more than a batch is sorted before it is replayed.
    public var batchSize = 1024
    /// When aggregated rows (OpenAI buckets, FOCUS charge periods) count: set by the
    /// auditor from the policy's time zone (docs/importers.md, "Buckets: the day they count on").
    package var dating = BucketDating.utc
    /// How batch, flex and priority usage is priced: set by the auditor from the policy's models
    /// (docs/policy-language.md, "Batch, flex and priority prices").
    package var pricing = TierPricing.none
    /// The settles and releases of every decision log of an audit, read by the auditor before
    /// the logs are replayed (a settle may be in a later file than its authorization); without
    /// it a decision log's reader reads its own file's first.
    package var decisionLogIndex: DecisionLogIndex?

    /// The defaults.
    public init() {}
}

/// Reads one usage log, batch by batch, in file order.
///
/// Readers never throw for a bad record: they report it in the batch's
/// `malformed` list with its line and go on. They throw only when the file
/// itself cannot be read.
public protocol UsageLogReader: AnyObject {
    /// The format being read.
    var format: UsageLogFormat { get }
    /// The next batch, or nil at the end of the file.
    func next() throws(UsageLogError) -> RecordBatch?
}

/// Opening usage logs of any supported format.
public enum UsageLogs {
    /// How many bytes of a file `detect` looks at.
    public static let detectionBytes = 64 * 1024

    /// Opens a reader for a log file, detecting its format when asked.
    public static func open(_ path: String, options: UsageLogOptions) throws(UsageLogError) -> any UsageLogReader {
        try open(LogSource.open(path), options: options)
    }

    /// Opens a reader over a log source from its start, detecting its format when asked.
    public static func open(_ source: LogSource, options: UsageLogOptions) throws(UsageLogError) -> any UsageLogReader {
        let file = try LogFile(source)
        let path = source.name
        var format = options.format
        if format == .auto {
            let head = try file.peek(detectionBytes)
            if LogFormatDetection.firstByte(head) == nil {
                return PurserLogReader(file: file, options: options)  // empty: nothing to read in any format
            }
            guard let detected = detect(head) else {
                throw UsageLogError("cannot tell the log format from the first bytes; pass --input-format purser|litellm|openai-usage|focus|decision-log", file: path)
            }
            format = detected
        }
        if let cost = options.mapping.costPath, format != .focus {
            throw UsageLogError("--map cost=\(cost) is read only from FOCUS files; this file is read as \(format.rawValue)", file: path)
        }
        switch format {
        case .purser, .auto: return PurserLogReader(file: file, options: options)
        case .litellm: return try LiteLLMReader.open(file, options)
        case .openaiUsage: return OpenAIUsageReader(file: file, options: options)
        case .focus: return FOCUSReader(file: file, options: options)
        case .decisionLog: return try DecisionLogReader(file: file, source: source, options: options)
        }
    }

    /// The format of a log from its first bytes, or nil when it is not recognisable.
    public static func detect(_ head: [UInt8]) -> UsageLogFormat? {
        LogFormatDetection.detect(head)
    }
}
