import Foundation
import Purser  // deliberately not @testable, and compiled as an outside client (Package.swift)
import Synchronization
import Testing

// The public API a gateway uses, walked in the order of docs/library.md. This target is
// compiled with a package name of its own, so `package` declarations are invisible to it,
// as they are to a gateway that depends on the `Purser` product: if a documented symbol
// stops being public, this file stops compiling and CI fails.

/// A policy small enough to read in the test: a frontier model QA may not use (with a
/// fallback), a team budget of 10 USD a day, and a region fallback.
private let policyText = """
    version: 1
    settings: {timezone: UTC}
    models:
      opus: {provider: anthropic, tier: frontier, price: {input: 5, output: 25}, fallbacks: [mini]}
      mini: {provider: openai, tier: small, price: {input: 0.25, output: 2}, aliases: [mini-2025]}
    environments:
      production: {}
      qa: {tiers: [small]}
    teams:
      payments: {budget: {day: 10}}
    regions:
      allowed: [us-east-1, us-west-2]
      fallbacks: {us-east-1: [us-west-2]}

    """

/// 2026-11-23T10:00:00Z.
private let monday = Timestamp(seconds: 1_795_428_000)

@Suite("The documented gateway API (docs/library.md)")
struct GatewayAPITests {
    /// "Load and validate a policy": load never throws; diagnostics are located lines.
    @Test func loadingReportsLocatedDiagnostics() throws {
        let broken = PolicySet.load(yaml: "version: 1\nteams:\n  payments: {budegt: {day: 1}}\n", file: "teams.yaml")
        #expect(broken.policy == nil)
        #expect(broken.errorCount == 1 && broken.warningCount == 0 && !broken.hasInputErrors)
        let diagnostic = try #require(broken.diagnostics.first)
        #expect(diagnostic.code.id == "unknown-key" && diagnostic.code.description == "unknown-key")
        #expect(diagnostic.severity == .error)
        #expect(diagnostic.location.file == "teams.yaml" && diagnostic.location.line == 3)
        #expect(diagnostic.description.hasPrefix("teams.yaml:3:"))
        #expect(diagnostic.description.hasSuffix("[unknown-key]"))

        var options = PolicyLoadOptions()
        options.now = monday
        options.expiryWarningDays = 7
        options.yamlLimits.maxDepth = 16
        let loaded = PolicySet.load(yaml: policyText, file: "policy.yaml", options: options)
        let policy = try #require(loaded.policy)
        #expect(policy.revision.hasPrefix("sha256:") && policy.files == ["policy.yaml"])
    }

    /// "Build an Enforcer", "Build a Request", "Read a Decision".
    @Test func authorizeAnswersWithTheModelRegionAndWhy() async throws {
        let (enforcer, _) = try Self.enforcer()
        #expect(enforcer.policy.revision.hasPrefix("sha256:"))

        // QA may not use a frontier model: rerouted to the fallback.
        let request = Request(id: "r-1", team: "payments", environment: "qa", model: "opus", region: "us-east-1",
                              user: "svc-1", tags: ["feature": "summaries"],
                              usage: Usage(inputTokens: 1_000, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 500))
        let decision = await enforcer.authorize(request)
        #expect(decision.verdict == .allow && decision.isAllowed)
        #expect(decision.model == "mini" && decision.region == "us-east-1" && decision.rerouted)
        #expect(decision.requestID == "r-1" && decision.reserved && decision.timestamp == monday)
        #expect(decision.policyRevision == enforcer.policy.revision)
        #expect(decision.cost == USD("0.00125"))
        #expect(DecisionID(decision.id.description) == decision.id)
        let violation = try #require(decision.violations.first)
        #expect(violation.rule == "environment-model" && violation.kind == .access && violation.effect == .rerouted)
        #expect(violation.severity == .high && violation.waivedBy == nil && violation.source != nil && !violation.message.isEmpty)

        // The team's daily budget, as the decision saw it (the reservation included).
        let status = try #require(decision.budgets.first { $0.unit == .usd })
        #expect(status.id == "team.payments.day" && status.key == "payments" && status.window == "2026-11-23")
        #expect(status.counter.budget == status.id && status.counter.key == status.key && status.counter.period == .day)
        #expect(status.limitUSD == USD(dollars: 10) && status.reservedUSD == USD("0.00125") && status.spentUSD == .zero)
        #expect(status.remainingUSD == USD(dollars: 10).subtracting(USD("0.00125") ?? .zero))
        #expect(status.limit == USD(dollars: 10).nanos && status.spent == 0 && status.reserved == 1_250_000 && status.remaining > 0)
        #expect(decision.alerts.isEmpty)

        // An unknown model is denied, with the reason.
        let unknown = await enforcer.evaluate(Request(team: "payments", environment: "production", model: "gpt-9"))
        #expect(unknown.verdict == .deny && unknown.violations.contains { $0.rule == "unknown-model" && $0.kind == .unknown })
        #expect(!unknown.reserved)
    }

