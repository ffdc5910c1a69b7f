/// A map from names to small integers, looked up on every request.
///
/// Swift's `Dictionary<String, _>` hashes with SipHash, which costs more than
/// the rest of a lookup for the short names policies use. This table hashes
/// the UTF-8 bytes eight at a time with a multiply-xorshift and probes
/// linearly. Its keys come from the policy; requests and logs only look names
/// up, so hostile input cannot lengthen the probes.
@usableFromInline package struct NameTable: Sendable {
    @usableFromInline package var slots: [Int32]
    @usableFromInline package var hashes: [UInt64]
    @usableFromInline package var keys: [String]
    @usableFromInline package var values: [Int32] = []
    @usableFromInline package var mask: Int

    /// An empty table.
    @usableFromInline package init() {
        slots = Array(repeating: -1, count: 8)
        hashes = Array(repeating: 0, count: 8)
        keys = []
        mask = 7
    }

    /// A table of `names[i] → i`, keeping the first of duplicate names.
    @usableFromInline package init(_ names: [String]) {
        self.init()
        for (index, name) in names.enumerated() { insert(name, Int32(index)) }
    }

    /// How many names the table holds.
    @usableFromInline package var count: Int { keys.count }

    /// Adds a name unless it is present; returns its value.
    @discardableResult
    @usableFromInline package mutating func insert(_ name: String, _ value: Int32) -> Int32 {
        let hash = Self.hash(name)
        var slot = Int(truncatingIfNeeded: hash) & mask
        while slots[slot] >= 0 {
            let entry = Int(slots[slot])
            if hashes[slot] == hash, keys[entry] == name { return values[entry] }
            slot = (slot &+ 1) & mask
        }
        slots[slot] = Int32(keys.count)
        hashes[slot] = hash
        keys.append(name)
        values.append(value)
        if keys.count * 2 > slots.count { grow() }
        return value
    }

    /// The value of a name, or nil.
    @inline(__always)
    @inlinable package subscript(name: String) -> Int32? {
        let hash = Self.hash(name)
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let entry = slots[slot]
            if entry < 0 { return nil }
            if hashes[slot] == hash, keys[Int(entry)] == name { return values[Int(entry)] }
            slot = (slot &+ 1) & mask
        }
    }

    /// Whether the table holds a name.
    @inline(__always)
    @inlinable package func contains(_ name: String) -> Bool { self[name] != nil }

    @usableFromInline package mutating func grow() {
        let size = slots.count * 2
        slots = Array(repeating: -1, count: size)
        hashes = Array(repeating: 0, count: size)
        mask = size - 1
        for (entry, key) in keys.enumerated() {
            let hash = Self.hash(key)
            var slot = Int(truncatingIfNeeded: hash) & mask
            while slots[slot] >= 0 { slot = (slot &+ 1) & mask }
            slots[slot] = Int32(entry)
            hashes[slot] = hash
        }
    }

    /// A 64-bit hash of a name's UTF-8 bytes.
    @inline(__always)
    @inlinable package static func hash(_ name: String) -> UInt64 {
        if let hash = name.utf8.withContiguousStorageIfAvailable({ hash($0) }) { return hash }
        return Array(name.utf8).withUnsafeBufferPointer { hash($0) }
    }

    /// A 64-bit hash of bytes (eight at a time).
    @inline(__always)
    @inlinable package static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var hash = UInt64(truncatingIfNeeded: bytes.count) &* 0x9E37_79B9_7F4A_7C15
        guard let base = bytes.baseAddress else { return hash }
        var position = 0
        while position &+ 8 <= bytes.count {
            hash = (hash ^ UnsafeRawPointer(base + position).loadUnaligned(as: UInt64.self)) &* 0xBF58_476D_1CE4_E5B9
            hash ^= hash &>> 29
            position &+= 8
        }
        if position < bytes.count {
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while position < bytes.count {
                tail |= UInt64(base[position]) &<< shift
                shift &+= 8
                position &+= 1
            }
            hash = (hash ^ tail) &* 0x94D0_49BB_1331_11EB
        }
        return hash ^ (hash &>> 32)
    }
}
