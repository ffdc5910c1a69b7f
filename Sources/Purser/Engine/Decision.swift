import PurserCore
import PurserPolicy
/// Allow or deny.
public enum Verdict: String, Sendable, Hashable {
    case allow
    case deny
}

/// What a violation did to the decision (docs/wire-formats.md, "Violations").
public enum ViolationEffect: String, Sendable, Hashable {
    /// It blocks the request.
    case deny
    /// It is reported and does not block (audit rules, soft budgets, `warn` settings).
    case warn
    /// It would have blocked, and Purser rerouted around it.
    case rerouted
    /// An exception waived it.
    case waived
}

/// One thing a request broke, and which definition said so.
public struct Violation: Sendable, Hashable {
    /// A built-in check id, a budget id or a rule id.
    public let rule: String
    /// The kind of violation.
    public let kind: ViolationKind
    /// What it did to the decision.
    public package(set) var effect: ViolationEffect
    /// How serious it is.
    public let severity: Severity
    /// What happened, in one sentence.
    public let message: String
    /// The definition that raised it (nil for checks about the request itself).
    public let source: SourceLocation?
    /// The exception that waived it, when `effect` is `waived`.
    public package(set) var waivedBy: String?

    package init(rule: String, kind: ViolationKind, effect: ViolationEffect, severity: Severity, message: String,
                 source: SourceLocation?, waivedBy: String?) {
        self.rule = rule
        self.kind = kind
        self.effect = effect
        self.severity = severity
        self.message = message
        self.source = source
        self.waivedBy = waivedBy
    }
}

/// The state of one budget counter as a decision saw it.
public struct BudgetStatus: Sendable, Hashable {
    /// What a budget caps.
    public enum Unit: String, Sendable, Hashable {
        case usd, tokens, requests
    }

    /// The counter: budget id, scope key and window.
    public let counter: CounterKey
    /// The budget id.
    public var id: String { counter.budget }
    /// The scope key, e.g. `payments` or `payments/qa`.
    public var key: String { counter.key }
    /// The calendar window, e.g. `2026-11` (formatted when asked for).
    public var window: String { counter.windowLabel }
    /// What the numbers count.
    public let unit: Unit
    /// The cap (nano-USD for `usd`).
    public let limit: Int64
    /// Settled spend in the window (nano-USD for `usd`).
    public let spent: Int64
    /// Reserved, unsettled spend (nano-USD for `usd`), including this request once authorized.
    public let reserved: Int64

    /// What is left: limit − spent − reserved (negative when over).
    public var remaining: Int64 { Self.remaining(limit: limit, spent: spent, reserved: reserved) }

    /// limit − spent − reserved, worked out in 128 bits and clamped to the `Int64` range.
    package static func remaining(limit: Int64, spent: Int64, reserved: Int64) -> Int64 {
        Int64(clamping: Int128(limit) - Int128(spent) - Int128(reserved))
    }

    /// The cap in USD, for `usd` statuses.
    public var limitUSD: USD? { unit == .usd ? USD(nanos: limit) : nil }
    /// Settled spend in USD, for `usd` statuses.
    public var spentUSD: USD? { unit == .usd ? USD(nanos: spent) : nil }
    /// Reserved spend in USD, for `usd` statuses.
    public var reservedUSD: USD? { unit == .usd ? USD(nanos: reserved) : nil }
    /// What is left in USD, for `usd` statuses.
    public var remainingUSD: USD? { unit == .usd ? USD(nanos: remaining) : nil }

    /// The statuses of counters (one per capped unit), given their states in the same order.
    package static func statuses(_ counters: [CounterReservation], states: [CounterState]) -> [BudgetStatus] {
        var result: [BudgetStatus] = []
        result.reserveCapacity(counters.count)
        for (offset, entry) in counters.enumerated() {
            let state = offset < states.count ? states[offset] : CounterState()
            let counter = entry.counter
            if let usd = entry.limits.usd {
                result.append(BudgetStatus(counter: counter, unit: .usd, limit: usd.nanos, spent: state.spent.usd, reserved: state.reserved.usd))
            }
            if let tokens = entry.limits.tokens {
                result.append(BudgetStatus(counter: counter, unit: .tokens, limit: tokens, spent: state.spent.tokens, reserved: state.reserved.tokens))
            }
            if let requests = entry.limits.requests {
                result.append(BudgetStatus(counter: counter, unit: .requests, limit: requests, spent: state.spent.requests, reserved: state.reserved.requests))
            }
        }
        return result
    }
}

