import Testing
import PurserPolicy
import PurserCore
import PurserTestSupport

/// Policies that are valid YAML but shaped to exhaust the checks: deep
/// fallback chains and thousands of undefined references. Each must finish
/// quickly with the right diagnostics, never overflow the stack or go
/// quadratic.
@Suite("Hardening")
struct HardeningTests {
    /// A fallback chain m0 → m1 → … → m(n-1), whose last model falls back to `loopTo`.
    static func chain(_ count: Int, loopTo: Int?) -> String {
        var lines = ["version: 1", "models:"]
        lines.reserveCapacity(count + 2)
        for index in 0..<count {
            let next = index + 1 < count ? index + 1 : loopTo
            let fallbacks = next.map { ", fallbacks: [m\($0)]" } ?? ""
            lines.append("  m\(index): {provider: p, tier: small\(fallbacks)}")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Regression: the cycle check recursed once per link, so a 100,000-link
    /// chain (5 MB of YAML) overflowed the stack and crashed `purser check`.
    @Test func longFallbackChainDoesNotOverflowTheStack() {
        let result = load(Self.chain(100_000, loopTo: nil))
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics.prefix(3))")
    }

    @Test func cycleAtTheEndOfALongChainIsReported() throws {
        let result = load(Self.chain(100_000, loopTo: 99_990))
        let diagnostic = try #require(result.diagnostics.first)
        #expect(result.diagnostics.count == 1)
        #expect(diagnostic.code == .fallbackCycle)
        #expect(diagnostic.message.hasPrefix("model fallbacks form a cycle: m99990 → m99991"))
        #expect(diagnostic.message.hasSuffix("m99999 → m99990"))
        #expect(diagnostic.location.line == 99_993)  // m99990's fallback
    }

    /// Regression: every undefined reference compared itself with every
    /// model name, and every model was compared with every environment
    /// entry: 2,000 × 2,000 long names took minutes.
    @Test func thousandsOfUndefinedReferencesStayFast() {
        var generator = SeededRandom(seed: 42)
        func name() -> String { String((0..<40).map { _ in Character(Unicode.Scalar(UInt8(97 + generator.next() % 10))) }) }
        var lines = ["version: 1", "models:"]
        for _ in 0..<2_000 { lines.append("  \(name()): {provider: p, tier: small}") }
        lines.append("environments:")
        lines.append("  prod:")
        lines.append("    models: [" + (0..<2_000).map { _ in name() }.joined(separator: ", ") + "]")

        let clock = ContinuousClock()
        var result: PolicyLoadResult?
        let elapsed = clock.measure { result = load(lines.joined(separator: "\n") + "\n") }

        #expect(result?.diagnostics.count == 2_000)
        #expect(result?.diagnostics.allSatisfy { $0.code == .undefinedReference } == true)
        #expect(elapsed < .seconds(20), "took \(elapsed)")
    }

    /// Suggestions are offered for the first 64 undefined references of a
    /// check, then dropped: the budget that keeps the check linear.
    @Test func suggestionsHaveABudget() {
        var lines = ["version: 1", "models:", "  gpt-5-mini: {provider: openai, tier: small}", "environments:"]
        for index in 0..<70 { lines.append("  env\(index): {models: [gpt-5-mnii]}") }
        let result = load(lines.joined(separator: "\n") + "\n")
        let messages = result.diagnostics.filter { $0.code == .undefinedReference }.map(\.message)
        #expect(messages.count == 70)
        #expect(messages.filter { $0.contains("did you mean \"gpt-5-mini\"?") }.count == SuggestionBudget().remaining)
    }

    /// Every unknown key is reported; suggestions stop after 256 per file.
    @Test func unknownKeysAreAllReported() {
        let yaml = "version: 1\nmodels:\n  m:\n    provider: p\n    tier: small\n"
            + (0..<300).map { "    tierr\($0): x\n" }.joined() + "    tierr: x\n"
        let result = load(yaml)
        let unknown = result.diagnostics.filter { $0.code == .unknownKey }
        #expect(unknown.count == 301)
        #expect(unknown.filter { $0.message.contains("did you mean") }.count <= 256)
    }

    @Test func boundedDistanceAgreesWithTheFullOne() {
        var generator = SeededRandom(seed: 7)
        func word() -> [Unicode.Scalar] {
            (0..<Int(generator.next() % 12)).map { _ in Unicode.Scalar(UInt8(97 + generator.next() % 4)) }
        }
        for _ in 0..<2_000 {
            let a = word()
            let b = word()
            var cells = 0
            let full = TextMatching.distance(String(String.UnicodeScalarView(a)), String(String.UnicodeScalarView(b)))
            for limit in 0...12 {
                let bounded = TextMatching.distance(a, b, limit: limit, cells: &cells)
                #expect(bounded == (full <= limit ? full : nil), "\(a) \(b) limit \(limit)")
            }
        }
    }

    @Test func suggestionsStillFindTypos() {
        #expect(TextMatching.suggestion(for: "gpt-5-mnii", among: ["gpt-5-mini", "gpt-5", "claude-opus-4-5"]) == "gpt-5-mini")
        #expect(TextMatching.suggestion(for: "budegt", among: ["budget", "models"]) == "budget")
        #expect(TextMatching.suggestion(for: "zzzzzz", among: ["budget", "models"]) == nil)
        #expect(TextMatching.suggestion(for: String(repeating: "a", count: 500), among: [String(repeating: "a", count: 499)]) == nil)
    }

    /// Byte equality of names: canonically equivalent strings (which `==` equates) differ.
    @Test(arguments: [
        ("us-east-1", "us-east-1", true), ("us-east-1", "us-east-2", false), ("us-east-1", "us-east-1 ", false),
        ("", "", true), ("", "a", false), ("caf\u{E9}", "cafe\u{301}", false), ("caf\u{E9}", "caf\u{E9}", true),
        (String(repeating: "region-", count: 40), String(repeating: "region-", count: 40), true),
    ])
    func namesAreComparedByTheirBytes(first: String, second: String, same: Bool) {
        #expect(first.hasSameUTF8(as: second) == same)
        #expect(second.hasSameUTF8(as: first) == same)
        #expect(first.hasSameUTF8(as: second) == first.utf8.elementsEqual(second.utf8))
        #expect(String(first.dropFirst(0)).hasSameUTF8(as: second) == same)
        if !same { #expect(("caf\u{E9}" == "cafe\u{301}") && !"caf\u{E9}".hasSameUTF8(as: "cafe\u{301}")) }
    }
}
