import PurserCore
import PurserPolicy
import Synchronization

/// A ledger in process memory: one lock around a dictionary of counters.
///
/// Right for one gateway process, tests and `purser eval --ledger memory:`; its spend is
/// gone when the process ends (`sqlite:` keeps it). Reservations expire `ttlSeconds` after
/// they were made by the ledger's clock (swept on every call); settled, released and expired
/// ids are remembered for `settledRetentionSeconds`, so that a late duplicate settle counts
/// once and a late settle of an expired reservation still finds its counters; but never more
/// than `maximumFinishedIDs` of them, the oldest forgotten first, so that the memory a
/// long-running process keeps for them is bounded (docs/ledgers.md, "What every ledger
/// guarantees").
public final class InMemoryLedger: Ledger, SynchronousLedger {
    private struct Held {
        let counters: [CounterKey]
        let amounts: [Amount]
        let model: String?
        let expiresAt: Timestamp
        var state: StoredReservation.State
    }

    /// Reservations by decision id, spread over 256 dictionaries of unequal shares.
    ///
    /// One dictionary of every id held or remembered (a day of settled ids, by default) grows by
    /// rehashing every entry into a table twice the size, under the ledger's lock: with a
    /// million ids that stalled every decision for tens of milliseconds (docs/performance.md,
    /// "`purser serve` beside an empty Hummingbird server (2026-12-07)"). A shard rehashes only its own
    /// entries; and since shards with equal shares of the ids would all reach their next size
    /// within a few hundred calls of each other, shard `i`'s share is proportional to
    /// 2^(i/256): their sizes are spread evenly over each doubling, and so are their rehashes.
    private struct Reservations {
        private var shards = [[DecisionID: Held]](repeating: [:], count: 256)

        /// The shard of each of 65,536 slots (176 to 352 each); an id's slot comes from its bits.
        private static let slots: [UInt8] = {
            // 2^(i/256), by repeated multiplication with 2^(1/256).
            var weights = [1.0]
            while weights.count < 256 { weights.append(weights[weights.count - 1] * 1.002_711_275_050_202_5) }
            let total = weights.reduce(0, +)
            var slots: [UInt8] = []
            var cumulative = 0.0
            for (shard, weight) in weights.enumerated() {
                cumulative += weight
                let end = shard == 255 ? 65_536 : Int((cumulative / total * 65_536).rounded())
                let target = max(end, slots.count + 1)  // every shard at least one slot
                while slots.count < target { slots.append(UInt8(shard)) }
            }
            return Array(slots.prefix(65_536))
        }()

        /// How many ids are held or remembered.
        var count: Int { shards.reduce(0) { $0 + $1.count } }

        subscript(id: DecisionID) -> Held? {
            get { shards[Self.shard(id)][id] }
            set { shards[Self.shard(id)][id] = newValue }
        }

        /// Puts `held` under `id` and returns what was there before.
        mutating func insert(_ held: Held, for id: DecisionID) -> Held? {
            shards[Self.shard(id)].updateValue(held, forKey: id)
        }

        @inline(__always)
        private static func shard(_ id: DecisionID) -> Int {
            Int(slots[Int(truncatingIfNeeded: ((id.sequence ^ id.prefix) &* 0x9E37_79B9_7F4A_7C15) >> 48)])
        }
    }

    /// Finished ids with when they finished, oldest first: a ring, so that forgetting the oldest
    /// moves nothing (an array's `removeFirst` moved every id left, some 24 MB at the bound, under
    /// the ledger's lock).
    private struct FinishedQueue {
        private var ring: [(Timestamp, DecisionID)] = []
        private var head = 0
        private(set) var count = 0

        var first: (Timestamp, DecisionID)? { count == 0 ? nil : ring[head] }

        mutating func append(_ item: (Timestamp, DecisionID)) {
            if count == ring.count { grow() }
            ring[(head + count) % ring.count] = item
            count += 1
        }

        mutating func removeFirst() {
            guard count > 0 else { return }
            head = (head + 1) % ring.count
            count -= 1
        }

        /// Twice the room, the oldest first.
        private mutating func grow() {
            let placeholder = (Timestamp(nanoseconds: 0), DecisionID(prefix: 0, sequence: 0))
            var grown: [(Timestamp, DecisionID)] = []
            grown.reserveCapacity(max(64, ring.count * 2))
            for offset in 0..<count { grown.append(ring[(head + offset) % ring.count]) }
            while grown.count < grown.capacity { grown.append(placeholder) }
            ring = grown
            head = 0
        }
    }

    private struct State {
        var counters: [CounterKey: CounterState] = [:]
        var reservations = Reservations()
        /// Held reservations by expiry, earliest first (a binary min-heap).
        var expiries: [(Timestamp, DecisionID)] = []
        /// Finished reservations (settled, released, expired) in the order they finished, for pruning.
        var finished = FinishedQueue()
    }