    /// "The call lifecycle": settle replaces the estimate, release frees it, both idempotent.
    @Test func settleAndReleaseAreIdempotent() async throws {
        let ledger = InMemoryLedger()
        let (enforcer, clock) = try Self.enforcer(ledger: ledger)
        let call = Request(team: "payments", environment: "production", model: "mini", usage: Usage(inputTokens: 4_000, outputTokens: 1_000))
        let first = await enforcer.authorize(call)
        clock.advance(seconds: 2)
        let settled = try await enforcer.settle(first, usage: Usage(inputTokens: 4_000, outputTokens: 200))
        #expect(settled.outcome == .settled && settled.cost == USD("0.0014") && settled.alerts.isEmpty)
        #expect(try await enforcer.settle(first, usage: Usage(inputTokens: 1)).outcome == .alreadySettled)

        let second = await enforcer.authorize(call)
        #expect(try await enforcer.release(second))
        #expect(try await !enforcer.release(second))

        let byCost = try await enforcer.settle(await enforcer.authorize(call), cost: USD(dollars: 1, cents: 50), tokens: 10)
        #expect(byCost.outcome == .settled && byCost.cost == USD(dollars: 1, cents: 50))
        let recorded = try await enforcer.record(Request(team: "payments", environment: "production", model: "mini", cost: USD(dollars: 2)))
        #expect(recorded.outcome == .settledWithoutReservation)

        // What the ledger holds: 0.0014 + 1.50 + 2 USD spent, nothing reserved.
        let counter = try #require(enforcer.policy.counter(budget: "team.payments.day", key: "payments", at: clock.now()))
        #expect(counter.budget == "team.payments.day" && counter.key == "payments" && counter.period == .day)
        #expect(CounterKey(budget: counter.budget, key: counter.key, period: counter.period, window: counter.window) == counter)
        #expect(CounterKey(budget: counter.budget, key: counter.key, period: .day, windowLabel: "2026-11-23") == counter)
        let state = try #require(try await ledger.read([counter]).first)
        #expect(state.spent.usd == USD("3.5014")?.nanos && state.reserved == .zero && state.used == state.spent)
    }

    /// "Amounts out of range" and money: exact, never wrapping.
    @Test func moneyIsExactAndNeverWraps() {
        #expect(USD.max.adding(USD(nanos: 1)) == nil && USD.zero.subtracting(USD.max)?.nanos == -USD.max.nanos)
        var total = USDTotal.zero
        for _ in 0..<3 { total += USD.max }
        #expect(total.amount == nil && total.nanos == 3 * Int128(USD.max.nanos))
        total = USDTotal(USD(dollars: 2))
        total += USDTotal(nanos: 500_000_000)
        #expect(total == USD("2.5") && total.description == "2.5" && USD("2.5")?.description == "2.5")
        #expect(USD(dollars: 1) < USD(dollars: 2) && USDTotal(USD(dollars: 1)) < total)
        let amount = Amount(usd: 5, tokens: 1, requests: 1) + Amount(usd: Int64.max) - Amount(requests: 2)
        #expect(amount.usd == Int64.max && amount.requests == -1 && Amount.zero.tokens == 0)
    }

