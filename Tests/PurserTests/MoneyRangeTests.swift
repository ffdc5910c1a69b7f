import Foundation
import Testing
import Purser
import PurserTestSupport

/// Money at the edges of its range: no sum wraps, no product traps, and every bound the
/// policy language states is enforced (docs/policy-language.md, "Numbers and their ranges").
@Suite("Money ranges")
struct MoneyRangeTests {
    // MARK: Cost arithmetic

    /// Token counts and prices a hostile caller could pick: zero, one, the accepted maxima,
    /// just past them, and the ends of the integer types.
    static let extremeCounts: [Int64] = [0, 1, 999_999, RequestDecoder.maxTokens, RequestDecoder.maxTokens + 1,
                                         1_000_000_000_000, Int64.max / 2, Int64.max - 1, Int64.max, -1, Int64.min]
    static let extremePrices: [Int128] = [0, 1, 3_000_000_000_000_000_000, TokenPrice.max.yoctoDollars,
                                          TokenPrice.max.yoctoDollars + 1, 200 * 1_000_000_000_000_000_000_000_000,
                                          Int128(Int64.max) * 1_000_000, Int128.max / 4, Int128.max]

    /// The exact cost in nano-dollars, rounded half away from zero, worked out with
    /// `Double`-free 256-bit-safe steps: nil when the exact value is past `USD.max`.
    static func referenceCost(_ counts: [Int64], _ prices: [Int128]) -> Int64? {
        guard counts.allSatisfy({ $0 >= 0 }) else { return nil }
        // Split every product into whole nano-dollars and a remainder in 1e-24 USD, so no
        // intermediate needs more than 128 bits while the total stays under ~2^100.
        let perNano = CostArithmetic.yoctoPerNano
        var whole: Int128 = 0
        var rest: Int128 = 0
        for (count, price) in zip(counts, prices) {
            let (priceNanos, priceRest) = price.quotientAndRemainder(dividingBy: perNano)
            // count × priceNanos whole nano-dollars: past 2^63 × 2^63 it is over USD.max anyway.
            let (product, overflow) = Int128(count).multipliedReportingOverflow(by: priceNanos)
            if overflow || product > Int128(Int64.max) * 2 { return nil }
            whole += product
            // count × priceRest is below 2^63 × 1e15 < 2^113: exact.
            let (restWhole, restRest) = (Int128(count) * priceRest).quotientAndRemainder(dividingBy: perNano)
            whole += restWhole
            rest += restRest
        }
        let (carry, remainder) = rest.quotientAndRemainder(dividingBy: perNano)
        whole += carry
        if remainder * 2 >= perNano { whole += 1 }
        return Int64(exactly: whole)
    }

    @Test func costOfExtremeUsageNeverTrapsAndMatchesExactArithmetic() {
        var generator = SeededRandom(seed: 19)
        func pick<T>(_ values: [T]) -> T { values[Int(generator.next() % UInt64(values.count))] }
        var priced = 0
        var outOfRange = 0
        for _ in 0..<50_000 {
            let counts = (0..<4).map { _ in generator.next() % 3 == 0 ? Int64(generator.next() % 5_000_000) : pick(Self.extremeCounts) }
            let prices = (0..<4).map { _ in generator.next() % 3 == 0 ? Int128(generator.next() % 100_000) * 1_000_000_000_000 : pick(Self.extremePrices) }
            let usage = Usage(inputTokens: counts[0], cachedInputTokens: counts[1], cacheWriteTokens: counts[2], outputTokens: counts[3])
            let cost = CostArithmetic.cost(inputTokens: usage.inputTokens, cachedInputTokens: usage.cachedInputTokens, cacheWriteTokens: usage.cacheWriteTokens, outputTokens: usage.outputTokens, input: prices[0], cachedInput: prices[1], cacheWrite: prices[2], output: prices[3])
            let expected = Self.referenceCost(counts, prices)
            #expect(cost?.nanos == expected, "\(counts) at \(prices)")
            if cost == nil { outOfRange += 1 } else { priced += 1 }
        }
        // Both outcomes were exercised, many times.
        #expect(priced > 5_000 && outOfRange > 5_000)
    }

