import Testing
@testable import PurserYAML

@Suite("YAML reader")
struct YAMLReaderTests {
    let reader = YAMLReader()

    func read(_ text: String) throws -> [YAMLDocument] {
        try reader.read(text, file: "t.yaml")
    }

    func error(_ text: String) -> YAMLError? {
        error(Array(text.utf8))
    }

    func error(_ bytes: [UInt8]) -> YAMLError? {
        do {
            _ = try reader.read(bytes, file: "t.yaml")
            return nil
        } catch {
            return error
        }
    }

    @Test func buildsLocatedTree() throws {
        let docs = try read("version: 1\nmodels:\n  a:\n    tier: small\n    regions: [us, eu]\n")
        #expect(docs.count == 1)
        let root = try #require(docs[0].root.mapping)
        #expect(root.map { $0.key.scalar } == ["version", "models"])
        #expect(root[1].key.mark == YAMLMark(line: 2, column: 1))
        let model = try #require(root[1].value.mapping?.first)
        #expect(model.key.scalar == "a")
        #expect(model.key.mark == YAMLMark(line: 3, column: 3))
        let regions = try #require(model.value.mapping?[1].value.sequence)
        #expect(regions.map(\.scalar) == ["us", "eu"])
        #expect(regions[1].mark == YAMLMark(line: 5, column: 19))
    }

    @Test func keepsScalarStyles() throws {
        let docs = try read("a: NO\nb: 'x'\nc: \"y\"\nd: |\n  lit\ne: >\n  fold\nf:\n")
        let styles = try #require(docs[0].root.mapping).map { $0.value.scalarStyle }
        #expect(styles == [.plain, .singleQuoted, .doubleQuoted, .literal, .folded, .plain])
        #expect(try #require(docs[0].root.mapping)[0].value.scalar == "NO")
        #expect(try #require(docs[0].root.mapping)[5].value.isNull)
    }

    @Test func readsSeveralDocuments() throws {
        let docs = try read("a: 1\n---\nb: 2\n---\n")
        #expect(docs.count == 3)
        #expect(docs.map(\.index) == [0, 1, 2])
        #expect(docs[2].root.isNull)
    }

    @Test func emptyInputHasNoDocuments() throws {
        #expect(try read("").isEmpty)
        #expect(try read("# only a comment\n").isEmpty)
    }

    @Test func columnsCountCharactersNotBytes() throws {
        let docs = try read("é: [ü, x]\n")
        let items = try #require(docs[0].root.mapping?[0].value.sequence)
        #expect(items[1].mark == YAMLMark(line: 1, column: 8))
    }

    @Test func expandsAliases() throws {
        let docs = try read("a: &x [1, 2]\nb: *x\n")
        let pairs = try #require(docs[0].root.mapping)
        #expect(pairs[1].value.sequence?.map(\.scalar) == ["1", "2"])
        #expect(pairs[1].value.mark == YAMLMark(line: 2, column: 4))
    }

    @Test(arguments: [
        ("a: 1\na: 2\n", YAMLMark(line: 2, column: 1)),
        ("a: 1\n\"a\": 2\n", YAMLMark(line: 2, column: 1)),
        ("a: 1\n'a': 2\n", YAMLMark(line: 2, column: 1)),
        ("{x: 1, y: 2, x: 3}", YAMLMark(line: 1, column: 14)),
    ])
    func rejectsDuplicateKeys(text: String, mark: YAMLMark) {
        let problem = error(text)
        #expect(problem?.kind == .duplicateKey)
        #expect(problem?.mark == mark)
    }

    @Test func rejectsDuplicateKeysInLargeMappings() {
        var text = ""
        for index in 0..<100 { text += "k\(index): \(index)\n" }
        text += "k42: again\n"
        let problem = error(text)
        #expect(problem?.kind == .duplicateKey)
        #expect(problem?.mark == YAMLMark(line: 101, column: 1))
        #expect(problem?.message.contains("line 43") == true)
    }

    @Test func rejectsMergeKeys() {
        let problem = error("base: &b {x: 1}\nother:\n  <<: *b\n")
        #expect(problem?.kind == .mergeKey)
        #expect(problem?.mark == YAMLMark(line: 3, column: 3))
    }

    @Test func quotedMergeKeyIsAnOrdinaryKey() throws {
        #expect(try read("'<<': 1\n").count == 1)
    }

    @Test(arguments: ["a: !custom x\n", "a: !!int 5\n", "a: !!python/object x\n", "a: !<tag:x> [1]\n", "a: ! x\n"])
    func rejectsCustomTags(text: String) {
        #expect(error(text)?.kind == .customTag)
    }

