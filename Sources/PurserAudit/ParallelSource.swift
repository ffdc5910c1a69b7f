import Purser
import Dispatch
import Synchronization

/// A usage log reader whose decoding can run on several threads at once:
/// cutting the file into chunks is cheap and done in order, decoding a
/// chunk is the expensive part and may run anywhere.
package protocol ChunkedLogReader: UsageLogReader, Sendable {
    /// The next chunk of raw entries in file order, or nil at the end (one caller at a time).
    func nextChunk() throws(UsageLogError) -> LogChunk?
    /// Decodes a chunk; safe to call from several threads at once.
    func decode(_ chunk: LogChunk) -> RecordBatch
    /// Decodes a chunk, preparing the records it can as it goes (see ``RecordShape``); the others
    /// are prepared after. Safe to call from several threads at once, each with its own preparation.
    func decode(_ chunk: LogChunk, preparing: ShapedPreparation?) -> RecordBatch
}

extension ChunkedLogReader {
    /// Readers that cannot prepare while decoding only decode.
    package func decode(_ chunk: LogChunk, preparing: ShapedPreparation?) -> RecordBatch {
        decode(chunk)
    }

    /// The next chunk, decoded on the calling thread.
    package func next() throws(UsageLogError) -> RecordBatch? {
        guard let chunk = try nextChunk() else { return nil }
        return decode(chunk)
    }
}

/// Reads one log with every core and hands its batches over in file order.
///
/// Jobs on the global dispatch pool each take the next part of the log in
/// order (a chunk of lines, or a batch from a reader that cannot be split),
/// then decode it, sort it by time and prepare each record's evaluation in
/// parallel. A fixed number of jobs is in flight, so memory stays bounded;
/// the consumer takes results by sequence number. A batch that starts
/// before the previous one ended means the file is out of order beyond a
/// batch (`AuditError.disorder`).
package final class ParallelSource: RecordSource, @unchecked Sendable {
    // `@unchecked`: shared state is behind `reading` (which also guards every use of `reader`, not
    // Sendable) and `results`; `expected`, `last` and `finished` belong to the consumer, one thread
    // at a time (`consumer` checks it in debug builds).
    private enum Item: Sendable {
        case batch(RecordBatch)
        case failure(String)
        case end
    }

    /// The reader's side: the next sequence number, and whether reading stopped.
    private struct Reading {
        package var sequence = 0
        package var stopped = false
    }

    private let reader: any UsageLogReader
    private let chunked: (any ChunkedLogReader)?
    private let evaluator: Evaluator?
    /// The policy's plan tests (nil without an evaluator, or when it has too many to plan by).
    private let planTests: PlanTests?
    private let planPool: PlanPool
    private let reading = Mutex(Reading())
    private let results = Mutex<[Int: Item]>([:])
    private let ready = DispatchSemaphore(value: 0)
    private let cancelled = Atomic<Bool>(false)
    /// Planned counters per record in the last prepared batch, in 1/256ths (to size the next batch's array).
    private let countersPerRecord = Atomic<Int>(2 * 256)
    private var expected = 0
    private var last: Timestamp?
    private var finished = false
    private let consumer = ThreadOwner()

    /// Starts reading `reader` with `depth` jobs in flight, preparing records with `evaluator`
    /// (and the plans of `planPool`, shared by the sources of one audit).
    package init(reader: any UsageLogReader, evaluator: Evaluator?, planPool: PlanPool = PlanPool(), depth: Int) {
        self.reader = reader
        self.planPool = planPool
        self.chunked = reader as? any ChunkedLogReader
        self.evaluator = evaluator
        planTests = evaluator.flatMap { PlanTests(policy: $0.policy) }
        for _ in 0..<max(1, depth) { submit() }
    }

    /// How many jobs to keep in flight for one of `sources` logs read at once.
    package static func depth(sources: Int) -> Int {
        let cores = SystemCalls.processorCount
        return sources <= 2 ? cores + 1 : 2
    }

    private func submit() {
        DispatchQueue.global(qos: .userInitiated).async { [self] in work() }
    }

    /// One job: take the next part of the log in order, then decode and prepare it.
    private func work() {
        guard !cancelled.load(ordering: .relaxed) else { return }
        var chunk: LogChunk?
        var read: RecordBatch?
        var failure: String?
        let sequence = reading.withLock { state -> Int in
            defer { state.sequence += 1 }
            guard !state.stopped else { return state.sequence }
            do throws(UsageLogError) {
                if let chunked {
                    if let next = try chunked.nextChunk() { chunk = next } else { state.stopped = true }
                } else if let batch = try reader.next() {
                    read = batch
                } else {
                    state.stopped = true
                }
            } catch {
                state.stopped = true
                failure = error.description
            }
            return state.sequence
        }
        let plans = evaluator == nil ? nil : planPool.borrow()
        defer { planPool.giveBack(plans) }
        if let chunk, let chunked { read = chunked.decode(chunk, preparing: preparation(plans)) }
        let item: Item
        if var batch = read.take() {
            BatchOrder.sort(&batch.records)
            if let evaluator { prepare(&batch, evaluator, plans: plans) }
            item = .batch(batch)
        } else if let failure {
            item = .failure(failure)
        } else {
            item = .end
        }
        results.withLock { $0[sequence] = item }
        ready.signal()
    }

    /// What a reader needs to prepare records while it decodes them (nil without an evaluator or plans).
    private func preparation(_ plans: PlanCache?) -> ShapedPreparation? {
        guard let evaluator, let tests = planTests, let plans else { return nil }
        return ShapedPreparation(evaluator: evaluator, plans: plans, tests: tests,
                                 countersPerRecord: countersPerRecord.load(ordering: .relaxed))
    }

    /// Prepares every record's order-independent evaluation, in place (no record is copied):
    /// a record its key's plan decides gets a ``PlannedRecord`` (its counters go to the
    /// batch's `counters`), any other a full ``PreparedEvaluation``. Records the reader
    /// prepared while decoding (see ``RecordShape``) have no request left and are passed over.
    private func prepare(_ batch: inout RecordBatch, _ evaluator: Evaluator, plans: PlanCache?) {
        let tests = plans == nil ? nil : planTests
        var counters = batch.counters
        batch.counters = []
        // As many as the last batch had per record, and some: growing the array would copy it. (The
        // reader reserved more margin, so that this rarely asks for more than it already has.)
        let perRecord = countersPerRecord.load(ordering: .relaxed)
        counters.reserveCapacity(batch.records.count * perRecord / 256 + batch.records.count / 4 + 16)
        batch.records.withUnsafeMutableBufferPointer { records in
            guard let base = records.baseAddress else { return }
            for index in records.indices {
                let record = base + index
                guard let request = record.pointee.takeRequest() else { continue }
                let resolved = evaluator.resolve(request, now: record.pointee.timestamp)
                // The key once: a record its plan does not decide is prepared with the same key.
                let key = tests.flatMap { evaluator.planKey(resolved, tests: $0) }
                if let plans, let key, let planned = evaluator.plannedRecord(resolved, key: key, plans: plans, counters: &counters) {
                    record.pointee.plan(planned, request: .resolved(resolved))
                } else {
                    record.pointee.prepared = PreparedEvaluation(resolved, evaluator: evaluator, plans: plans, key: key, tests: tests)
                }
            }
        }
        if !batch.records.isEmpty { countersPerRecord.store(counters.count * 256 / batch.records.count, ordering: .relaxed) }
        batch.counters = counters
    }

    package func next() throws(AuditError) -> RecordBatch? {
        let use = consumer.enter()
        defer { consumer.exit(use) }
        guard !finished else { return nil }
        while true {
            let sequence = expected
            if let item = results.withLock({ $0.removeValue(forKey: sequence) }) {
                expected += 1
                switch item {
                case .end:
                    finished = true
                    return nil
                case .failure(let message):
                    finished = true
                    throw AuditError(message)
                case .batch(let batch):
                    submit()
                    if let first = batch.records.first, let last, first.timestamp < last { throw AuditError.disorder }
                    last = batch.records.last?.timestamp ?? last
                    return batch
                }
            }
            ready.wait()
        }
    }

    package func cancel() {
        let use = consumer.enter()
        defer { consumer.exit(use) }
        cancelled.store(true, ordering: .relaxed)
        finished = true
    }
}

