import Dispatch
import Foundation
import Synchronization

/// A thread of its own that runs a ledger's blocking SQLite calls one after another.
///
/// A call may wait for another process's lock for up to its timeout. Run on the caller's
/// executor, that wait would hold one of the cooperative pool's threads (one per core); run
/// on Dispatch's shared pool, it would queue behind whatever else the process gives that pool
/// (seen: minutes, under a test suite's load). A dedicated thread waits for nobody but the file.
final class BlockingThread: Sendable {
    /// The jobs the thread and its owner share.
    private final class Jobs: Sendable {
        /// The jobs not yet run, oldest first; nil asks the thread to end.
        let waiting = Mutex<[(@Sendable () -> Void)?]>([])
        /// Signalled once per job added.
        let added = DispatchSemaphore(value: 0)

        func add(_ job: (@Sendable () -> Void)?) {
            waiting.withLock { $0.append(job) }
            added.signal()
        }
    }

    private let jobs = Jobs()

    init(name: String) {
        let jobs = self.jobs
        let thread = Thread {
            while true {
                jobs.added.wait()
                guard let job = jobs.waiting.withLock({ $0.removeFirst() }) else { return }
                job()
            }
        }
        thread.name = name
        thread.start()
    }

    /// Ends the thread once the jobs given before have run.
    deinit {
        jobs.add(nil)
    }

    /// Runs `job` on the thread, after the jobs given before it.
    func run(_ job: @escaping @Sendable () -> Void) {
        jobs.add(job)
    }
}
