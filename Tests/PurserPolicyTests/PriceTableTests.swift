import Foundation
import Testing
import PurserPolicy
import PurserCore
import PurserTestSupport

@Suite("LiteLLM price import")
struct PriceTableTests {
    static let path = repositoryRoot + "/examples/prices/litellm-model-prices.json"

    @Test func importsTheWholeRealTable() throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.path)))
        let table = try PriceTable(litellmJSON: bytes, file: "prices.json")
        // 4,552 models plus LiteLLM's "sample_spec" documentation entry.
        #expect(table.entries.count + table.unpricedKeys.count == 4553)
        #expect(table.entries.count > 3500)

        let mini = try #require(table.entries["gpt-5-mini"])
        #expect(mini.provider == "openai")
        #expect(mini.price.input.perMillionDescription == "0.25")
        #expect(mini.price.output.perMillionDescription == "2")
        #expect(mini.price.cachedInput.perMillionDescription == "0.025")
        #expect(mini.price.cacheWrite == mini.price.input, "no cache_creation cost: defaults to input")

        let opus = try #require(table.entries["claude-opus-4-5"])
        #expect(opus.price.cacheWrite.perMillionDescription == "6.25")
    }

    @Test func everyPriceMatchesTheDecimalText() throws {
        // Cross-check against Foundation's Decimal on the raw number text.
        let text = try String(contentsOfFile: Self.path, encoding: .utf8)
        let table = try PriceTable(litellmJSON: Array(text.utf8), file: "prices.json")
        let pattern = try NSRegularExpression(pattern: #""input_cost_per_token":\s*([-0-9.eE+]+)"#)
        var written: Set<String> = []
        for match in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
            guard let range = Range(match.range(at: 1), in: text), let decimal = Decimal(string: String(text[range])) else { continue }
            var perMillion = decimal * 1_000_000
            var rounded = Decimal()
            NSDecimalRound(&rounded, &perMillion, 18, .plain)
            written.insert(NSDecimalNumber(decimal: rounded).stringValue)
        }
        // Every imported input price is exactly one of the decimal texts in the file, scaled by 10^6.
        var checked = 0
        for entry in table.entries.values {
            #expect(written.contains(entry.price.input.perMillionDescription), "\(entry.price.input.perMillionDescription)")
            checked += 1
        }
        #expect(checked > 3500)
    }

    @Test(arguments: [
        "", "[]", "{", "{\"a\": {\"input_cost_per_token\": 1e-06,}}", "{\"a\": {\"input_cost_per_token\": -1}}",
        "{\"a\": {\"input_cost_per_token\": \"cheap\"}}", "{\"a\": 1} junk", String(repeating: "[", count: 10_000),
    ])
    func rejectsMalformedTables(json: String) {
        #expect(throws: JSONError.self) { try PriceTable(litellmJSON: Array(json.utf8), file: "p.json") }
    }

    @Test func priceSourcesFillPricesAndProviders() throws {
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        try FileManager.default.copyItem(atPath: Self.path, toPath: directory + "/prices.json")
        let policy = """
            version: 1
            price_sources: [prices.json]
            models:
              gpt-5-mini: {tier: small}
              opus: {tier: frontier, price_key: claude-opus-4-5}
              own: {tier: small, provider: acme, price: {input: 1, output: 2}}

            """
        try Data(policy.utf8).write(to: URL(fileURLWithPath: directory + "/policy.yaml"))
        let result = PolicySet.load(paths: [directory])
        let loaded = try #require(result.policy, "\(result.diagnostics)")
        #expect(loaded.model(named: "gpt-5-mini")?.provider == "openai")
        #expect(loaded.model(named: "opus")?.price?.output.perMillionDescription == "25")
        #expect(loaded.model(named: "own")?.price?.input.perMillionDescription == "1")
        if case .priceSource(let file, let key) = loaded.model(named: "opus")?.price?.origin {
            #expect(file.hasSuffix("prices.json") && key == "claude-opus-4-5")
        } else {
            Issue.record("the price should come from the price source")
        }
    }

    @Test func unknownPriceKeysAreReported() throws {
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        try Data("{\"gpt-5\": {\"input_cost_per_token\": 1.25e-06, \"output_cost_per_token\": 1e-05}}".utf8)
            .write(to: URL(fileURLWithPath: directory + "/prices.json"))
        try Data("version: 1\nprice_sources: [prices.json]\nmodels:\n  x: {tier: small, provider: p, price_key: gpt-6}\n".utf8)
            .write(to: URL(fileURLWithPath: directory + "/policy.yaml"))
        let result = PolicySet.load(paths: [directory])
        #expect(codes(result) == ["undefined-reference"])
    }
}