    /// Requests and decisions as JSON (docs/library.md, "Decision JSON").
    @Test func wireFormatsRoundTrip() async throws {
        let request = try RequestDecoder.decode(#"{"team":"payments","environment":"qa","model":"mini-2025","usage":{"input_tokens":10,"output_tokens":5},"tags":{"a":"b"}}"#)
        #expect(request.model == "mini-2025" && request.team == "payments" && request.tags["a"] == "b")
        #expect(request.usage.inputTokens == 10 && request.usage.outputTokens == 5 && request.usage.totalTokens == 15)
        #expect(request.timestamp == nil && request.region == nil && request.user == nil && request.id == nil)
        #expect(request.cost == nil && request.unavailableRegions.isEmpty && request.allowReroute)
        #expect(throws: RequestError.self) { try RequestDecoder.decode(Array("{\"model\": 1}".utf8)) }
        do {
            _ = try RequestDecoder.decode("{")
        } catch {
            #expect(error.offset >= 0 && !error.message.isEmpty && error.description == error.message)
        }

        let (enforcer, _) = try Self.enforcer()
        let json = DecisionEncoder.json(await enforcer.evaluate(request))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(object["decision"] as? String == "allow" && object["model"] as? String == "mini")
    }

    /// Tags are a small ordered map with value semantics.
    @Test func tagsBehaveLikeADictionary() {
        var tags: Tags = ["b": "2", "a": "1"]
        tags["c"] = "3"
        tags["b"] = nil
        #expect(tags.count == 2 && !tags.isEmpty && Set(tags.keys) == ["a", "c"])
        #expect(Tags(["a": "1", "c": "3"]) == tags && Tags([:]).isEmpty)
        #expect(Set(tags.map(\.key)) == ["a", "c"] && tags.description.contains("a"))
    }

    /// "Reloading policies": an invalid policy never replaces a valid one.
    @Test func reloadKeepsAValidPolicy() throws {
        let (enforcer, _) = try Self.enforcer()
        let before = enforcer.policy.revision
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("purser-api-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("policy.yaml").path
        try Data("version: 1\nmodels: {mini: {provider: openai, tier: small, pricee: 1}}\n".utf8).write(to: URL(fileURLWithPath: file))
        let refused = enforcer.reload(paths: [file])
        #expect(refused.policy == nil && refused.files == [file] && enforcer.policy.revision == before)
        try Data(policyText.replacingOccurrences(of: "day: 10", with: "day: 20").utf8).write(to: URL(fileURLWithPath: file))
        #expect(enforcer.reload(paths: [file], options: PolicyLoadOptions()).policy != nil)
        #expect(enforcer.policy.revision != before)
        let again = try #require(PolicySet.load(paths: [file]).policy)
        try enforcer.reload(again)
        #expect(enforcer.policy.revision == again.revision)
    }

    /// "Custom ledgers": the protocol can be implemented outside the package, with the
    /// public building blocks (`admits`, `LedgerError`, the outcomes).
    @Test func aCustomLedgerCanBeWrittenAgainstThePublicAPI() async throws {
        let ledger = FailingLedger()
        let (enforcer, _) = try Self.enforcer(ledger: ledger)
        let call = Request(team: "payments", environment: "production", model: "mini", usage: Usage(inputTokens: 10))
        let decision = await enforcer.authorize(call)
        #expect(decision.isAllowed)
        ledger.failing.store(true, ordering: .relaxed)
        // settings.ledger_unavailable defaults to deny: a store outage fails closed.
        let outage = await enforcer.authorize(call)
        #expect(outage.verdict == .deny && outage.violations.contains { $0.kind == .system })
        await #expect(throws: LedgerError.self) { try await enforcer.release(outage) }
        // Whose fault: the store's (worth retrying), or the call's.
        do {
            _ = try await enforcer.settle(decisionID: outage.id, usage: Usage())
            Issue.record("settle during an outage succeeded")
        } catch {
            #expect(error.reason == .store)
        }
        ledger.failing.store(false, ordering: .relaxed)
        do {
            _ = try await enforcer.settle(decision, usage: Usage(inputTokens: -1))
            Issue.record("a negative settle succeeded")
        } catch {
            #expect(error.reason == .invalidCall)
        }
        ledger.failing.store(true, ordering: .relaxed)

        // The entries a ledger is handed carry the caps; `admits` is the check `reserve` must make.
        let entry = try #require(ledger.lastEntries.withLock { $0 }.first)
        #expect(entry.counter.budget == "team.payments.day" && entry.enforced && entry.alerts.isEmpty)
        #expect(entry.limits.usd == USD(dollars: 10) && entry.limits.tokens == nil && entry.limits.requests == nil)
        #expect(entry.amount.usd > 0 && entry.admits(CounterState()))
        #expect(!entry.admits(CounterState(spent: Amount(usd: USD(dollars: 10).nanos))))
        #expect(entry.crossedAlerts(before: .zero, after: entry.amount).isEmpty)
    }

    /// "Time": the clocks.
    @Test func clocksTellTheTime() throws {
        let clock = ManualClock(monday)
        clock.advance(seconds: 60)
        #expect(clock.now() == Timestamp(seconds: monday.seconds + 60))
        clock.set(monday)
        #expect(clock.now().nanoseconds == monday.nanoseconds)
        #expect(SystemClock().now() > monday)
        #expect(Timestamp(rfc3339: "2026-11-23T10:00:00Z") == monday && monday.description == "2026-11-23T10:00:00Z")
        #expect(Timestamp(nanoseconds: 0) < monday)
        let compiled = try CompiledPolicy(try #require(PolicySet.load(yaml: policyText, file: "p.yaml").policy))
        #expect(compiled.revision.hasPrefix("sha256:"))
        // A zone the system does not know is refused at load, before compiling could fail on it.
        let mars = PolicySet.load(yaml: "version: 1\nsettings: {timezone: Mars/Olympus}\n", file: "p.yaml")
        #expect(mars.policy == nil && mars.diagnostics.map(\.code.id) == ["invalid-value"])
    }

    private static func enforcer(ledger: any Ledger = InMemoryLedger()) throws -> (Enforcer, ManualClock) {
        let clock = ManualClock(monday)
        let policy = try #require(PolicySet.load(yaml: policyText, file: "policy.yaml").policy)
        return (try Enforcer(policy: policy, ledger: ledger, clock: clock), clock)
    }
}

/// A ledger that wraps the in-memory one and fails on demand, as a store outage would.
private final class FailingLedger: Ledger, Sendable {
    let base = InMemoryLedger()
    let failing = Atomic<Bool>(false)
    /// The entries of the last reservation asked for.
    let lastEntries = Mutex<[CounterReservation]>([])

    private func check() throws(LedgerError) {
        if failing.load(ordering: .relaxed) { throw LedgerError("the spend store is unreachable") }
    }

    func read(_ counters: [CounterKey]) async throws(LedgerError) -> [CounterState] {
        try check()
        return try await base.read(counters)
    }

    func reserve(_ reservation: LedgerReservation) async throws(LedgerError) -> ReserveResult {
        lastEntries.withLock { $0 = reservation.entries }
        try check()
        return try await base.reserve(reservation)
    }

    func settle(_ settlement: LedgerSettlement) async throws(LedgerError) -> SettleResult {
        try check()
        return try await base.settle(settlement)
    }

    func release(_ id: DecisionID) async throws(LedgerError) -> ReleaseResult {
        try check()
        return try await base.release(id)
    }

    func reservation(_ id: DecisionID) async throws(LedgerError) -> StoredReservation? {
        try check()
        return try await base.reservation(id)
    }
}
