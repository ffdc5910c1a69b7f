import PurserCore
import PurserPolicy
import PurserYAML

/// Test cases for a policy (`*.test.yaml`; docs/cli.md, "Test files"): a request, optional
/// starting spend, and the parts of the decision that are expected.
///
/// ```yaml
/// version: 1
/// tests:
///   - name: qa cannot use frontier, reroutes to sonnet
///     spend: [{budget: team.payments.month, key: payments, spent: 4999.5}]
///     request: {team: payments, environment: qa, model: claude-opus-4-5, usage: {input_tokens: 1000}}
///     expect: {decision: allow, model: claude-sonnet-4-5, rerouted: true, violations: [environment-model]}
/// ```
package struct PolicyTestSuite: Sendable {
    /// One test case.
    package struct Case: Sendable {
        /// The case's name.
        package let name: String
        /// Where the case is written.
        package let location: SourceLocation
        /// Spend on counters before the request.
        package let spend: [(counter: CounterKey, amount: Amount)]
        /// The request.
        package let request: Request
        /// "Now", when the request has no timestamp.
        package let now: Timestamp?
        /// What the decision must show.
        package let expect: Expectation
    }

    /// The fields of a decision a case checks; nil fields are not compared.
    package struct Expectation: Sendable {
        package var decision: Verdict?
        package var model: String?
        /// The expected region; `.some(nil)` expects no region.
        package var region: String??
        package var rerouted: Bool?
        /// Rule ids of every violation (any effect), compared as a multiset.
        package var violations: [String]?
        /// The effect of named violations.
        package var effects: [String: ViolationEffect] = [:]
        package var cost: USD?
        /// Budget ids that must raise alerts.
        package var alerts: [String]?
    }

    /// The cases, in file order.
    package let cases: [Case]
    /// Problems with the test files (a suite with errors must not run).
    package let diagnostics: [Diagnostic]
    /// The test files read.
    package let files: [String]

    /// Loads test files from files and directories (`*.test.yaml`, `*.test.yml`).
    /// Symlinks out of a directory given are refused unless `allowOutsideRoots`.
    package static func load(paths: [String], policy: PolicySet, allowOutsideRoots: Bool = false) -> PolicyTestSuite {
        let (files, problems) = PolicyFiles.discover(paths, tests: true, allowOutsideRoots: allowOutsideRoots)
        var diagnostics = problems.map(\.diagnostic)
        var cases: [Case] = []
        let reader = YAMLReader()
        for file in files {
            let bytes: [UInt8]
            switch PolicyFiles.read(file, limit: reader.limits.maxBytes) {
            case .failure(let problem):
                diagnostics.append(Diagnostic(problem.code, problem.message, at: SourceLocation(file: file)))
                continue
            case .success(let contents):
                bytes = contents
            }
            do {
                let context = DecodingContext(file: file)
                let decoder = TestCaseDecoder(context: context, policy: policy)
                for document in try reader.read(bytes, file: file) {
                    cases.append(contentsOf: decoder.decode(document))
                }
                diagnostics.append(contentsOf: context.diagnostics)
            } catch {
                diagnostics.append(Diagnostic(.forYAML(error.kind), error.message, at: SourceLocation(file: file, mark: error.mark)))
            }
        }
        return PolicyTestSuite(cases: cases, diagnostics: diagnostics.sorted(), files: files)
    }
}

