import Foundation
import Testing
import PurserAudit
import Purser
import PurserTestSupport

/// The FOCUS exports in examples/exports (FOCUS 1.0 and 1.0-preview, Microsoft's FocusCost,
/// AWS's FOCUS 1.0 with AWS columns, LiteLLM's two FOCUS exports) read to the counts,
/// tokens and costs their READMEs state; the quantity, meter-name and currency rules.
@Suite("FOCUS exports as the tools write them")
struct FOCUSExportTests {
    struct Totals: Equatable, CustomStringConvertible {
        var records = 0
        var input: Int64 = 0, cached: Int64 = 0, cacheWrite: Int64 = 0, output: Int64 = 0
        var cost = USDTotal(nanos: 0)
        var description: String { "\(records) records, \(input)/\(cached)/\(cacheWrite)/\(output) tokens, \(cost)" }
    }

    static func read(_ file: String, maps: [String] = []) throws -> (Imported, Totals) {
        let imported = try importFile(repositoryRoot + "/examples/exports/" + file, format: .focus, maps: maps)
        var totals = Totals()
        for record in imported.records {
            let request = record.request
            totals.records += 1
            totals.input += request.usage.inputTokens
            totals.cached += request.usage.cachedInputTokens
            totals.cacheWrite += request.usage.cacheWriteTokens
            totals.output += request.usage.outputTokens
            totals.cost = USDTotal(nanos: totals.cost.nanos + Int128(request.cost?.nanos ?? 0))
        }
        return (imported, totals)
    }

    static func usd(_ text: String) -> USDTotal { USDTotal(USD(text)!) }