/// A budget counter crossing one of its `alerts` fractions.
public struct BudgetAlert: Sendable, Hashable {
    /// The budget id.
    public let budget: String
    /// The scope key.
    public let key: String
    /// The window label.
    public let window: String
    /// The fraction crossed, in parts per million (800000 = 0.8).
    public let threshold: Int64
    /// Spent and reserved after the crossing (nano-USD for USD limits).
    public let used: Int64
    /// The limit.
    public let limit: Int64
    /// What the numbers count.
    public let unit: BudgetStatus.Unit
}

/// Purser's answer for one request (docs/wire-formats.md, "Decisions").
public struct Decision: Sendable {
    package init(verdict: Verdict, id: DecisionID, requestID: String?, model: String, region: String?, rerouted: Bool, cost: USD?,
         violations: [Violation], states: [CounterState], alerts: [BudgetAlert], policyRevision: String, timestamp: Timestamp,
         counters: [CounterReservation], model compiled: CompiledModel?, reserved: Bool)
    {
        self.verdict = verdict
        self.id = id
        self.requestID = requestID
        self.model = model
        self.region = region
        self.rerouted = rerouted
        self.cost = cost
        self.violations = violations
        self.states = states
        self.alerts = alerts
        self.policyRevision = policyRevision
        self.timestamp = timestamp
        self.counters = counters
        self.pricedModel = compiled
        self.reserved = reserved
    }

    /// Allow or deny (`decision` in the JSON form).
    public let verdict: Verdict
    /// A unique id; `settle` and `release` are idempotent by it.
    public let id: DecisionID
    /// The request's id, echoed.
    public let requestID: String?
    /// The model to use (canonical name), possibly a fallback.
    public let model: String
    /// The region to use, possibly a fallback; nil when unconstrained.
    public let region: String?
    /// Whether Purser answered with another model or region than asked.
    public let rerouted: Bool
    /// The estimated cost at the chosen model (nil when unpriced).
    public let cost: USD?
    /// Everything the request broke, with effects.
    public let violations: [Violation]
    /// Every budget counter the request counts against, one status per capped unit.
    public var budgets: [BudgetStatus] { BudgetStatus.statuses(counters, states: states) }
    /// The counters' states as the decision saw them (after its reservation, when reserved).
    package let states: [CounterState]
    /// Alerts this request raised (authorize and settle only).
    public let alerts: [BudgetAlert]
    /// The policy revision that decided.
    public let policyRevision: String
    /// When the decision applies (the request's timestamp, or now).
    public let timestamp: Timestamp
    /// The budget counters the request counts against (reserved when `reserved`), so settle can find them.
    package let counters: [CounterReservation]
    /// The chosen model, so settle can price actual usage.
    package let pricedModel: CompiledModel?
    /// Whether `authorize` reserved the estimate on `counters`.
    public let reserved: Bool

    /// Whether the request may go ahead.
    public var isAllowed: Bool { verdict == .allow }
}

/// A unique decision id: a per-process random prefix and a sequence number.
///
/// Printed as `d-` and 26 hex digits; hashing and comparing it allocates nothing.
public struct DecisionID: Sendable, Hashable, CustomStringConvertible {
    package let prefix: UInt64
    package let sequence: UInt64

    public var description: String {
        "d-" + hex(prefix, digits: 16) + hex(sequence, digits: 10)
    }

    /// Parses the printed form.
    public init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == 28, bytes[0] == UInt8(ascii: "d"), bytes[1] == UInt8(ascii: "-"),
              let prefix = UInt64(String(decoding: bytes[2..<18], as: UTF8.self), radix: 16),
              let sequence = UInt64(String(decoding: bytes[18..<28], as: UTF8.self), radix: 16)
        else { return nil }
        self.prefix = prefix
        self.sequence = sequence
    }

    package init(prefix: UInt64, sequence: UInt64) {
        self.prefix = prefix
        self.sequence = sequence & 0xFF_FFFF_FFFF
    }

    private func hex(_ value: UInt64, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}
