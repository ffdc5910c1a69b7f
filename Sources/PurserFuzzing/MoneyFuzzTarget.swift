import Purser
import PurserCore
import PurserPolicy
import PurserYAML

/// libFuzzer entry point: one input read as a stream of numbers that become a policy's
/// prices and caps, then a run of requests with hostile usage and costs authorized and
/// settled against an in-memory ledger (docs/policy-language.md, "Numbers and their ranges").
///
/// Beyond traps and sanitizer reports, it stops on broken money invariants: a policy
/// accepted with a price, cap or TTL past its bound; a counter that went negative; an
/// enforced cap that settled spend went over when every call settled at its estimate;
/// a decision's cost that disagrees with the exact price of its usage; a total that
/// disagrees with the sum of what was settled.
public func fuzzMoney(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(UnsafeBufferPointer(start: data, count: size))
    run(&input)
    return 0
}

/// Numbers taken from the input's bytes: often an edge value, otherwise raw bits.
private struct FuzzInput {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    mutating func byte() -> UInt8 {
        guard index < bytes.count else { return 0 }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func raw64() -> UInt64 {
        var value: UInt64 = 0
        for _ in 0..<8 { value = value << 8 | UInt64(byte()) }
        return value
    }

    static let edges: [Int64] = [0, 1, 2, 9, 10, 999_999_999, 1_000_000_000, 100_000_000_000, 100_000_000_001,
                                 1_000_000_000_000, 1_000_000_000_000_000, 1_000_000_000_000_000_000,
                                 Int64.max / 2, Int64.max - 1, Int64.max, -1, Int64.min]

    /// A signed 64-bit number: an edge value, a small one, or raw bits.
    mutating func int64() -> Int64 {
        switch byte() % 4 {
        case 0: return Self.edges[Int(byte()) % Self.edges.count]
        case 1: return Int64(byte()) * Int64(byte())
        default: return Int64(bitPattern: raw64())
        }
    }

