import PurserCore
import PurserPolicy
/// A request's tags: names to values, for `tag:KEY` budgets and `tags.KEY`
/// conditions.
///
/// Requests carry a handful of tags, so they are kept as a small array sorted
/// by name rather than a hash table: looking one up compares a few strings
/// instead of hashing, and building them allocates once. Use it like a
/// dictionary:
///
/// ```swift
/// var request = Request(model: "claude-haiku-4-5", tags: ["project": "checkout"])
/// request.tags["ticket"] = "PAY-1234"
/// for (name, value) in request.tags { print(name, value) }
/// ```
public struct Tags: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    public typealias Element = (key: String, value: String)

    @usableFromInline var entries: [Element] = []

    /// No tags.
    package init() {}

    /// The tags of a dictionary.
    public init(_ dictionary: [String: String]) {
        entries = dictionary.sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) }
    }

    /// Tags from a literal; a name given twice keeps its last value.
    public init(dictionaryLiteral elements: (String, String)...) {
        for (key, value) in elements { self[key] = value }
    }

    /// How many tags there are.
    public var count: Int { entries.count }

    /// Whether there are none.
    public var isEmpty: Bool { entries.isEmpty }

    /// The tag names, sorted.
    public var keys: [String] { entries.map(\.key) }

    /// The value of a tag, or nil; setting nil removes it.
    public subscript(key: String) -> String? {
        @inlinable @inline(__always)
        get {
            let position = search(key)
            return position.found ? entries[position.index].value : nil
        }
        set {
            let position = search(key)
            switch (position.found, newValue) {
            case (true, let value?): entries[position.index].value = value
            case (true, nil): entries.remove(at: position.index)
            case (false, let value?):
                // Logs mostly list tags in order: appending is the common case, and cheaper than inserting.
                if position.index == entries.count {
                    if entries.capacity == 0 { entries.reserveCapacity(4) }
                    entries.append((key: key, value: value))
                } else {
                    entries.insert((key: key, value: value), at: position.index)
                }
            case (false, nil): break
            }
        }
    }

    /// Where a name is, or where it would go to keep the names sorted.
    @inlinable @inline(__always)
    func search(_ key: String) -> (index: Int, found: Bool) {
        if entries.count <= 8 {
            for index in entries.indices {
                let name = entries[index].key
                if name == key { return (index, true) }
                if key < name { return (index, false) }
            }
            return (entries.count, false)
        }
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            let name = entries[middle].key
            if name == key { return (middle, true) }
            if name < key { low = middle + 1 } else { high = middle }
        }
        return (low, false)
    }

    public func makeIterator() -> IndexingIterator<[Element]> { entries.makeIterator() }

    /// The tags as a dictionary.
    package var dictionary: [String: String] {
        Dictionary(entries.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
    }

    public static func == (lhs: Tags, rhs: Tags) -> Bool {
        lhs.entries.count == rhs.entries.count && zip(lhs.entries, rhs.entries).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(entries.count)
        for entry in entries {
            hasher.combine(entry.key)
            hasher.combine(entry.value)
        }
    }

    public var description: String {
        "[" + entries.map { "\"\($0.key)\": \"\($0.value)\"" }.joined(separator: ", ") + "]"
    }
}
