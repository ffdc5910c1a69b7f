import Synchronization

/// The debug-build check behind a class that is `@unchecked Sendable` because one thread at a
/// time uses it (a plan cache a pool lends from job to job, a thread's name tables, a log
/// reader's splitter, the replay's spool): each use asserts that no other thread is using it.
/// Modelled on swift-nio's `NIOLoopBound`, which records its event loop and checks it on each
/// access; here the owner is whichever thread is inside (or has claimed) the object.
///
/// ```swift
/// let use = owner.enter()      // asserts no other thread is inside or holds a claim
/// defer { owner.exit(use) }
/// ```
///
/// A pool that lends an object to one job `claim`s it for the job's thread and `release`s it
/// when the job gives it back, so the lend as a whole is checked, not only each call.
///
/// In release builds the owner holds nothing and every call is inlined away: zero cost.
package struct ThreadOwner: Sendable {
    #if DEBUG
    @usableFromInline let state: ThreadOwnerState
    #endif

    @inlinable
    package init() {
        #if DEBUG
        state = ThreadOwnerState()
        #endif
    }

    /// Starts a use by the calling thread; asserts that no other thread is using the object.
    /// Returns whether this call took ownership (pass it to `exit`): false when the thread
    /// already had it (a nested use, or a claim).
    @inlinable @inline(__always)
    package func enter(file: StaticString = #fileID, line: UInt = #line) -> Bool {
        #if DEBUG
        return state.enter(file: file, line: line)
        #else
        return false
        #endif
    }

    /// Ends a use started by `enter`.
    @inlinable @inline(__always)
    package func exit(_ entered: Bool) {
        #if DEBUG
        if entered { state.release() }
        #endif
    }

    /// Takes the object for the calling thread until `release` (a pool lending it to a job).
    @inlinable @inline(__always)
    package func claim(file: StaticString = #fileID, line: UInt = #line) {
        #if DEBUG
        _ = state.enter(file: file, line: line)
        #endif
    }

    /// Gives up a claim: the next thread to use the object may.
    @inlinable @inline(__always)
    package func release() {
        #if DEBUG
        state.release()
        #endif
    }
}

#if DEBUG
/// The thread using an object (0: none), for ``ThreadOwner`` in debug builds.
@usableFromInline
package final class ThreadOwnerState: Sendable {
    private let owner = Atomic<UInt>(0)

    @usableFromInline
    package init() {}

    @usableFromInline
    package func enter(file: StaticString, line: UInt) -> Bool {
        let me = SystemCalls.currentThread
        let (taken, holder) = owner.compareExchange(expected: 0, desired: me, ordering: .acquiringAndReleasing)
        precondition(taken || holder == me, "an object for one thread at a time is used by two at once", file: file, line: line)
        return taken
    }

    @usableFromInline
    package func release() {
        owner.store(0, ordering: .releasing)
    }
}
#endif
