import Foundation
import Testing
import PurserCore
import Synchronization

/// The debug-build check of objects used by one thread at a time.
@Suite("Thread owner")
struct ThreadOwnerTests {
    /// Runs `body` on a new thread and waits for it.
    private static func onAnotherThread(_ body: @escaping @Sendable () -> Void) {
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            body()
            done.signal()
        }
        thread.start()
        done.wait()
    }

    @Test func usesOneAfterAnotherFromAnyThreadPass() {
        let owner = ThreadOwner()
        let first = owner.enter()
        let nested = owner.enter()
        owner.exit(nested)
        owner.exit(first)
        Self.onAnotherThread {
            let use = owner.enter()
            owner.exit(use)
        }
        let again = owner.enter()
        owner.exit(again)
    }

    @Test func aClaimHandsTheObjectFromThreadToThread() {
        let owner = ThreadOwner()
        owner.claim()
        // The claiming thread's own uses are nested in the claim.
        let use = owner.enter()
        #expect(!use)
        owner.exit(use)
        owner.release()
        Self.onAnotherThread {
            owner.claim()
            owner.release()
        }
    }

    #if DEBUG
    @Test func aSecondThreadInsideIsCaught() async {
        await #expect(processExitsWith: .failure) {
            let owner = ThreadOwner()
            owner.claim()
            let done = DispatchSemaphore(value: 0)
            let thread = Thread {
                _ = owner.enter()
                done.signal()
            }
            thread.start()
            done.wait()
        }
    }
    #endif

    @Test func threadsHaveDistinctNumbers() {
        let mine = SystemCalls.currentThread
        #expect(mine == SystemCalls.currentThread)
        let other = Mutex<UInt>(0)
        Self.onAnotherThread { other.withLock { $0 = SystemCalls.currentThread } }
        #expect(other.withLock { $0 } != mine)
    }
}