    /// A number as a policy would write it: digits, maybe a fraction and an exponent, maybe negative.
    mutating func decimalText() -> String {
        let magnitude = int64().magnitude
        var text = String(magnitude)
        let shape = byte()
        if shape & 1 != 0 { text += "." + String(byte() % 100) + "5" }
        if shape & 2 != 0 { text += "e" + String(Int(byte() % 64) - 32) }
        if shape & 4 != 0 && shape & 8 != 0 { text = "-" + text }
        return text
    }
}

private func run(_ input: inout FuzzInput) {
    let prices = (0..<4).map { _ in input.decimalText() }
    let (limit, tokens, requests, maxCost, ttl) = (input.decimalText(), input.decimalText(), input.decimalText(),
                                                  input.decimalText(), input.decimalText())
    let yaml = """
        version: 1
        settings: {reservation_ttl: \(ttl)}
        models:
          m: {provider: p, tier: small, price: {input: \(prices[0]), output: \(prices[1]), cached_input: \(prices[2]), cache_write: \(prices[3])}}
        environments:
          prod: {}
        teams:
          t: {environments: [prod], max_request_cost: \(maxCost)}
        budgets:
          - {id: money, scope: team, period: month, limit: \(limit)}
          - {id: counts, scope: org, period: month, tokens: \(tokens), requests: \(requests)}
          - {id: soft, scope: org, period: month, limit: 1, on_exceed: warn}

        """
    let result = PolicySet.load(yaml: yaml, file: "fuzz.yaml")
    guard let policy = result.policy else { return }
    checkBounds(policy, yaml)
    guard let compiled = try? CompiledPolicy(policy) else { preconditionFailure("a policy that loads did not compile:\n\(yaml)") }
    let clock = ManualClock(Timestamp(seconds: 1_795_428_000))
    let ledger = InMemoryLedger(clock: clock)
    let enforcer = Enforcer(policy: compiled, ledger: ledger, clock: clock)
    let price = policy.models.first?.price
    var settled = USDTotal.zero
    var settledCount = 0
    let calls = Int(input.byte() % 24)
    for _ in 0..<calls {
        let usage = Usage(inputTokens: input.int64(), cachedInputTokens: input.int64(),
                          cacheWriteTokens: input.int64(), outputTokens: input.int64())
        let cost: USD? = input.byte() % 3 == 0 ? USD(nanos: input.int64()) : nil
        let request = Request(id: "r", timestamp: nil, team: "t", environment: "prod", model: "m", region: nil, user: nil,
                              tags: [:], usage: usage, cost: cost, unavailableRegions: [], allowReroute: true)
        let decision = enforcer.authorizeNow(request)
        let expected = cost ?? price.flatMap { usage.cost(at: $0) }
        if decision.cost != expected {
            preconditionFailure("decision cost \(String(describing: decision.cost)) for \(usage), expected \(String(describing: expected))")
        }
        if decision.isAllowed, input.byte() % 4 != 0, let estimate = decision.cost {
            _ = try? enforcer.settleNow(decision, cost: estimate, tokens: usage.totalTokens)
            settled += estimate
            settledCount += 1
        }
        checkCounters(ledger, compiled)
    }
    // The org-wide soft budget counts every settled call: its spend is the exact total, unless it saturated.
    let soft = ledger.snapshot().first { $0.key.budget == "soft" }?.value
    if let soft, settled.amount != nil, USDTotal(USD(nanos: soft.spent.usd)) != settled, settledCount > 0 {
        preconditionFailure("the soft counter holds \(soft.spent.usd) nanos, the settled calls \(settled)")
    }
}

/// A loaded policy keeps every number inside the documented bounds.
private func checkBounds(_ policy: PolicySet, _ yaml: String) {
    for model in policy.models {
        guard let price = model.price else { continue }
        for part in [price.input, price.output, price.cachedInput, price.cacheWrite] where part > TokenPrice.max || part < .zero {
            preconditionFailure("a price past the bound was accepted:\n\(yaml)")
        }
    }
    for budget in policy.budgets {
        if let usd = budget.limits.usd, usd > BudgetLimits.maxUSD || usd < .zero { preconditionFailure("a USD cap past the bound:\n\(yaml)") }
        for count in [budget.limits.tokens, budget.limits.requests].compactMap({ $0 }) where count > BudgetLimits.maxCount || count < 0 {
            preconditionFailure("a count cap past the bound:\n\(yaml)")
        }
    }
    if policy.settings.reservationTTLSeconds <= 0 || policy.settings.reservationTTLSeconds > 30 * 86_400 {
        preconditionFailure("a reservation TTL past the bound:\n\(yaml)")
    }
}

/// No counter is negative; an enforced cap holds (every call settled at its estimate).
private func checkCounters(_ ledger: InMemoryLedger, _ policy: CompiledPolicy) {
    for (key, state) in ledger.snapshot() {
        for value in [state.spent.usd, state.spent.tokens, state.spent.requests, state.reserved.usd, state.reserved.tokens, state.reserved.requests]
        where value < 0 {
            preconditionFailure("counter \(key) went negative: \(state)")
        }
        guard key.budget != "soft", let budget = policy.source.budgets.first(where: { $0.id == key.budget }) else { continue }
        let used = (Int128(state.spent.usd) + Int128(state.reserved.usd), Int128(state.spent.tokens) + Int128(state.reserved.tokens),
                    Int128(state.spent.requests) + Int128(state.reserved.requests))
        if let usd = budget.limits.usd, used.0 > Int128(usd.nanos) { preconditionFailure("\(key) is over its USD cap: \(state)") }
        if let tokens = budget.limits.tokens, used.1 > Int128(tokens) { preconditionFailure("\(key) is over its token cap: \(state)") }
        if let requests = budget.limits.requests, used.2 > Int128(requests) { preconditionFailure("\(key) is over its request cap: \(state)") }
    }
}
