import PurserCore
import PurserPolicy
import Synchronization

/// Where "now" comes from, so tests can move time (reservation TTLs, windows).
public protocol PurserClock: Sendable {
    /// The current instant.
    func now() -> Timestamp
}

/// The system's real-time clock.
public struct SystemClock: PurserClock {
    /// Creates the system clock.
    public init() {}

    public func now() -> Timestamp {
        Timestamp(nanoseconds: SystemCalls.realTimeNanoseconds)
    }
}

/// A clock that only moves when told to (for tests and replays).
public final class ManualClock: PurserClock {
    private let current: Mutex<Timestamp>

    /// Creates a clock stopped at an instant.
    public init(_ start: Timestamp) {
        current = Mutex(start)
    }

    public func now() -> Timestamp { current.withLock { $0 } }

    /// Moves the clock forward by seconds.
    public func advance(seconds: Int64) {
        current.withLock { $0 = Timestamp(nanoseconds: Int64(clamping: Int128($0.nanoseconds) + Int128(seconds) * 1_000_000_000)) }
    }

    /// Sets the clock.
    public func set(_ timestamp: Timestamp) {
        current.withLock { $0 = timestamp }
    }
}
