import PurserCore

/// `hashValue`s of scope keys (users, tag values) seen lately, by a cheap hash of their
/// bytes: scope keys repeat, and SipHash costs more than the rest of a counter.
///
/// The audit's replay keeps one per thread and hands it to ``Evaluator`` when it builds
/// counters.
///
/// Not thread-safe: one thread uses it at a time (the audit hands it from job to job
/// with the plan cache that owns it), so it is not `Sendable`.
@usableFromInline package final class ScopeKeyHashes {
    // Raw buffers (allocated once, freed in deinit): as stored `var` arrays of a class,
    // every access would pay a dynamic exclusivity check.
    @usableFromInline let names = UnsafeMutableBufferPointer<String>.allocate(capacity: 1024)
    @usableFromInline let values = UnsafeMutableBufferPointer<Int>.allocate(capacity: 1024)

    package init() {
        names.initialize(repeating: "")
        values.initialize(repeating: 0)
    }

    deinit {
        names.deinitialize()
        names.deallocate()
        values.deallocate()
    }

    /// `name.hashValue`, remembered.
    @inlinable @inline(__always)
    package func hashValue(of name: String) -> Int {
        let slot = Int(truncatingIfNeeded: NameTable.hash(name)) & 1023
        if names[slot] == name, !name.isEmpty { return values[slot] }
        let value = name.hashValue
        names[slot] = name
        values[slot] = value
        return value
    }
}
