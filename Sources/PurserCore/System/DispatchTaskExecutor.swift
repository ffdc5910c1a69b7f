import Dispatch

/// Runs the jobs of the tasks that prefer it on a serial dispatch queue of its own, not on
/// Swift's shared cooperative pool.
///
/// The `postgres://` ledger runs its connection pool and its queries on one, so that a gateway
/// whose pool is busy with other work still gets its ledger calls answered, or refused at their
/// timeout, on time; tests that time ledger calls run their bodies on one
/// (`withTaskExecutorPreference`), so that hundreds of tests sharing two cores do not delay
/// what they measure (docs/ledgers.md, "When the ledger cannot answer").
package final class DispatchTaskExecutor: TaskExecutor {
    private let queue: DispatchQueue

    /// Creates an executor over a new serial queue.
    package init(label: String) {
        queue = DispatchQueue(label: label)
    }

    package func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