    private let state = Mutex(State())

    /// The store's clock: it judges expiry.
    public let clock: any PurserClock
    /// How long finished ids are remembered for idempotency.
    package let settledRetentionSeconds: Int64
    /// The most finished ids remembered at once; past it, the oldest are forgotten first.
    package let maximumFinishedIDs: Int

    /// The default bound on remembered finished ids: about 200 MB of them.
    ///
    /// A day of ids at 1,000 settled calls a second is 86 million, some 15 GB in this ledger;
    /// a million covers the last 17 minutes at that rate, and the whole day up to 11 a second.
    public static let defaultMaximumFinishedIDs = 1_000_000

    /// Creates an empty ledger whose clock judges expiry.
    ///
    /// Finished ids are remembered for `settledRetentionSeconds` but at most
    /// `maximumFinishedIDs` of them: a duplicate settle of an id forgotten early counts again.
    public init(clock: any PurserClock = SystemClock(), settledRetentionSeconds: Int64 = 86_400,
                maximumFinishedIDs: Int = InMemoryLedger.defaultMaximumFinishedIDs) {
        self.clock = clock
        self.settledRetentionSeconds = settledRetentionSeconds
        self.maximumFinishedIDs = max(1, maximumFinishedIDs)
    }

    /// Adds settled spend to a counter directly (for `purser test` `spend:` and migrations).
    public func seed(_ counter: CounterKey, spent: Amount) {
        state.withLock { $0.counters[counter] = ($0.counters[counter] ?? CounterState()).changed(spent: spent) }
    }

    /// How many decision ids the ledger holds or remembers (for tests of its bound).
    package var rememberedIDs: Int {
        let now = clock.now()
        return state.withLock { state in
            sweep(&state, now: now)
            return state.reservations.count
        }
    }

    /// Every counter with its state (for reports and tests).
    package func snapshot() -> [CounterKey: CounterState] {
        let now = clock.now()
        return state.withLock { state in
            sweep(&state, now: now)
            return state.counters
        }
    }

    // MARK: Ledger

    public func read(_ counters: [CounterKey]) async throws(LedgerError) -> [CounterState] { try readNow(counters) }
    public func read(entries: [CounterReservation]) async throws(LedgerError) -> [CounterState] { try readNow(entries: entries) }
    public func reserve(_ reservation: LedgerReservation) async throws(LedgerError) -> ReserveResult { try reserveNow(reservation) }
    public func settle(_ settlement: LedgerSettlement) async throws(LedgerError) -> SettleResult { try settleNow(settlement) }
    public func release(_ id: DecisionID) async throws(LedgerError) -> ReleaseResult { try releaseNow(id) }

    public func reservation(_ id: DecisionID) async throws(LedgerError) -> StoredReservation? {
        let now = clock.now()
        return state.withLock { state in
            sweep(&state, now: now)
            return state.reservations[id].map {
                StoredReservation(counters: $0.counters, amounts: $0.amounts, model: $0.model, state: $0.state)
            }
        }
    }

    // MARK: SynchronousLedger

    package func readNow(_ counters: [CounterKey]) throws(LedgerError) -> [CounterState] {
        let now = clock.now()
        return state.withLock { state in
            sweep(&state, now: now)
            return counters.map { state.counters[$0] ?? CounterState() }
        }
    }

    package func readNow(entries: [CounterReservation]) throws(LedgerError) -> [CounterState] {
        let now = clock.now()
        return state.withLock { state in
            sweep(&state, now: now)
            return entries.map { state.counters[$0.counter] ?? CounterState() }
        }
    }

    package func reserveNow(_ reservation: LedgerReservation) throws(LedgerError) -> ReserveResult {
        let now = clock.now()
        let entries = reservation.entries
        let expiresAt = Timestamp(nanoseconds: Int64(clamping: Int128(now.nanoseconds) + Int128(reservation.ttlSeconds) * 1_000_000_000))
        let held = Held(counters: entries.map { $0.counter }, amounts: entries.map { $0.amount },
                        model: reservation.model, expiresAt: expiresAt, state: .held)
        return try state.withLock { state throws(LedgerError) -> ReserveResult in
            sweep(&state, now: now)
            // One probe of the id table on the common path: insert, and undo if the id was there.
            if let existing = state.reservations.insert(held, for: reservation.id) {
                state.reservations[reservation.id] = existing
                // A retried reserve (its answer was lost) holds nothing twice.
                guard existing.state == .held else {
                    throw LedgerError("the decision id \(reservation.id) was already used, and its reservation is \(existing.state.rawValue)")
                }
                let current = entries.map { state.counters[$0.counter] ?? CounterState() }
                return .reserved(before: current, after: current)
            }
            let before = entries.map { state.counters[$0.counter] ?? CounterState() }
            for (index, entry) in entries.enumerated() where entry.enforced && !entry.admits(before[index]) {
                state.reservations[reservation.id] = nil
                return .exceeded(entry: index, states: before)
            }
            var after: [CounterState] = []
            after.reserveCapacity(entries.count)
            for entry in entries {
                // Read again: a reservation may name a counter twice.
                let changed = (state.counters[entry.counter] ?? CounterState()).changed(reserved: entry.amount)
                state.counters[entry.counter] = changed
                after.append(changed)
            }
            Self.push(&state.expiries, (expiresAt, reservation.id))
            return .reserved(before: before, after: after)
        }
    }