    @Test func anyAcceptedUsageAtAnyAcceptedPriceHasACost() {
        let most = RequestDecoder.maxTokens
        let usage = Usage(inputTokens: most, cachedInputTokens: most, cacheWriteTokens: most, outputTokens: most)
        let top = TokenPrice.max.yoctoDollars
        let cost = CostArithmetic.cost(inputTokens: usage.inputTokens, cachedInputTokens: usage.cachedInputTokens, cacheWriteTokens: usage.cacheWriteTokens, outputTokens: usage.outputTokens, input: top, cachedInput: top, cacheWrite: top, output: top)
        #expect(cost == USD("4000000000"))
        // …and a counter at the largest USD cap can still take it in 64 bits.
        let (_, overflow) = BudgetLimits.maxUSD.nanos.addingReportingOverflow(cost?.nanos ?? .max)
        #expect(!overflow)
    }

    @Test(arguments: [Int128.min, Int128.min + 1, -1, 0, 499_999_999_999_999, 500_000_000_000_000, Int128.max - 1, Int128.max])
    func roundingToNanosNeverOverflows(_ yocto: Int128) {
        let nanos = CostArithmetic.nanos(fromYocto: yocto)
        let (quotient, remainder) = yocto.quotientAndRemainder(dividingBy: CostArithmetic.yoctoPerNano)
        let half = CostArithmetic.yoctoPerNano / 2
        let rounded = quotient + (remainder >= half ? 1 : remainder <= -half ? -1 : 0)
        #expect(nanos == Int64(exactly: rounded))
    }

    // MARK: Sums

    @Test func checkedUSDArithmeticReportsOverflow() {
        #expect(USD.max.adding(USD(nanos: 1)) == nil)
        #expect(USD(nanos: Int64.min).subtracting(USD(nanos: 1)) == nil)
        #expect(USD(dollars: 2).adding(USD(dollars: 3)) == USD(dollars: 5))
        #expect(USD(dollars: 2).subtracting(USD(dollars: 3)) == USD(nanos: -USD.scale))
    }

    @Test func counterAmountsSaturateInsteadOfWrapping() {
        let huge = Amount(usd: Int64.max - 5, tokens: Int64.max, requests: 1)
        let sum = huge + Amount(usd: 10, tokens: 1, requests: 1)
        #expect(sum == Amount(usd: Int64.max, tokens: Int64.max, requests: 2))
        #expect((Amount(usd: Int64.min + 1) - Amount(usd: 5)).usd == Int64.min)
        #expect(Usage(inputTokens: Int64.max, outputTokens: Int64.max).totalTokens == Int64.max)
    }

    @Test func capsAreComparedExactlyPastTheInt64Range() {
        let limits = BudgetLimits(usd: USD.max, tokens: Int64.max, requests: Int64.max)
        let entry = CounterReservation(counter: CounterKey(budget: "b", key: "k", period: .day, window: 0),
                                       amount: Amount(usd: Int64.max, tokens: 1, requests: 1), limits: limits, enforced: true)
        // spent + amount is past Int64.max: a wrapping sum would read as negative and admit it.
        #expect(!entry.admits(CounterState(spent: Amount(usd: 1))))
        #expect(entry.admits(CounterState()))
        #expect(!entry.admits(CounterState(spent: Amount(tokens: Int64.max))))
        let status = BudgetStatus.remaining(limit: 0, spent: Int64.max, reserved: Int64.max)
        #expect(status == Int64.min)
    }

    // MARK: The ledger and the engine