    @Test func focus10Sample() throws {
        let (imported, totals) = try Self.read("focus/focus-1.0-sample.csv")
        #expect(imported.malformed.isEmpty)
        #expect(totals == Totals(records: 5, input: 2_650_000, cached: 1_200_000, cacheWrite: 0, output: 37_500, cost: Self.usd("3.1725")))
        #expect(imported.skipped == ["focus: Tax charge": 1, "focus: Credit charge": 1, FOCUSReader.correctionReason: 1])
        #expect(imported.records.map(\.request.model)
            == ["claude-sonnet-4-5", "claude-sonnet-4-5", "claude-sonnet-4-5", "claude-haiku-4-5", "claude-sonnet-4-5"])
        let effective = try Self.read("focus/focus-1.0-sample.csv", maps: ["cost=EffectiveCost"]).1
        #expect(effective.cost == Self.usd("5.8725"))  // the committed row counts 2.70, not 0
    }

    @Test func focus10Preview() throws {
        let (imported, totals) = try Self.read("focus/focus-1.0-preview.csv")
        #expect(imported.malformed.isEmpty)
        #expect(totals == Totals(records: 4, input: 3_000_000, cached: 0, cacheWrite: 0, output: 710_000, cost: Self.usd("9.95")))
        #expect(imported.skipped == ["focus: Adjustment charge": 2])
        #expect(imported.records.map(\.request.region) == ["us-east-1", "us-east-1", "eu-west-1", "eu-west-1"])  // from Region
        #expect(try Self.read("focus/focus-1.0-preview.csv", maps: ["cost=EffectiveCost"]).1.cost == Self.usd("11.75"))
    }

    @Test func azureFocusCostInEUR() throws {
        let (imported, totals) = try Self.read("focus/azure-openai-focus.csv")
        #expect(imported.malformed.isEmpty)  // no row is malformed for being billed in EUR
        #expect(totals == Totals(records: 10, input: 4_500_500, cached: 4_600_000, cacheWrite: 0, output: 416_250,
                                 cost: Self.usd("12.0104")))
        #expect(imported.skipped == ["focus: Purchase charge": 1, FOCUSReader.correctionReason: 1])
        #expect(imported.records.map(\.request.model) == ["gpt-4.1", "gpt-4.1", "gpt-4.1", "gpt-4.1", "gpt-5-mini", "gpt-5-mini",
                                                          "gpt-5-mini", "gpt-5", "gpt-5", "DZH318Z0C6ZM"])
        #expect(imported.records.map(\.request.usage)[..<3] == [Usage(inputTokens: 1_250_500), Usage(outputTokens: 182_250),
                                                                 Usage(cachedInputTokens: 3_400_000)])
        // EffectiveCost of a EUR row is read from its USD twin, x_EffectiveCostInUsd.
        #expect(try Self.read("focus/azure-openai-focus.csv", maps: ["cost=EffectiveCost"]).1.cost == Self.usd("439.4504"))
        #expect(try Self.read("focus/azure-openai-focus.csv", maps: ["cost=x_EffectiveCostInUsd"]).1.cost == Self.usd("439.4504"))
    }

    @Test func awsBedrockFocus() throws {
        let (imported, totals) = try Self.read("focus/aws-bedrock-focus.csv")
        #expect(imported.malformed.isEmpty)
        #expect(totals == Totals(records: 8, input: 2_232_400, cached: 2_400_000, cacheWrite: 150_000, output: 282_350,
                                 cost: Self.usd("7.76995")))
        #expect(imported.skipped == ["focus: Credit charge": 1, "focus: Tax charge": 1])
        #expect(imported.records.map(\.request.model) == Array(repeating: "claude-sonnet-4-5", count: 4)
            + ["claude-haiku-4-5", "claude-haiku-4-5", "claude-opus-4-5", "claude-opus-4-5"])
    }

    @Test func liteLLMFocusExport() throws {
        let (imported, totals) = try Self.read("litellm/focus-export.csv")
        #expect(imported.malformed.isEmpty)
        #expect(totals == Totals(records: 6, cost: Self.usd("29.0131")))  // `1.0 Requests`: no tokens
        #expect(imported.records.map(\.request.model) == ["gpt-4.1", "gemini-2.5-flash", "eu.anthropic.claude-haiku-4-5-20251001-v1:0",
                                                          "gpt-5-mini", "gpt-4.1", "claude-sonnet-4-5-20250929"])
    }

    @Test func liteLLMLegacyFocusExport() throws {
        let (imported, totals) = try Self.read("litellm/focus-export-legacy.csv")
        #expect(imported.malformed.isEmpty)
        // Tokens from the litellm: tags, not ConsumedQuantity (prompt + completion as input).
        #expect(totals == Totals(records: 4, input: 2_950_000, cached: 2_100_000, cacheWrite: 40_000, output: 456_000,
                                 cost: Self.usd("9.187")))
        #expect(imported.records.map(\.request.model) == ["claude-sonnet-4-5-20250929", "gpt-4.1", "gemini-2.5-flash",
                                                          "eu.anthropic.claude-haiku-4-5-20251001-v1:0"])
    }

    // MARK: Quantities

    @Test(arguments: [
        ("0.25", Int64(1_000_000), Int64(250_000)), ("1.5", 1_000_000, 1_500_000), ("1250.5", 1000, 1_250_500),
        ("0.084", 1_000_000, 84_000), ("37.5", 1000, 37_500), ("1200000", 1, 1_200_000), ("1.2e3", 1, 1200), ("0", 1000, 0),
        ("100000000", 1000, 100_000_000_000),
    ])
    func quantitiesScaleExactly(_ example: (String, Int64, Int64)) throws {
        #expect(try FOCUSReader.tokens(quantity: example.0, block: example.1, unit: "units") == example.2)
    }

    @Test(arguments: [
        ("1e-7", Int64(1000), "not a whole number"), ("0.5", 1, "not a whole number"), ("2731.1075", 1000, "not a whole number"),
        ("100000001", 1000, "more than"), ("9223372036854775807", 1_000_000, "more than"), ("1e300", 1, "more than"),
        ("-1", 1000, "non-negative"), ("abc", 1000, "non-negative"), ("1e-400", 1000, "not a whole number"),
    ])
    func quantitiesThatAreNotTokensAreProblems(_ example: (String, Int64, String)) {
        do {
            _ = try FOCUSReader.tokens(quantity: example.0, block: example.1, unit: "1k tokens")
            Issue.record("\(example.0) × \(example.1) was accepted")
        } catch {
            #expect(error.message.contains(example.2), "\(error.message)")
        }
    }

    @Test func aFractionalTokenIsMalformedWithItsLine() throws {
        let rows = [UsageImporterTests.focusRow(quantity: "0.25", unit: "1M Tokens"),
                    UsageImporterTests.focusRow(quantity: "1e-7", unit: "1K Tokens"),
                    UsageImporterTests.focusRow(quantity: "1.5", unit: "1M Tokens")]
        let imported = try importLog(UsageImporterTests.focusHeader + "\n" + rows.joined(separator: "\n") + "\n", format: .focus)
        #expect(imported.records.map(\.request.usage) == [Usage(inputTokens: 250_000), Usage(inputTokens: 1_500_000)])
        #expect(imported.malformedLines == [3])
        #expect(imported.malformed.first?.message.contains("not a whole number of tokens") == true)
    }

    @Test func aProblemNamesTheQuantityColumnTheFileHas() throws {
        // FOCUS 1.0-preview calls them UsageQuantity and UsageUnit.
        let header = UsageImporterTests.focusHeader.replacingOccurrences(of: "ConsumedQuantity,ConsumedUnit", with: "UsageQuantity,UsageUnit")
        let row = UsageImporterTests.focusRow(quantity: "1e-7", unit: "1K Tokens")
        let imported = try importLog(header + "\n" + row + "\n", format: .focus)
        let message = try #require(imported.malformed.first?.message)
        #expect(message.hasPrefix("UsageQuantity 1e-7 1k tokens is not a whole number of tokens"), "\(message)")
    }

    @Test(arguments: [("1000", Int64(1000)), ("1000000", 1_000_000), ("1K", 1000), ("1M", 1_000_000), ("10K", 10_000),
                      ("1 Hour", nil), ("", nil), ("0", nil), ("K", nil)])
    func azureBlockSizes(_ example: (String, Int64?)) {
        #expect(FOCUSReader.blockSize(example.0) == example.1)
    }

    // MARK: Meter names and usage types

    @Test(arguments: [
        ("gpt 4.1 Inp regnl Tokens", "input"), ("gpt 4.1 Outp regnl Tokens", "output"), ("GPT 5 Mini outpt Glbl 1M Tokens", "output"),
        ("gpt 5 opt DZone 1M Tokens", "output"), ("gpt 4.1 cached Inp glbl Tokens", "cached"), ("5 mini cd inp Gl 1M Tokens", "cached"),
        ("gpt-4o-mini-0718-Inp-glbl Tokens", "input"), ("R1 Outp glbl Tokens", "output"), ("gpt 4o 0513 Input global Tokens", "input"),
        ("USE1-Claude4.6Opus-cache-read-input-token-count-cross-region-global", "cached"),
        ("EUC1-Claude3.5Haiku-cache-write-input-token-count-cross-region-geo", "cache write"),
        ("USE1-Claude4.5Sonnet-output-tokens-cross-region-global", "output"), ("Provisioned Managed PTU Hours", "input"),
        ("Input and output tokens for gpt-5", "output"),  // the generator's description: as before, the first word found in order
    ])
    func meterNamesClassify(_ example: (String, String)) {
        #expect(FOCUSReader.directionName([example.0]) == example.1)
    }

    @Test(arguments: [
        ("gpt 4.1 Inp regnl Tokens", "gpt-4.1"), ("GPT 5 Mini inp Glbl 1M Tokens", "gpt-5-mini"), ("5 mini cd inp Gl 1M Tokens", "gpt-5-mini"),
        ("gpt 5 opt DZone 1M Tokens", "gpt-5"), ("gpt-4o-mini-0718-Inp-glbl Tokens", "gpt-4o-mini-0718"),
        ("gpt 4o 0513 Input global Tokens", "gpt-4o-0513"), ("5.4 cd inp Gl 1M Tokens", "gpt-5.4"), ("R1 Outp glbl Tokens", "r1"),
    ])
    func azureMeterModels(_ example: (String, String)) {
        #expect(FOCUSReader.azureModel(meter: example.0, subcategory: "Azure OpenAI") == example.1)
        #expect(FOCUSReader.azureModel(meter: "Provisioned Managed Regional PTU Hours", subcategory: "Azure OpenAI") == nil)
    }

    @Test(arguments: [
        ("USE1-Claude4.5Sonnet-input-tokens-cross-region-global", "claude-sonnet-4-5"), ("EUC1-Claude4.5Haiku-output-tokens", "claude-haiku-4-5"),
        ("USE1-Claude4.6Opus-cache-read-input-token-count-cross-region-global", "claude-opus-4-6"),
        ("EUC1-Claude3.5Haiku-cache-write-input-token-count-cross-region-geo", "claude-3-5-haiku"),
        ("USE1-Nova-Pro-input-tokens", "nova-pro"),
    ])
    func bedrockUsageTypeModels(_ example: (String, String)) {
        #expect(FOCUSReader.bedrockModel(usageType: example.0) == example.1)
        #expect(FOCUSReader.bedrockModel(usageType: "USW2-MP:USW2_InputTokenCount-Units") == nil)
    }

    // MARK: Models, currency and the cost column

    @Test func mapModelWorksWhenNoDefaultColumnNamesOne() throws {
        let header = "BilledCost,ChargePeriodStart,ConsumedQuantity,ConsumedUnit,x_Deployment"
        let row = "0.10,2026-11-22T10:00:00Z,1000,Tokens,gpt-5"
        let unmapped = try importLog(header + "\n" + row + "\n", format: .focus)
        #expect(unmapped.malformed.first?.message.contains("--map model=COLUMN") == true)
        let mapped = try importLog(header + "\n" + row + "\n", format: .focus, maps: ["model=x_Deployment"])
        #expect(mapped.malformed.isEmpty)
        #expect(mapped.records.map(\.request.model) == ["gpt-5"])
    }

    @Test func currencyChoosesTheUSDColumn() throws {
        let header = "BilledCost,BillingCurrency,ChargePeriodStart,SkuId,x_BilledCostInUsd,EffectiveCost,x_EffectiveCostInUsd"
        let rows = ["0.9262,EUR,2026-11-22T10:00:00Z,gpt-5,1,0.5,0.54", "2.00,USD,2026-11-22T10:00:00Z,gpt-5,9,3,9"]
        let imported = try importLog(header + "\n" + rows.joined(separator: "\n") + "\n", format: .focus)
        #expect(imported.records.map(\.request.cost) == [USD("1"), USD("2.00")])  // USD rows keep BilledCost
        let effective = try importLog(header + "\n" + rows.joined(separator: "\n") + "\n", format: .focus, maps: ["cost=EffectiveCost"])
        #expect(effective.records.map(\.request.cost) == [USD("0.54"), USD("3")])
        // Without a USD twin a EUR row is malformed, and says which column is missing.
        let bare = try importLog("BilledCost,BillingCurrency,ChargePeriodStart,SkuId\n1,EUR,2026-11-22T10:00:00Z,gpt-5\n", format: .focus)
        #expect(bare.malformedLines == [2])
        #expect(bare.malformed.first?.message.contains("x_BilledCostInUsd") == true)
    }

    @Test func aMappedCostColumnTheFileLacksFailsTheFile() throws {
        #expect(throws: UsageLogError.self) {
            try importLog(UsageImporterTests.focusHeader + "\n" + UsageImporterTests.focusRow() + "\n", format: .focus, maps: ["cost=NoSuchCost"])
        }
        #expect(throws: UsageLogError.self) {
            try importLog("{\"timestamp\": \"2026-11-22T10:00:00Z\", \"model\": \"gpt-5\"}\n", format: .purser, maps: ["cost=EffectiveCost"])
        }
    }
}