    package func settleNow(_ settlement: LedgerSettlement) throws(LedgerError) -> SettleResult {
        let now = clock.now()
        return state.withLock { state in
            sweep(&state, now: now)
            let held = state.reservations[settlement.id]
            if held?.state == .settled { return SettleResult(outcome: .alreadySettled) }
            if let held, held.state == .held {
                for (counter, amount) in zip(held.counters, held.amounts) {
                    state.counters[counter] = (state.counters[counter] ?? CounterState()).changed(released: amount)
                }
            }
            var before: [CounterState] = []
            var after: [CounterState] = []
            for entry in settlement.entries {
                let current = state.counters[entry.counter] ?? CounterState()
                let changed = current.changed(spent: entry.amount)
                state.counters[entry.counter] = changed
                before.append(current)
                after.append(changed)
            }
            // A settled id is kept only to answer a duplicate settle: without its counters, so that
            // a day of settled ids (the retention) costs a few words each. Released and expired
            // ones keep theirs: a late settle by id still counts on them.
            state.reservations[settlement.id] = Held(counters: [], amounts: [], model: held?.model, expiresAt: now, state: .settled)
            finish(&state, settlement.id, now: now)
            return SettleResult(outcome: held?.state == .held ? .settled : .settledWithoutReservation, before: before, after: after)
        }
    }

    package func releaseNow(_ id: DecisionID) throws(LedgerError) -> ReleaseResult {
        let now = clock.now()
        return state.withLock { state in
            sweep(&state, now: now)
            guard let held = state.reservations[id], held.state == .held else { return .notHeld }
            for (counter, amount) in zip(held.counters, held.amounts) {
                state.counters[counter] = (state.counters[counter] ?? CounterState()).changed(released: amount)
            }
            state.reservations[id]?.state = .released
            finish(&state, id, now: now)
            return .released
        }
    }

    // MARK: Expiry

    private func finish(_ state: inout State, _ id: DecisionID, now: Timestamp) {
        state.finished.append((now, id))
    }

    /// Drops reservations past their expiry and forgets finished ids past retention.
    private func sweep(_ state: inout State, now: Timestamp) {
        while let first = state.expiries.first, first.0 <= now {
            Self.pop(&state.expiries)
            // The heap may hold ids already settled or released; only held ones matter.
            guard let held = state.reservations[first.1], held.state == .held, held.expiresAt <= now else { continue }
            for (counter, amount) in zip(held.counters, held.amounts) {
                state.counters[counter] = (state.counters[counter] ?? CounterState()).changed(released: amount)
            }
            state.reservations[first.1]?.state = .expired
            finish(&state, first.1, now: now)
        }
        let cutoff = Timestamp(nanoseconds: Int64(clamping: Int128(now.nanoseconds) - Int128(settledRetentionSeconds) * 1_000_000_000))
        // Past retention, or past the bound on finished ids (the oldest first).
        while let (finishedAt, id) = state.finished.first, finishedAt < cutoff || state.finished.count > maximumFinishedIDs {
            state.finished.removeFirst()
            guard let held = state.reservations[id], held.state != .held else { continue }
            // An id released or expired and then settled finished twice: it is forgotten by
            // its later finish (a settled id's `expiresAt` is when it was settled).
            if held.state == .settled, held.expiresAt > finishedAt { continue }
            state.reservations[id] = nil
        }
    }

    private static func push(_ heap: inout [(Timestamp, DecisionID)], _ item: (Timestamp, DecisionID)) {
        heap.append(item)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].0 < heap[parent].0 else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private static func pop(_ heap: inout [(Timestamp, DecisionID)]) {
        guard heap.count > 1 else {
            heap.removeAll(keepingCapacity: true)
            return
        }
        heap[0] = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count, heap[left].0 < heap[smallest].0 { smallest = left }
            if right < heap.count, heap[right].0 < heap[smallest].0 { smallest = right }
            guard smallest != parent else { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