    /// Hostile costs cannot turn a counter negative: twelve requests of $999,999,999 against
    /// a cap near `USD.max` (one a policy cannot write, but the library can build).
    @Test func hugeCostsNeverReopenABudget() async throws {
        let ledger = InMemoryLedger(clock: ManualClock(Timestamp(seconds: 0)))
        let counter = CounterKey(budget: "org", key: "org", period: .month, window: 0)
        let limits = BudgetLimits(usd: USD(nanos: 9_200_000_000 * USD.scale))
        var admitted = 0
        var denied = 0
        for index in 0..<12 {
            let entry = CounterReservation(counter: counter, amount: Amount(usd: 999_999_999 * USD.scale, requests: 1),
                                           limits: limits, enforced: true)
            let id = DecisionID(prefix: 19, sequence: UInt64(index + 1))
            switch try await ledger.reserve(LedgerReservation(id: id, entries: [entry], ttlSeconds: 60)) {
            case .reserved:
                admitted += 1
                _ = try await ledger.settle(LedgerSettlement(id: id, entries: [entry]))
            case .exceeded:
                denied += 1
            }
            let state = try await ledger.read([counter])[0]
            #expect(state.spent.usd >= 0 && state.reserved.usd >= 0)
        }
        #expect(admitted == 9 && denied == 3)
        #expect(try await ledger.read([counter])[0].spent.usd == 9 * 999_999_999 * USD.scale)
        // Spend reported after the fact past the range saturates and keeps the budget shut.
        let late = CounterReservation(counter: counter, amount: Amount(usd: Int64.max), limits: limits, enforced: true)
        _ = try await ledger.settle(LedgerSettlement(id: DecisionID(prefix: 19, sequence: 100), entries: [late]))
        #expect(try await ledger.read([counter])[0].spent.usd == Int64.max)
        let next = CounterReservation(counter: counter, amount: Amount(usd: 1), limits: limits, enforced: true)
        if case .reserved = try await ledger.reserve(LedgerReservation(id: DecisionID(prefix: 19, sequence: 101), entries: [next], ttlSeconds: 60)) {
            Issue.record("a saturated counter admitted a request")
        }
    }

    /// Usage built in code (no decoder to cap it) at a catalog price: denied, not trapped.
    @Test func usagePastTheRangeIsDeniedWithAClearViolation() async throws {
        let (enforcer, _) = try EngineFixture.enforcer()
        var request = EngineFixture.request(model: "haiku")
        request.usage = Usage(inputTokens: Int64.max, outputTokens: Int64.max)
        let decision = await enforcer.authorize(request)
        #expect(decision.verdict == .deny)
        let violation = try #require(decision.violations.first { $0.rule == "unpriced-model" })
        #expect(violation.effect == .deny)
        #expect(violation.message.contains("out of range"))
    }

    // MARK: What `check` accepts

    @Test(arguments: [
        ("price: {input: 200000000, output: 1}", "models.m.price.input is out of range (0..10000 USD per 1M tokens), found 200000000"),
        ("price: {input: 1, output: 10000.000001}", "models.m.price.output is out of range (0..10000 USD per 1M tokens), found 10000.000001"),
    ])
    func checkRejectsPricesPastTheBound(_ price: String, _ message: String) {
        let result = load("version: 1\nmodels:\n  m: {provider: p, tier: small, \(price)}\n")
        #expect(result.policy == nil)
        #expect(result.diagnostics.contains { $0.message == message }, "\(result.diagnostics.map(\.message))")
    }

    @Test func checkAcceptsThePriceBoundItself() {
        let result = load("version: 1\nmodels:\n  m: {provider: p, tier: small, price: {input: 10000, output: 1e4}}\n")
        #expect(result.policy != nil, "\(result.diagnostics.map(\.message))")
    }

    @Test(arguments: [
        ("limit: 9200000000", "budgets.b.limit is out of range (0..1000000000), found 9200000000"),
        ("limit: 1e400", "budgets.b.limit is out of range (0..1000000000), found 1e400"),
        ("tokens: 1000000000000001", "budgets.b.tokens is out of range (0..1000000000000000), found 1000000000000001"),
        ("requests: 2000000000000000", "budgets.b.requests is out of range (0..1000000000000000), found 2000000000000000"),
    ])
    func checkRejectsCapsPastTheBound(_ cap: String, _ message: String) {
        let result = load("version: 1\nbudgets:\n  - {id: b, scope: org, period: month, \(cap)}\n")
        #expect(result.diagnostics.contains { $0.message.hasPrefix(message) }, "\(result.diagnostics.map(\.message))")
    }