/// Decodes the test documents, typing by schema like the policy decoder.
package struct TestCaseDecoder {
    package let context: DecodingContext
    package let policy: PolicySet

    package func decode(_ document: YAMLDocument) -> [PolicyTestSuite.Case] {
        guard !document.root.isNull, let top = context.fields(document.root, "the test document", keys: ["version", "tests"]) else { return [] }
        if let version = top.required("version", "the test document", context), version.scalarStyle != .plain || version.scalar != "1" {
            context.report(.unsupportedVersion, "version must be 1, found \(context.shown(version))", at: version)
        }
        guard let node = top.required("tests", "the test document", context), let items = context.list(node, "tests") else { return [] }
        return items.enumerated().compactMap { testCase($1, index: $0) }
    }

    private func testCase(_ node: YAMLNode, index: Int) -> PolicyTestSuite.Case? {
        let keys = ["name", "now", "spend", "request", "expect"]
        guard let fields = context.fields(node, "tests[\(index)]", keys: keys) else { return nil }
        let name = fields["name"].flatMap { context.string($0, "tests[\(index)].name") } ?? "tests[\(index)]"
        let path = "tests[\(index)] (\(excerpt(name)))"
        var now: Timestamp?
        if let value = fields["now"], let text = context.string(value, "\(path).now") {
            now = Timestamp(rfc3339: text) ?? Timestamp(rfc3339: text + "T00:00:00Z")
            if now == nil, Timestamp.isOutOfRange(text) {
                context.report(.invalidValue, "\(path).now is out of range (\(Timestamp.supportedRange)), found \(context.shown(value))", at: value)
            } else if now == nil {
                context.report(.invalidValue, "\(path).now must be an RFC 3339 time, found \(context.shown(value))", at: value)
            }
        }
        // Decode every part before giving up, so that one run reports every problem.
        let decodedRequest = fields.required("request", path, context).flatMap { request($0, path) }
        let time = decodedRequest?.timestamp ?? now
        var spend: [(CounterKey, Amount)] = []
        if let value = fields["spend"], let items = context.list(value, "\(path).spend") {
            for item in items {
                if let seed = seed(item, path, time: time) { spend.append(seed) }
            }
        }
        let decodedExpect = fields.required("expect", path, context).flatMap { expectation($0, path) }
        guard let request = decodedRequest, let expect = decodedExpect else { return nil }
        return PolicyTestSuite.Case(name: name, location: context.location(node), spend: spend, request: request, now: now, expect: expect)
    }

    /// A request written in YAML: converted to JSON and read by the request decoder.
    private func request(_ node: YAMLNode, _ path: String) -> Request? {
        guard node.mapping != nil else {
            context.report(.wrongType, "\(path).request must be a mapping, found \(node.kindDescription)", at: node)
            return nil
        }
        var json = JSONWriter()
        YAMLToJSON.write(node, into: &json)
        do {
            return try RequestDecoder.decode(json.bytes)
        } catch {
            context.report(.invalidValue, "\(path).request: \(error.message)", at: node)
            return nil
        }
    }

    private func seed(_ node: YAMLNode, _ path: String, time: Timestamp?) -> (CounterKey, Amount)? {
        let keys = ["budget", "key", "spent", "tokens", "requests", "window"]
        guard let fields = context.fields(node, "\(path).spend", keys: keys),
              let budgetNode = fields.required("budget", "\(path).spend", context),
              let id = context.string(budgetNode, "\(path).spend.budget")
        else { return nil }
        guard let budget = policy.budget(id: id) else {
            context.report(.undefinedReference, "\(path).spend names the budget \"\(id)\", which is not defined\(TextMatching.didYouMean(id, among: policy.budgets.map(\.id)))", at: budgetNode)
            return nil
        }
        let key = fields["key"].flatMap { context.string($0, "\(path).spend.key") } ?? (budget.scope == [.org] ? "org" : budget.team)
        guard let key else {
            context.report(.missingKey, "\(path).spend needs a key for the budget \(id) (its scope is \(budget.scope.map(\.description).joined(separator: ", ")))", at: node)
            return nil
        }
        var window: Int64?
        if let value = fields["window"], let label = context.string(value, "\(path).spend.window") {
            window = CalendarWindow.index(label: label, period: budget.period)
            if window == nil { context.report(.invalidValue, "\(path).spend.window \"\(label)\" is not a \(budget.period) window label (e.g. \(CalendarWindow.label(0, period: budget.period)))", at: value) }
        } else {
            let zone = ZoneRules(identifier: policy.settings.timezoneIdentifier) ?? ZoneRules.utc
            let seconds = (time ?? SystemClock().now()).seconds
            window = CalendarWindow.index(of: seconds, period: budget.period, zone: zone)
        }
        guard let window else { return nil }
        let amount = Amount(
            usd: fields["spent"].flatMap { context.usd($0, "\(path).spend.spent") }?.nanos ?? 0,
            tokens: fields["tokens"].flatMap { context.integer($0, "\(path).spend.tokens") } ?? 0,
            requests: fields["requests"].flatMap { context.integer($0, "\(path).spend.requests") } ?? 0)
        return (CounterKey(budget: id, key: key, period: budget.period, window: window), amount)
    }

    private func expectation(_ node: YAMLNode, _ path: String) -> PolicyTestSuite.Expectation? {
        let keys = ["decision", "model", "region", "rerouted", "violations", "effects", "cost", "alerts"]
        guard let fields = context.fields(node, "\(path).expect", keys: keys) else { return nil }
        var expect = PolicyTestSuite.Expectation()
        expect.decision = fields["decision"].flatMap { context.choice($0, "\(path).expect.decision", as: VerdictChoice.self) }.map(\.verdict)
        expect.model = fields["model"].flatMap { context.string($0, "\(path).expect.model") }
        if let region = fields["region"] {
            expect.region = region.isNull ? .some(nil) : context.string(region, "\(path).expect.region").map { .some($0) }
        }
        expect.rerouted = fields["rerouted"].flatMap { context.bool($0, "\(path).expect.rerouted") }
        expect.violations = fields["violations"].flatMap { node in context.list(node, "\(path).expect.violations")?.compactMap { context.string($0, "\(path).expect.violations") } }
        expect.alerts = fields["alerts"].flatMap { node in context.list(node, "\(path).expect.alerts")?.compactMap { context.string($0, "\(path).expect.alerts") } }
        expect.cost = fields["cost"].flatMap { context.usd($0, "\(path).expect.cost") }
        if let effects = fields["effects"] {
            for pair in context.namedEntries(effects, "\(path).expect.effects") {
                guard let rule = pair.key.scalar, let effect = context.choice(pair.value, "\(path).expect.effects.\(rule)", as: ViolationEffect.self) else { continue }
                expect.effects[rule] = effect
            }
        }
        return expect
    }
}

/// `allow` / `deny` as a YAML choice.
private enum VerdictChoice: String, CaseIterable {
    case allow, deny
    package var verdict: Verdict { self == .allow ? .allow : .deny }
}

extension ViolationEffect: CaseIterable {
    public static let allCases: [ViolationEffect] = [.deny, .warn, .rerouted, .waived]
}

/// Writes a YAML node as JSON: plain `true`/`false`/`null` and plain numbers
/// keep their type, everything else is a string.
package enum YAMLToJSON {
    package static func write(_ node: YAMLNode, into json: inout JSONWriter) {
        switch node.content {
        case .mapping(let pairs):
            json.object { json in
                for pair in pairs {
                    json.key(dynamic: pair.key.scalar ?? "")
                    write(pair.value, into: &json)
                }
            }
        case .sequence(let items):
            json.array { json in
                for item in items { write(item, into: &json) }
            }
        case .scalar(let text, let style):
            if node.isNull {
                json.null()
            } else if style.isPlain, text == "true" || text == "false" {
                json.bool(text == "true")
            } else if style.isPlain, DecimalText(text) != nil {
                json.raw(text)
            } else {
                json.string(text)
            }
        }
    }
}
