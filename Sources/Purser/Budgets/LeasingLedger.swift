import PurserCore
import PurserPolicy
import Synchronization

/// Budget leases over a store (docs/ledgers.md, "Budget leases"): a replica takes a slice of
/// the headroom of a request's counters in one round trip, as an ordinary reservation under a
/// lease id of its own, and admits the calls that fit it locally, without a round trip.
///
/// - A slice is `n` calls' estimates on every counter of a request (with the same caps and the
///   same model), reserved through ``Ledger/reserve(_:)``: the store's atomic cap check bounds
///   the sum of every replica's slices by the cap, so admission never overspends.
/// - `n` is `slice` × the counters' remaining headroom in calls (from the states the store last
///   answered), at least 1 and at most `max_calls`: slices shrink as the cap fills. A slice the
///   store refuses is asked again smaller; one refused at one call is the request's refusal.
/// - A slice admits for `duration`; it is then retired (as it is when a call no longer fits),
///   and returned to the store (``Ledger/release(_:)``) once every call admitted from it has
///   been settled or released here. Its store reservation lives `duration + reservation_ttl`,
///   so a replica that dies leaves its slices to expire, as its reservations would.
/// - Calls admitted from a slice are named `(lease prefix, 1…n)`, the lease itself
///   `(lease prefix, 0)`: a replica that did not admit a call finds its counters and model by
///   the lease's id (``reservation(_:)``).
/// - Settles go to the store (it counts the actual spend without a reservation); here, the
///   call's difference to its estimate goes back to (or comes out of) the slice, so
///   `settled actuals + open estimates + remaining = the slice` holds for every slice.
package final class LeasingLedger: Sendable {
    /// The store slices are taken from, and settles go to.
    package let store: any Ledger
    private let state = Mutex(State())
    /// Whether a slice was ever taken: until then settles and releases skip the lock.
    private let leased = Atomic<Bool>(false)
    /// Whether a task is asking the store about open calls of retired slices (one at a time).
    private let checking = Atomic<Bool>(false)

    /// Leases over a store.
    package init(store: any Ledger) {
        self.store = store
    }

    // MARK: State (all of it behind `state`'s lock)

    /// A slice: a reservation under `leaseID`, admitted from locally.
    private final class Slice {
        let leaseID: DecisionID
        let key: SliceKey
        /// The states the store answered before and after the slice, for the decisions' reports.
        let before: [CounterState]
        let after: [CounterState]
        /// The slice's amount on each counter (the estimates of `calls` calls).
        let granted: Amount
        /// What is left to admit (can go below zero when settles come in above their estimates).
        var remaining: Amount
        var nextSequence: UInt64 = 1
        /// Calls admitted and not settled or released here: sequence → estimate.
        var open: [UInt64: Amount]
        let admitUntil: ContinuousClock.Instant
        /// After this the store has expired the slice: it is forgotten here.
        let heldUntil: ContinuousClock.Instant
        var admitting = true
        /// When to ask the store next whether open calls were settled on another replica, and the
        /// wait after that (doubling: calls still in flight are asked about a few times, not once a second).
        var checkAfter = ContinuousClock.now
        var checkDelay = Duration.seconds(1)

        init(leaseID: DecisionID, key: SliceKey, before: [CounterState], after: [CounterState], granted: Amount, calls: Int,
             admitUntil: ContinuousClock.Instant, heldUntil: ContinuousClock.Instant) {
            self.leaseID = leaseID
            self.key = key
            self.before = before
            self.after = after
            self.granted = granted
            remaining = granted
            open = Dictionary(minimumCapacity: min(calls, 4096))
            self.admitUntil = admitUntil
            self.heldUntil = heldUntil
        }

        /// Admits a call of `estimate` if it fits: its id's sequence and the states to report.
        func admit(_ estimate: Amount) -> (UInt64, [CounterState], [CounterState])? {
            guard remaining.usd >= estimate.usd, remaining.tokens >= estimate.tokens, remaining.requests >= estimate.requests else {
                return nil
            }
            // The snapshot of the grant, with what this replica admitted from the slice since as
            // reserved, under the peak the grant reached: no alert fires again (docs/ledgers.md).
            let consumed = granted - remaining
            var before: [CounterState] = []
            var after: [CounterState] = []
            before.reserveCapacity(self.before.count)
            after.reserveCapacity(self.before.count)
            for (granting, granted) in zip(self.before, self.after) {
                let state = CounterState(spent: granting.spent, reserved: granting.reserved + consumed, peak: granted.peak)
                before.append(state)
                after.append(state.changed(reserved: estimate))
            }
            let sequence = nextSequence
            nextSequence += 1
            remaining -= estimate
            open[sequence] = estimate
            return (sequence, before, after)
        }
    }

    /// Per request shape (counters, caps, model): the slice admitting, the last states seen.
    private struct Line {
        var slice: UInt64?
        var states: [CounterState]?
        var refilling = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private struct State {
        var lines: [SliceKey: Line] = [:]
        /// Every slice not yet returned or expired, by lease prefix.
        var slices: [UInt64: Slice] = [:]
    }

    /// The counters a slice covers: a request's counters with their caps and enforcement, and the
    /// model (which a settle by id on another replica prices at). The estimates are not part of it.
    private struct SliceKey: Hashable {
        let entries: [CounterReservation]
        let model: String?

        func hash(into hasher: inout Hasher) {
            for entry in entries { hasher.combine(entry.counter) }
            hasher.combine(model)
        }

        static func == (lhs: SliceKey, rhs: SliceKey) -> Bool {
            guard lhs.model == rhs.model, lhs.entries.count == rhs.entries.count else { return false }
            for (left, right) in zip(lhs.entries, rhs.entries)
            where left.counter != right.counter || left.enforced != right.enforced || left.limits != right.limits {
                return false
            }
            return true
        }
    }

    // MARK: Reserving

    /// Admits a reservation from a slice, taking one from the store when none fits it. Returns
    /// what the store would have answered and the id the decision goes by (a lease call's id when
    /// admitted from a slice, else the reservation's own).
    package func reserve(_ reservation: LedgerReservation, leases: Settings.BudgetLeases) async throws(LedgerError) -> (ReserveResult, DecisionID) {
        guard let estimate = Self.sharedEstimate(reservation.entries) else {
            return (try await store.reserve(reservation), reservation.id)
        }
        let key = SliceKey(entries: reservation.entries, model: reservation.model)
        while true {
            let now = ContinuousClock.now
            let step = state.withLock { state in Self.admit(&state, key, estimate, now: now) }
            switch step {
            case .admitted(let id, let before, let after):
                return (.reserved(before: before, after: after), id)
            case .wait:
                await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
                    let waiting = state.withLock { state in
                        guard state.lines[key]?.refilling == true else { return false }
                        state.lines[key]?.waiters.append(waiter)
                        return true
                    }
                    if !waiting { waiter.resume() }
                }
            case .take(let states):
                do throws(LedgerError) {
                    let taken = try await take(reservation, key, estimate, states: states, leases: leases)
                    wake(key)
                    return taken
                } catch {
                    wake(key)
                    throw error
                }
            }
        }
    }

    private enum Step {
        case admitted(DecisionID, [CounterState], [CounterState])
        case wait
        case take(states: [CounterState]?)
    }

    /// Admits from the line's slice, or says to wait for the slice another task is taking, or to take one.
    private static func admit(_ state: inout State, _ key: SliceKey, _ estimate: Amount, now: ContinuousClock.Instant) -> Step {
        if let prefix = state.lines[key]?.slice, let slice = state.slices[prefix] {
            if slice.admitting, now < slice.admitUntil, let (sequence, before, after) = slice.admit(estimate) {
                return .admitted(DecisionID(prefix: prefix, sequence: sequence), before, after)
            }
            // It cannot take this call: it admits no more, and goes back once its calls are done.
            slice.admitting = false
            state.lines[key]?.slice = nil
        }
        if state.lines[key]?.refilling == true { return .wait }
        state.lines[key, default: Line()].refilling = true
        return .take(states: state.lines[key]?.states)
    }

    /// Takes a slice for the reservation's counters and admits the reservation from it; a slice the
    /// store refuses is asked again smaller, down to one call, whose refusal is the answer.
    private func take(_ reservation: LedgerReservation, _ key: SliceKey, _ estimate: Amount, states known: [CounterState]?,
                      leases: Settings.BudgetLeases) async throws(LedgerError) -> (ReserveResult, DecisionID) {
        await returnFinished()
        var states: [CounterState]
        if let known { states = known } else { states = try await store.read(entries: reservation.entries) }
        var calls = Self.calls(reservation.entries, states, estimate, leases)
        while true {
            let prefix = UInt64.random(in: 1...UInt64.max)
            let leaseID = DecisionID(prefix: prefix, sequence: 0)
            let granted = Self.scaled(estimate, calls)
            let entries = reservation.entries.map {
                CounterReservation(counter: $0.counter, amount: granted, limits: $0.limits, enforced: $0.enforced, alerts: $0.alerts)
            }
            let sent = ContinuousClock.now
            let ttl = Int64(clamping: Int128(leases.durationSeconds) + Int128(reservation.ttlSeconds))
            let answer: ReserveResult
            do throws(LedgerError) {
                answer = try await store.reserve(LedgerReservation(id: leaseID, entries: entries, ttlSeconds: ttl, model: reservation.model))
            } catch {
                // The store may have committed a reserve whose answer was lost (a timeout): give it
                // back now rather than leave its headroom held until it expires.
                await giveBack([leaseID])
                throw error
            }
            switch answer {
            case .reserved(let before, let after):
                leased.store(true, ordering: .relaxed)
                let report = state.withLock { state in
                    // Made under the lock: a slice is only ever touched under it.
                    let slice = Slice(leaseID: leaseID, key: key, before: before, after: after, granted: granted, calls: calls,
                                      admitUntil: sent + .seconds(leases.durationSeconds), heldUntil: sent + .seconds(ttl))
                    state.slices[prefix] = slice
                    state.lines[key]?.slice = prefix
                    state.lines[key]?.states = after
                    // The taker's own call is the slice's first.
                    return slice.admit(estimate)
                }
                // Reported as every call from the slice is (the store's state before the grant, plus
                // this call, under the slice's peak), from the store's state before: the taker raises
                // the alerts the slice's reservation crossed, once.
                return (.reserved(before: before, after: report?.2 ?? after), DecisionID(prefix: prefix, sequence: 1))
            case .exceeded(let entry, let current):
                states = current
                state.withLock { state in state.lines[key]?.states = current }
                guard calls > 1 else { return (.exceeded(entry: entry, states: current), reservation.id) }
                calls = max(1, min(Self.calls(reservation.entries, current, estimate, leases), calls / 2))
            }
        }
    }

    /// Ends a refill of the line: wakes the tasks that waited for it.
    private func wake(_ key: SliceKey) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.lines[key]?.refilling = false
            let waiters = state.lines[key]?.waiters ?? []
            state.lines[key]?.waiters = []
            return waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// How many calls' estimates a slice takes: `slice` of the remaining headroom of the enforced
    /// caps, in calls, at least 1 and at most `max_calls`.
    private static func calls(_ entries: [CounterReservation], _ states: [CounterState], _ estimate: Amount,
                              _ leases: Settings.BudgetLeases) -> Int {
        var headroom = Int128(Int64.max)
        func fit(_ limit: Int64?, _ spent: Int64, _ reserved: Int64, _ per: Int64) {
            guard let limit, per > 0 else { return }
            let room = Int128(limit) - Int128(spent) - Int128(reserved)
            headroom = min(headroom, room <= 0 ? 0 : room / Int128(per))
        }
        for (offset, entry) in entries.enumerated() where entry.enforced && offset < states.count {
            let state = states[offset]
            fit(entry.limits.usd?.nanos, state.spent.usd, state.reserved.usd, estimate.usd)
            fit(entry.limits.tokens, state.spent.tokens, state.reserved.tokens, estimate.tokens)
            fit(entry.limits.requests, state.spent.requests, state.reserved.requests, estimate.requests)
        }
        let share = headroom * Int128(leases.slicePPM) / 1_000_000
        return Int(max(1, min(share, Int128(leases.maxCalls))))
    }

    /// The estimate every entry carries, when they all carry the same one (the engine's requests
    /// do: the call's cost, tokens and one request on every counter) and it is not negative.
    private static func sharedEstimate(_ entries: [CounterReservation]) -> Amount? {
        guard let first = entries.first?.amount, first.usd >= 0, first.tokens >= 0, first.requests >= 0,
              entries.allSatisfy({ $0.amount == first }) else { return nil }
        return first
    }

    private static func scaled(_ amount: Amount, _ calls: Int) -> Amount {
        func times(_ value: Int64) -> Int64 { Int64(clamping: Int128(value) * Int128(calls)) }
        return Amount(usd: times(amount.usd), tokens: times(amount.tokens), requests: times(amount.requests))
    }

    // MARK: Settling and releasing

    /// Settles in the store, then, for a call admitted here, returns its difference to its
    /// estimate to the slice, and the slice to the store if it was its last open call.
    package func settle(_ settlement: LedgerSettlement) async throws(LedgerError) -> SettleResult {
        try Self.refuseLeaseID(settlement.id, "settle")
        let result = try await store.settle(settlement)
        guard leased.load(ordering: .relaxed), settlement.id.sequence != 0 else { return result }
        let actual = settlement.entries.first?.amount ?? .zero
        // Settled before (on another replica, whose actual is not known here): nothing to credit.
        let counted = result.outcome != .alreadySettled
        let (mine, done) = finishCall(settlement.id) { estimate in counted ? estimate - actual : .zero }
        if let done { await giveBack([done]) }
        // The store counted the spend without a reservation of the call's id; here it had one.
        guard mine, result.outcome == .settledWithoutReservation else { return result }
        return SettleResult(outcome: .settled, before: result.before, after: result.after)
    }

    /// Releases a call admitted here into its slice (no round trip unless the slice goes back),
    /// any other id in the store.
    package func release(_ id: DecisionID) async throws(LedgerError) -> ReleaseResult {
        guard id.sequence != 0 else { return .notHeld }  // a lease id (``refuseLeaseID(_:_:)``)
        guard leased.load(ordering: .relaxed) else { return try await store.release(id) }
        let (mine, done) = finishCall(id) { estimate in estimate }
        guard mine else { return try await store.release(id) }
        if let done { await giveBack([done]) }
        return .released
    }

    /// The reservation under an id: a call admitted here as it stands, else the store's, else, for
    /// a call admitted on another replica, its lease's counters and model (one request each: the
    /// call's own estimate is known only where it was admitted).
    package func reservation(_ id: DecisionID) async throws(LedgerError) -> StoredReservation? {
        guard id.sequence != 0 else { return nil }  // a lease id (``refuseLeaseID(_:_:)``)
        if leased.load(ordering: .relaxed) {
            let local = state.withLock { state -> StoredReservation? in
                guard let slice = state.slices[id.prefix], let estimate = slice.open[id.sequence] else { return nil }
                return StoredReservation(counters: slice.key.entries.map(\.counter), amounts: slice.key.entries.map { _ in estimate },
                                         model: slice.key.model, state: .held)
            }
            if let local { return local }
        }
        if let stored = try await store.reservation(id) { return stored }
        guard id.sequence != 0, let lease = try await store.reservation(DecisionID(prefix: id.prefix, sequence: 0)) else { return nil }
        return StoredReservation(counters: lease.counters, amounts: lease.counters.map { _ in Amount(requests: 1) }, model: lease.model,
                                 state: .held)
    }

    /// Refuses an id of sequence 0, the form of a lease's own id (decisions never have it,
    /// ``Enforcer``): settling or releasing a lease through a decision's path would give its whole
    /// slice back to the store while this replica still admits from it, so that other replicas
    /// could reserve the same headroom. Its decision id shows a lease's prefix to every caller.
    private static func refuseLeaseID(_ id: DecisionID, _ what: String) throws(LedgerError) {
        guard id.sequence == 0 else { return }
        throw LedgerError("cannot \(what) \(id): it is no decision's id (sequence 0 names a budget lease)", reason: .unknownDecision)
    }

    /// Marks a call admitted here finished, crediting `credit(estimate)` to its slice while the
    /// slice admits. Whether the call was one of this replica's, and the lease to give back if
    /// it was its slice's last open call and the slice admits no more.
    private func finishCall(_ id: DecisionID, credit: (Amount) -> Amount) -> (Bool, DecisionID?) {
        let now = ContinuousClock.now
        return state.withLock { state -> (Bool, DecisionID?) in
            guard let slice = state.slices[id.prefix], let estimate = slice.open.removeValue(forKey: id.sequence) else { return (false, nil) }
            if slice.admitting && now >= slice.admitUntil { Self.retire(&state, slice) }
            if slice.admitting { slice.remaining += credit(estimate) }
            guard !slice.admitting, slice.open.isEmpty else { return (true, nil) }
            state.slices[id.prefix] = nil
            return (true, slice.leaseID)
        }
    }

    /// Stops a slice admitting.
    private static func retire(_ state: inout State, _ slice: Slice) {
        slice.admitting = false
        if state.lines[slice.key]?.slice == slice.leaseID.prefix { state.lines[slice.key]?.slice = nil }
    }

    /// Releases leases in the store. A failed release is left to the lease's expiry: the slice's
    /// calls are done and counted, so only headroom is held, and only until `duration + reservation_ttl`.
    private func giveBack(_ leases: [DecisionID]) async {
        for lease in leases { _ = try? await store.release(lease) }
    }

    /// Retires the slices past their `duration`, gives back those with no open call, and forgets
    /// those the store has expired. `waiting`: look up calls settled elsewhere in this task
    /// rather than in one of their own (``returnSlices()``, whose caller waits for the slices).
    private func returnFinished(waiting: Bool = false) async {
        let now = ContinuousClock.now
        let done = state.withLock { state -> [DecisionID] in
            // Lines of counters no slice covers (yesterday's windows, quiet teams) are dropped once
            // there are many: a line only caches the states its next slice is sized from.
            if state.lines.count > Self.idleLines {
                state.lines = state.lines.filter { $0.value.slice != nil || $0.value.refilling }
            }
            var ended: [Slice] = []
            for slice in Array(state.slices.values) {
                if slice.admitting && now >= slice.admitUntil { Self.retire(&state, slice) }
                if now >= slice.heldUntil || (!slice.admitting && slice.open.isEmpty) {
                    state.slices[slice.leaseID.prefix] = nil
                    ended.append(slice)
                }
            }
            // A slice the store has expired needs no release.
            return ended.filter { now < $0.heldUntil }.map(\.leaseID)
        }
        await giveBack(done)
        if waiting {
            await lookUpSettledElsewhere(dueCalls(now: now))
        } else {
            checkSettledElsewhere(now: now)
        }
    }

    /// Asks the store, in a task of its own (admissions never wait for it), whether open calls of
    /// retired slices were settled on another replica, which the owner is not told: each such call
    /// is finished here, so that its slice goes back once its other calls are done, rather than
    /// being held until it expires. One such task at a time.
    private func checkSettledElsewhere(now: ContinuousClock.Instant) {
        guard checking.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return }
        let ids = dueCalls(now: now)
        guard !ids.isEmpty else {
            checking.store(false, ordering: .releasing)
            return
        }
        Task {
            await lookUpSettledElsewhere(ids)
            checking.store(false, ordering: .releasing)
        }
    }

    /// The open calls of retired slices due to be asked about: at most 256 at a time; a slice is
    /// asked about at once, then after 1, 2, 4… seconds, at most a minute apart.
    private func dueCalls(now: ContinuousClock.Instant) -> [DecisionID] {
        state.withLock { state -> [DecisionID] in
            var ids: [DecisionID] = []
            for slice in state.slices.values where !slice.admitting && !slice.open.isEmpty && now >= slice.checkAfter {
                slice.checkAfter = now + slice.checkDelay
                slice.checkDelay = min(slice.checkDelay * 2, .seconds(60))
                for sequence in slice.open.keys.prefix(256 - ids.count) {
                    ids.append(DecisionID(prefix: slice.leaseID.prefix, sequence: sequence))
                }
                if ids.count >= 256 { break }
            }
            return ids
        }
    }

    /// Finishes each call of `ids` the store holds as settled, and gives back the slices that
    /// leaves with no open call. (A call finished twice, by two lookups, is finished once.)
    private func lookUpSettledElsewhere(_ ids: [DecisionID]) async {
        var done: [DecisionID] = []
        for id in ids {
            guard let stored = try? await store.reservation(id), stored.state == .settled else { continue }
            if let lease = finishCall(id, credit: { _ in .zero }).1 { done.append(lease) }
        }
        await giveBack(done)
    }

    /// How many lines are kept before the idle ones are dropped.
    private static let idleLines = 1_024

    /// Ends every slice now (a replica shutting down): each stops admitting, and goes back to the
    /// store at once if none of its calls is open, else when its last one is settled or released.
    package func returnSlices() async {
        state.withLock { state in
            for slice in Array(state.slices.values) where slice.admitting { Self.retire(&state, slice) }
        }
        await returnFinished(waiting: true)
    }

    /// The headroom this replica's slices hold and have not admitted, in nano-dollars: what a
    /// deny on another replica leaves stranded (a retired slice holds its rest until its calls are done).
    package func unusedUSD() -> Int64 {
        state.withLock { state in
            state.slices.values.reduce(Int64(0)) { sum, slice in Int64(clamping: Int128(sum) + Int128(max(0, slice.remaining.usd))) }
        }
    }
}
