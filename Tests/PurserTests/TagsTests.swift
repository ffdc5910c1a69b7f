import Testing
import Purser
import PurserTestSupport

/// `Tags` behaves like a `[String: String]` dictionary kept sorted by name.
@Suite("Request tags")
struct TagsTests {
    @Test func literalKeepsTheLastValueOfARepeatedName() {
        let tags: Tags = ["b": "1", "a": "2", "b": "3"]
        #expect(tags.count == 2)
        #expect(tags["b"] == "3")
        #expect(tags.keys == ["a", "b"])
    }

    @Test func settingNilRemovesAndSettingAValueReplaces() {
        var tags: Tags = ["project": "checkout", "ticket": "PAY-1"]
        tags["ticket"] = "PAY-2"
        #expect(tags["ticket"] == "PAY-2")
        tags["project"] = nil
        #expect(tags.keys == ["ticket"])
        tags["missing"] = nil
        #expect(tags.count == 1)
        tags["ticket"] = nil
        #expect(tags.isEmpty)
    }

    /// Property: any sequence of sets and removals leaves the same contents as a
    /// dictionary, iterated in sorted order, past the linear-search size too.
    @Test(arguments: [1, 2, 3, 4])
    func behavesLikeADictionary(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        var tags = Tags()
        var reference: [String: String] = [:]
        for _ in 0..<2000 {
            let key = "k\(random.next() % 40)"
            let value: String? = random.next() % 4 == 0 ? nil : "v\(random.next() % 7)"
            tags[key] = value
            reference[key] = value
            #expect(tags[key] == reference[key])
        }
        #expect(tags.dictionary == reference)
        #expect(tags.map(\.key) == reference.keys.sorted())
        #expect(tags.map(\.value) == reference.keys.sorted().map { reference[$0] ?? "" })
        #expect(Tags(reference) == tags)
        #expect(Tags(reference).hashValue == tags.hashValue)
    }

    @Test func differentValuesAreNotEqual() {
        let a: Tags = ["team": "x"]
        let b: Tags = ["team": "y"]
        let c: Tags = ["teams": "x"]
        #expect(a != b)
        #expect(a != c)
        #expect(a != Tags())
        #expect(a.description == "[\"team\": \"x\"]")
    }
}