/// Plan caches for the jobs preparing records, lent to one job at a time.
///
/// A cache warms up as it sees a log's names and plan keys, so caches are kept by the pool, not by
/// threads: the dispatch pool starts and retires threads as it likes (a run of 400,000 records made
/// sixteen per-thread caches, each starting cold). As many caches are made as jobs ever ran at once.
package final class PlanPool: Sendable {
    private let idle = Mutex<[PlanCache]>([])
    /// The plans the caches made, for one another.
    private let shared = SharedPlans()
    private let enabled: Bool

    /// A pool; a disabled one lends no caches, so every record is assessed in full.
    package init(enabled: Bool = true) {
        self.enabled = enabled
    }

    /// A cache for one job (nil when disabled): one a finished job gave back, else a new one.
    /// The job gives it back with `giveBack` and uses it on one thread meanwhile.
    package func borrow() -> PlanCache? {
        guard enabled else { return nil }
        let cache = idle.withLock { $0.popLast() } ?? PlanCache(shared: shared)
        cache.owner.claim()
        return cache
    }

    /// Takes back a cache lent by `borrow`.
    package func giveBack(_ cache: PlanCache?) {
        guard let cache else { return }
        cache.owner.release()
        idle.withLock { $0.append(cache) }
    }
}

/// Releases large values on a background thread, so that the replay thread
/// does not spend its time freeing batches it has finished with.
package enum BackgroundRelease {
    // `@unchecked`: the value need not be Sendable, yet it crosses to the releasing thread. Safe
    // because `release` consumes it: once boxed, the box is its only owner, and only the queue's
    // block touches the box.
    private final class Box<Value>: @unchecked Sendable {
        package var value: Value?
        package init(_ value: Value) { self.value = value }
    }

    package static func release<Value>(_ value: consuming Value) {
        let box = Box(value)
        DispatchQueue.global(qos: .utility).async { box.value = nil }
    }
}
