import PurserCore
import PurserPolicy
/// A set of small non-negative integer ids as a bitset: membership is one load and a mask.
package struct IDSet: Sendable, Hashable {
    package private(set) var words: [UInt64]

    /// An empty set with room for `capacity` ids.
    package init(capacity: Int) {
        words = [UInt64](repeating: 0, count: max(1, (capacity + 63) / 64))
    }

    /// A set holding `ids`.
    package init(capacity: Int, _ ids: some Sequence<Int32>) {
        self.init(capacity: capacity)
        for id in ids { insert(id) }
    }

    package mutating func insert(_ id: Int32) {
        guard id >= 0 else { return }
        let word = Int(id) >> 6
        while word >= words.count { words.append(0) }
        words[word] |= 1 << UInt64(id & 63)
    }

    @inline(__always)
    package func contains(_ id: Int32) -> Bool {
        guard id >= 0 else { return false }
        let word = Int(id) >> 6
        return word < words.count && words[word] & (1 << UInt64(id & 63)) != 0
    }

    package var isEmpty: Bool { words.allSatisfy { $0 == 0 } }
}

/// Interns names into dense ids.
package struct Interner: Sendable {
    package private(set) var names: [String] = []
    private var ids = NameTable()

    @discardableResult
    package mutating func intern(_ name: String) -> Int32 {
        let id = ids.insert(name, Int32(names.count))
        if id == Int32(names.count) { names.append(name) }
        return id
    }

    /// The id of a name, or -1 when it was never interned.
    @inline(__always)
    package func id(_ name: String) -> Int32 { ids[name] ?? -1 }

    package var count: Int { names.count }
}
