import PurserCore
import PurserPolicy

/// Budget counters against their caps, one row per counter and capped unit: what
/// `purser ledger show` prints and `GET /v1/budgets` answers (docs/cli.md, docs/api.md).
package struct BudgetRows {
    package struct Row {
        package let counter: CounterKey
        package let unit: String
        package let limit: Int64?
        package let spent: Int64
        package let reserved: Int64
        package var isUSD: Bool { unit == "usd" }
        package var remaining: Int64? { limit.map { Int64(clamping: Int128($0) - Int128(spent) - Int128(reserved)) } }
    }

    package let rows: [Row]
    /// Rows over their cap.
    package var over: Int { rows.filter { ($0.remaining ?? 0) < 0 }.count }

    package init(_ counters: [(CounterKey, CounterState)], policy: CompiledPolicy) {
        var rows: [Row] = []
        for (counter, state) in counters {
            guard let limits = policy.limits(budget: counter.budget, key: counter.key) else {
                rows.append(Row(counter: counter, unit: "usd", limit: nil, spent: state.spent.usd, reserved: state.reserved.usd))
                continue
            }
            if let usd = limits.usd { rows.append(Row(counter: counter, unit: "usd", limit: usd.nanos, spent: state.spent.usd, reserved: state.reserved.usd)) }
            if let tokens = limits.tokens { rows.append(Row(counter: counter, unit: "tokens", limit: tokens, spent: state.spent.tokens, reserved: state.reserved.tokens)) }
            if let requests = limits.requests {
                rows.append(Row(counter: counter, unit: "requests", limit: requests, spent: state.spent.requests, reserved: state.reserved.requests))
            }
        }
        self.rows = rows
    }

    /// `{"counters": [{"id", "key", "window", "unit", "limit", "spent", "reserved", "remaining"}…], "over": N}` and a newline.
    package func json() -> String {
        let json = JSONWriter(capacity: 4096)
        json.object { json in
            json.field("counters", array: { json in
                for row in rows {
                    json.object { json in
                        json.field("id", row.counter.budget)
                        json.field("key", row.counter.key)
                        json.field("window", row.counter.windowLabel)
                        json.field("unit", row.unit)
                        for (name, value) in [("limit", row.limit), ("spent", Optional(row.spent)), ("reserved", Optional(row.reserved)),
                                              ("remaining", row.remaining)] {
                            json.key(dynamic: name)
                            if let value { if row.isUSD { json.usd(USD(nanos: value)) } else { json.integer(value) } } else { json.null() }
                        }
                    }
                }
            })
            json.field("over", over)
        }
        json.newline()
        return String(decoding: json.bytes, as: UTF8.self)
    }
}

/// A ledger that can list every counter it holds, for `purser ledger show` and `GET /v1/budgets`.
package protocol CounterListing: Ledger {
    /// Every counter, with its state, in key order.
    func counters() async throws(LedgerError) -> [(CounterKey, CounterState)]
}

extension InMemoryLedger: CounterListing {
    package func counters() async throws(LedgerError) -> [(CounterKey, CounterState)] {
        snapshot().sorted { ($0.key.budget, $0.key.key, $0.key.period.rank, $0.key.window) < ($1.key.budget, $1.key.key, $1.key.period.rank, $1.key.window) }
            .map { ($0.key, $0.value) }
    }
}