    @Test func checkAcceptsTheCapBoundsThemselves() {
        let result = load("version: 1\nbudgets:\n  - {id: b, scope: org, period: month, limit: 1e9, tokens: 1e15, requests: 1000000000000000}\n")
        #expect(result.policy != nil, "\(result.diagnostics.map(\.message))")
    }

    @Test func priceSourceRowsPastTheBoundAreLocatedErrors() throws {
        let json = #"{"m": {"input_cost_per_token": 1e5, "output_cost_per_token": 1e-6}}"#
        #expect(throws: JSONError.self) { try PriceTable(litellmJSON: Array(json.utf8), file: "prices.json") }
        do {
            _ = try PriceTable(litellmJSON: Array(json.utf8), file: "prices.json")
        } catch {
            #expect(error.message.contains("out of range"))
        }
    }

    @Test func theRealLiteLLMTableIsWithinTheBound() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../examples/prices/litellm-model-prices.json")
        let bytes = try Data(contentsOf: url)
        let table = try PriceTable(litellmJSON: Array(bytes), file: "litellm-model-prices.json")
        #expect(table.entries.count > 1000)
    }

    @Test(arguments: ["999999999d", String(repeating: "999999999d", count: 20_000), "31d", "2592001s"])
    func durationsPastThirtyDaysAreRejected(_ text: String) {
        #expect(DurationText.seconds(text) == nil)
    }

    @Test func theLongestDurationIsAccepted() {
        #expect(DurationText.seconds("30d") == 2_592_000)
        #expect(DurationText.seconds("29d23h59m60s") == 2_592_000)
    }
}

/// Negative amounts from code that skips the decoders: they would take spend off a counter.
@Suite("Negative amounts")
struct NegativeAmountTests {
    @Test func negativeUsageOrCostIsDeniedAndNeverReserved() async throws {
        let ledger = InMemoryLedger()
        let (enforcer, _) = try EngineFixture.enforcer(ledger: ledger)
        var negativeTokens = EngineFixture.request(model: "haiku")
        negativeTokens.usage = Usage(inputTokens: -1_000_000, outputTokens: 10)
        var negativeCost = EngineFixture.request(model: "haiku")
        negativeCost.cost = USD(nanos: -5 * USD.scale)
        for request in [negativeTokens, negativeCost] {
            let decision = await enforcer.authorize(request)
            #expect(decision.verdict == .deny)
            #expect(decision.violations.contains { $0.rule == "unpriced-model" && $0.message.contains("negative") })
        }
        #expect(ledger.snapshot().values.allSatisfy { $0.spent == .zero && $0.reserved == .zero })
    }

    @Test func settlingANegativeAmountIsAnError() async throws {
        let ledger = InMemoryLedger()
        let (enforcer, _) = try EngineFixture.enforcer(ledger: ledger)
        let decision = await enforcer.authorize(EngineFixture.request(model: "haiku"))
        #expect(decision.isAllowed)
        await #expect(throws: LedgerError.self) { try await enforcer.settle(decision, cost: USD(nanos: -1)) }
        await #expect(throws: LedgerError.self) { try await enforcer.settle(decision, usage: Usage(inputTokens: -1)) }
        await #expect(throws: LedgerError.self) { try await enforcer.record(EngineFixture.request(model: "haiku", cost: USD(nanos: -1))) }
        #expect(ledger.snapshot().values.allSatisfy { $0.spent.usd >= 0 && $0.reserved.usd >= 0 })
        // Usage past the range settles as USD.max: spend is never dropped.
        let settled = try await enforcer.settle(decision, usage: Usage(inputTokens: Int64.max, outputTokens: Int64.max))
        #expect(settled.cost == USD.max)
    }
}