    @Test func allowsCoreStringTag() throws {
        let docs = try read("a: !!str 5\n")
        #expect(docs[0].root.mapping?[0].value.scalar == "5")
    }

    @Test func rejectsDeepNesting() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let problem = error(deep)
        #expect(problem?.kind == .nestingTooDeep)
        #expect(problem?.mark == YAMLMark(line: 1, column: 65))
    }

    @Test func rejectsDeepBlockNesting() {
        var text = ""
        for level in 0..<200 { text += String(repeating: " ", count: level) + "k:\n" }
        #expect(error(text)?.kind == .nestingTooDeep)
    }

    @Test func acceptsNestingAtTheLimit() throws {
        let text = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(try read(text).count == 1)
    }

    @Test func rejectsBillionLaughs() {
        var text = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
        var previous = "a"
        for name in ["b", "c", "d", "e", "f", "g", "h", "i"] {
            text += "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 9).joined(separator: ",") + "]\n"
            previous = name
        }
        let problem = error(text)
        #expect(problem?.kind == .aliasExpansion)
    }

    @Test func rejectsUndefinedAlias() {
        #expect(error("a: *nope\n")?.kind == .aliasExpansion)
    }

    @Test func rejectsInvalidUTF8() {
        let problem = error(Array("a: ok\nb: ".utf8) + [0xC3, 0x28] + Array("\n".utf8))
        #expect(problem?.kind == .invalidEncoding)
        #expect(problem?.mark == YAMLMark(line: 2, column: 4))
    }

    @Test(arguments: [
        [UInt8]([0xC0, 0x80]),  // overlong NUL
        [0xED, 0xA0, 0x80],  // surrogate
        [0xF4, 0x90, 0x80, 0x80],  // past U+10FFFF
        [0xE2, 0x82],  // truncated
        [0xFF],
    ])
    func rejectsMalformedSequences(bytes: [UInt8]) {
        #expect(error(Array("a: ".utf8) + bytes)?.kind == .invalidEncoding)
    }

    @Test func rejectsUTF16() {
        let problem = error([0xFF, 0xFE, 0x61, 0x00])
        #expect(problem?.kind == .invalidEncoding)
        #expect(problem?.message.contains("UTF-16") == true)
    }

    @Test func rejectsNULBytes() {
        let problem = error(Array("a: 1\nbb: x".utf8) + [0] + Array("y\n".utf8))
        #expect(problem?.kind == .controlCharacter)
        #expect(problem?.message.contains("NUL") == true)
        #expect(problem?.mark == YAMLMark(line: 2, column: 6))
    }

    @Test func rejectsC1ControlCharacters() {
        #expect(error(Array("a: ".utf8) + [0xC2, 0x80])?.kind == .controlCharacter)
    }

    @Test func acceptsUTF8ByteOrderMark() throws {
        let docs = try reader.read([0xEF, 0xBB, 0xBF] + Array("a: 1\n".utf8), file: "t.yaml")
        #expect(docs[0].root.mapping?[0].key.scalar == "a")
    }

    @Test func rejectsLargeInput() {
        var limits = YAMLReader.Limits()
        limits.maxBytes = 100
        let problem: YAMLError?
        do {
            _ = try YAMLReader(limits: limits).read(String(repeating: "a", count: 101), file: "t")
            problem = nil
        } catch {
            problem = error
        }
        #expect(problem?.kind == .tooLarge)
    }

    @Test func defaultLimitIsSixteenMebibytes() {
        #expect(YAMLReader.Limits().maxBytes == 16 * 1024 * 1024)
        let big = [UInt8](repeating: 0x61, count: 17 * 1024 * 1024)
        #expect(error(big)?.kind == .tooLarge)
    }

    @Test func rejectsComplexKeys() {
        #expect(error("? [a, b]\n: 1\n")?.kind == .complexKey)
    }

    @Test(arguments: [
        ("a: [1, 2\n", 2),
        ("a: b: c\n", 1),
        ("a:\n  - x\n y: 2\n", 3),
        ("\"unterminated\n", 2),
        ("a: 'x\n", 2),
        ("\t- a\n", 1),
    ])
    func reportsSyntaxErrorsWithLocation(text: String, line: Int) {
        let problem = error(text)
        #expect(problem?.kind == .syntax)
        #expect(problem?.mark.line == line)
        #expect(problem?.message.isEmpty == false)
    }
}
