import NIOCore

/// Runs tasks on one NIO event loop, the loop of every connection of a ledger's pool.
///
/// A query's task then writes to its connection and is resumed by the answer on the same
/// thread: a call costs two thread hops (the caller's to the loop and back) where a queue of
/// the ledger's own cost five or six (docs/performance.md, "PostgreSQL, beside pgbench
/// (2026-12-07)"). Jobs are short (encode, decode); nothing that blocks runs here.
final class EventLoopTaskExecutor: TaskExecutor {
    let loop: any EventLoop

    init(_ loop: any EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
