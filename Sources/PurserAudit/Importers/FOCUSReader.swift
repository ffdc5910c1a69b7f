import Purser
/// Reads FinOps FOCUS cost and usage CSV (1.0-preview to 1.x, Microsoft's
/// FocusCost, AWS's FOCUS 1.0 with AWS columns, LiteLLM's FOCUS exports): one
/// row per charge. The rules, column by column, are in docs/importers.md, "FOCUS 1.x (focus)".
///
/// Only `ChargeCategory` Usage rows are replayed; Tax, Credit, Purchase and
/// Adjustment rows, corrections (`ChargeClass` Correction) and rows with a
/// negative cost (refunds) are skipped and counted by reason. A row's cost is
/// its `BilledCost` (or the `--map cost=` column) in USD, from the column's
/// `x_…InUsd` twin when `BillingCurrency` is not USD. A row usually aggregates
/// many calls over its charge period: a request-count budget counts it as one request.
package final class FOCUSReader: UsageLogReader {
    package let format = UsageLogFormat.focus
    private var records: HeaderedCSV<Columns>
    private let file: String
    /// The file's interned name, for records' locations.
    private let name: LogName
    private let batchSize: Int
    private let mapping: FieldMapping
    private let dating: BucketDating
    private var header: CSVHeader?
    private var columns = Columns()
    /// Where the cost is read from: its column, its name, and the column of its USD twin.
    private var cost = CostColumn(column: nil, name: "BilledCost", usdColumn: nil, isUSD: false)
    /// A `--map cost=` column the header lacks: the file cannot be read.
    private var costProblem: String?
    private let scratch = ScratchBuffer()

    private struct CostColumn {
        var column: Int?
        var name: String
        /// `x_{name}InUsd`, when the header has it.
        var usdColumn: Int?
        /// Whether the column itself is in USD whatever the billing currency (`x_…InUsd`).
        var isUSD: Bool
    }

    /// Where the columns the importer reads are.
    private struct Columns: CSVColumns {
        package var start: Int?
        package var end: Int?
        package var billedCost: Int?
        package var billedCostInUSD: Int?
        package var currency: Int?
        package var category: Int?
        package var chargeClass: Int?
        package var quantity: Int?
        package var unit: Int?
        package var sku: Int?
        package var description: Int?
        package var region: Int?
        package var resourceName: Int?
        package var tags: Int?
        /// A vendor column naming the model, when there is one.
        package var model: Int?
        /// Azure: the meter (`gpt 4.1 Outp regnl Tokens`), its subcategory, and the pricing block.
        package var meterName: Int?
        package var meterSubcategory: Int?
        package var blockSize: Int?
        package var unitDescription: Int?
        /// AWS: the usage type (`USE1-Claude4.5Sonnet-input-tokens`).
        package var usageType: Int?

        package init() {}

        package init(_ header: CSVHeader) {
            start = header.index("ChargePeriodStart")
            end = header.index("ChargePeriodEnd")
            billedCost = header.index("BilledCost")
            billedCostInUSD = header.index("x_BilledCostInUsd")
            currency = header.index("BillingCurrency")
            category = header.index("ChargeCategory")
            chargeClass = header.index("ChargeClass")
            quantity = header.index("ConsumedQuantity", "UsageQuantity")
            unit = header.index("ConsumedUnit", "UsageUnit")
            sku = header.index("SkuId")
            description = header.index("ChargeDescription")
            region = header.index("RegionId", "Region")
            resourceName = header.index("ResourceName")
            tags = header.index("Tags")
            model = header.index("x_Model", "x_ModelName", "x_ModelId")
            meterName = header.index("x_SkuMeterName")
            meterSubcategory = header.index("x_SkuMeterSubcategory")
            blockSize = header.index("x_PricingBlockSize")
            unitDescription = header.index("x_PricingUnitDescription")
            usageType = header.index("x_UsageType")
        }

        package var positions: [Int?] {
            [start, end, billedCost, billedCostInUSD, currency, category, chargeClass, quantity, unit, sku, description, region,
             resourceName, tags, model, meterName, meterSubcategory, blockSize, unitDescription, usageType]
        }

        package var headerProblem: String? {
            start == nil || billedCost == nil
                ? "the CSV header has no ChargePeriodStart or BilledCost column; is this a FOCUS 1.x export?" : nil
        }
    }

    package init(file: LogFile, options: UsageLogOptions) {
        self.records = HeaderedCSV(file: file, limit: options.maxRecordBytes, mapping: options.mapping)
        self.file = file.path
        self.name = LogName(file.path)
        self.batchSize = options.batchSize
        self.mapping = options.mapping
        self.dating = options.dating
    }

    package func next() throws(UsageLogError) -> RecordBatch? {
        guard !records.isAtEnd else { return nil }
        var batch = RecordBatch()
        let (file, batchSize) = (file, batchSize)
        try records.next(until: { batch.entryCount >= batchSize || costProblem != nil }, header: { header, columns in
            (self.header, self.columns) = (header, columns)
            self.cost = Self.costColumn(header, columns, mapping: mapping)
            if cost.column == nil, let path = mapping.costPath {
                costProblem = "--map cost=\(path): the CSV header has no column \(path)"
            }
        }, { record in
            guard costProblem == nil else { return }
            decode(record, into: &batch)
        }, malformed: { line, message in
            batch.addMalformed(file, line, message)
        })
        if let costProblem { throw UsageLogError(costProblem, file: file) }
        return batch.isEmpty && records.isAtEnd ? nil : batch
    }

    /// The cost column: `BilledCost`, or the `--map cost=` column; with its `x_{name}InUsd` twin.
    private static func costColumn(_ header: CSVHeader, _ columns: Columns, mapping: FieldMapping) -> CostColumn {
        guard let path = mapping.costPath else {
            return CostColumn(column: columns.billedCost, name: "BilledCost", usdColumn: columns.billedCostInUSD, isUSD: false)
        }
        let name = path.components[0]
        let column = header.index(name)
        let shown = column.map { header.names[$0] } ?? name
        return CostColumn(column: column, name: shown, usdColumn: header.index("x_\(shown)InUsd"),
                          isUSD: shown.lowercased().hasSuffix("inusd"))
    }

    /// The categories FOCUS defines besides Usage; any other value is counted as one kind,
    /// so a file of thousands of made-up categories cannot make thousands of summary lines.
    package static let knownCategories = ["Purchase", "Tax", "Credit", "Adjustment"]

    /// The reason a non-usage row is skipped: `focus: Tax charge`, or `focus: other ChargeCategory` for unknown values.
    package static func skipReason(category: String) -> String {
        guard let known = knownCategories.first(where: { $0.lowercased() == category.lowercased() }) else {
            return "focus: other ChargeCategory (not Usage, Purchase, Tax, Credit or Adjustment)"
        }
        return "focus: \(known) charge"
    }

    /// The reason a correction (`ChargeClass` Correction: a change to charges of an earlier period) is skipped.
    package static let correctionReason = "focus: correction of an earlier period (ChargeClass Correction)"

    private func decode(_ record: CSVRecord, into batch: inout RecordBatch) {
        let location = RecordLocation(file: name, line: record.line)
        if let problem = CSVHeader.widthProblem(record, header: header) {
            batch.malformed.append(MalformedRecord(location: location, message: problem))
            return
        }
        guard let header else { return }
        // Charges that are not usage are left out, by category.
        if let column = columns.category {
            let category = record.string(column).trimmingSpaces
            if !category.isEmpty, category.lowercased() != "usage" {
                batch.skipped[Self.skipReason(category: category), default: 0] += 1
                return
            }
        }
        // Corrections change an earlier period's charges: counted, not replayed as usage.
        if let column = columns.chargeClass, record.string(column).trimmingSpaces.lowercased() == "correction" {
            batch.skipped[Self.correctionReason, default: 0] += 1
            return
        }
        let cost = self.cost
        let refund = cost.name == "BilledCost" ? "focus: negative BilledCost (refund)" : "focus: negative \(cost.name) (refund)"
        var width: Int64?
        let before = batch.records.count
        batch.add(location, skipReason: refund) { () throws(RecordProblem) in
            var column = cost.column ?? 0
            var name = cost.name
            if !cost.isUSD, let currencyColumn = columns.currency {
                let currency = record.string(currencyColumn).trimmingSpaces
                if !currency.isEmpty, currency.uppercased() != "USD" {
                    guard let usd = cost.usdColumn else {
                        throw RecordProblem("BillingCurrency is \(currency.prefix(40)) and the file has no x_\(cost.name)InUsd column; Purser counts USD")
                    }
                    column = usd
                    name = header.names[usd]
                }
            }
            let raw = record.raw(column)
            guard let amount = ImportValues.usd(raw) else {
                throw RecordProblem("\(name) must be an amount, found \(ImportValues.shown(raw))")
            }
            if amount < .zero { return nil }
            return try request(record, header, cost: amount, width: &width)
        }
        if let width, batch.records.count > before { batch.notes.bucketWidths[width / 1_000_000_000, default: 0] += 1 }
    }

    /// The row as a request, dated by ``BucketDating`` from its charge period; `width` is set to the period's length.
    private func request(_ record: CSVRecord, _ header: CSVHeader, cost: USD, width: inout Int64?) throws(RecordProblem) -> Request {
        func text(_ column: Int?) -> String? {
            guard let column else { return nil }
            let value = record.string(column).trimmingSpaces
            return value.isEmpty ? nil : value
        }
        guard let startText = text(columns.start) else { throw RecordProblem("the row has no ChargePeriodStart (usage logs need one)") }
        guard let start = Array(startText.utf8).withUnsafeBufferPointer(ImportValues.timestamp) else {
            throw RecordProblem("ChargePeriodStart \"\(startText.prefix(40))\" is not a time like 2026-11-22T00:00:00Z")
        }
        var end: Timestamp?
        if let endText = text(columns.end) {
            guard let value = Array(endText.utf8).withUnsafeBufferPointer(ImportValues.timestamp) else {
                throw RecordProblem("ChargePeriodEnd \"\(endText.prefix(40))\" is not a time like 2026-11-23T00:00:00Z")
            }
            end = value
        }
        width = BucketDating.width(start: start, end: end)
        var tags: [String: String] = [:]
        if let column = columns.tags {
            tags = try record.withText(column, scratch: scratch) { bytes throws(RecordProblem) in try Self.tags(bytes) }
        }
        let model = try ImportValues.name(defaultModel(text, tags: tags), "model")
        var request = Request(
            timestamp: dating.instant(start: start, end: end), team: tags["team"], environment: tags["environment"] ?? tags["env"], model: model ?? "",
            region: try ImportValues.name(text(columns.region), "RegionId"), user: tags["user"], tags: Tags(tags), cost: cost)
        request.usage = try usage(record, tags: tags)
        request.isAggregate = true
        if !mapping.rules.isEmpty {
            try mapping.apply(to: &request) { path throws(RecordProblem) in
                let parts = path.components
                if parts.count == 2, parts[0] == "tags" || parts[0] == "Tags" { return tags[parts[1]] }
                return try header.mappedValue(path, in: record, scratch: scratch)
            }
        }
        if request.model.isEmpty {
            throw RecordProblem("the row names no model (no x_Model, x_SkuMeterName, x_UsageType, SkuId or ResourceName); use --map model=COLUMN")
        }
        return request
    }

    /// The model a row names: a vendor model column (`x_Model`…), else LiteLLM's `model` tag
    /// (or `ResourceName`) without its provider prefix, else the model in an Azure token
    /// meter's name, else the model in an AWS Bedrock usage type, else `SkuId`, else `ResourceName`.
    private func defaultModel(_ text: (Int?) -> String?, tags: [String: String]) -> String? {
        if let model = text(columns.model) { return model }
        if let provider = tags["custom_llm_provider"] ?? tags["litellm:provider"],
           let model = tags["model"] ?? tags["litellm:model"] ?? text(columns.resourceName) {
            return LiteLLMMapping.model(model, provider: provider)
        }
        if let meter = text(columns.meterName), let model = Self.azureModel(meter: meter, subcategory: text(columns.meterSubcategory)) {
            return model
        }
        if let usageType = text(columns.usageType), let model = Self.bedrockModel(usageType: usageType) { return model }
        return text(columns.sku) ?? text(columns.resourceName)
    }

    /// Tokens: LiteLLM's token tags when the row has them (its older FOCUS export puts
    /// prompt + completion in one `ConsumedQuantity`), else `ConsumedQuantity` (or
    /// 1.0-preview `UsageQuantity`) scaled exactly by the unit when it counts tokens:
    /// `Tokens`, `1000 Tokens`, `1K tokens`, `1M Tokens`, or Azure's `Units` on a token
    /// meter with the block size in `x_PricingBlockSize` / `x_PricingUnitDescription`.
    /// Input, output, cached or cache-write by the words in the unit, the usage type, the
    /// meter, the SKU or the description; input when none says.
    private func usage(_ record: CSVRecord, tags: [String: String]) throws(RecordProblem) -> Usage {
        if tags["litellm:prompt_tokens"] != nil || tags["litellm:completion_tokens"] != nil {
            func count(_ key: String) throws(RecordProblem) -> Int64 {
                guard let value = tags[key] else { return 0 }
                guard let number = Array(value.utf8).withUnsafeBufferPointer(ImportValues.count) else {
                    throw RecordProblem("Tags.\(key) must be a whole number of tokens up to \(RequestDecoder.maxTokens), found \"\(value.prefix(40))\"")
                }
                return number
            }
            return LiteLLMMapping.usage(prompt: try count("litellm:prompt_tokens"), completion: try count("litellm:completion_tokens"),
                                        cacheRead: try count("litellm:cache_read_tokens"),
                                        cacheWrite: try count("litellm:cache_creation_tokens"))
        }
        var usage = Usage()
        guard let unitColumn = columns.unit, let quantityColumn = columns.quantity else { return usage }
        let unit = record.string(unitColumn).trimmingSpaces.lowercased()
        func lowered(_ column: Int?) -> String? {
            guard let column else { return nil }
            let value = record.string(column).trimmingSpaces
            return value.isEmpty ? nil : value.lowercased()
        }
        let meter = lowered(columns.meterName)
        let block: Int64
        if unit.contains("token") {
            block = Self.unitQuantity(unit)
        } else if unit == "units" || unit == "unit", let name = meter ?? lowered(columns.description),
                  name.hasSuffix("tokens") || name.hasSuffix("token") {
            block = lowered(columns.blockSize).flatMap(Self.blockSize) ?? lowered(columns.unitDescription).flatMap(Self.blockSize) ?? 1
        } else {
            return usage
        }
        let raw = record.raw(quantityColumn)
        if ImportValues.isBlank(raw) { return usage }
        let text = String(decoding: ImportValues.trimmed(raw), as: UTF8.self)
        let column = header.map { $0.names[quantityColumn] } ?? "ConsumedQuantity"
        let tokens = try Self.tokens(quantity: text, block: block, unit: unit, column: column)
        var words = [unit]
        for column in [columns.usageType, columns.meterName, columns.sku, columns.description] {
            if let value = lowered(column) { words.append(value) }
        }
        switch Self.direction(words) {
        case .cacheWrite: usage.cacheWriteTokens = tokens
        case .cached: usage.cachedInputTokens = tokens
        case .output: usage.outputTokens = tokens
        case .input: usage.inputTokens = tokens
        }
        return usage
    }

    /// `quantity` × `block` tokens, exactly: the decimal is read without floating point and
    /// the product must be a whole number of tokens up to ``RequestDecoder/maxTokens``
    /// (0.25 × 1M = 250,000; 1e-7 × 1K is a problem, not 0). `column` names the quantity's column in problems.
    package static func tokens(quantity text: String, block: Int64, unit: String,
                               column: String = "ConsumedQuantity") throws(RecordProblem) -> Int64 {
        let shown = "\(text.prefix(40)) \(unit.prefix(40))" + (block > 1 && !unit.contains("token") ? " (blocks of \(block))" : "")
        guard let number = DecimalText(text), !number.negative else {
            throw RecordProblem("\(column) must be a non-negative number, found \"\(text.prefix(40))\"")
        }
        if number.digits.isEmpty { return 0 }
        let tooMany = RecordProblem("\(column) \(shown) is more than \(RequestDecoder.maxTokens) tokens")
        guard let mantissa = number.scaled(by: -number.exponent, rounding: false) else { throw tooMany }
        var (value, overflow) = mantissa.multipliedReportingOverflow(by: Int128(block))
        guard !overflow else { throw tooMany }
        if number.exponent >= 0 {
            for _ in 0..<number.exponent {
                (value, overflow) = value.multipliedReportingOverflow(by: 10)
                guard !overflow, value <= Int128(RequestDecoder.maxTokens) else { throw tooMany }
            }
        } else {
            let places = -number.exponent
            var divisor: Int128 = 1
            var whole = places <= 38
            if whole {
                for _ in 0..<places { divisor *= 10 }
                whole = value % divisor == 0
            }
            guard whole else { throw RecordProblem("\(column) \(shown) is not a whole number of tokens") }
            value /= divisor
        }
        guard value <= Int128(RequestDecoder.maxTokens) else { throw tooMany }
        return Int64(value)
    }

    private enum Direction { case input, output, cached, cacheWrite }

    /// The first text that names a direction decides it; Azure's meter abbreviations
    /// count as words (`cd` cached, `Outp`/`outpt`/`opt` output, `Inp` input).
    private static func direction(_ texts: [String]) -> Direction {
        for text in texts {
            if text.contains("cache write") || text.contains("cache-write") || text.contains("cache_write")
                || text.contains("cache creation") || text.contains("cache_creation") { return .cacheWrite }
            let words = text.split { !$0.isLetter && !$0.isNumber && $0 != "." }
            if text.contains("cached") || text.contains("cache read") || text.contains("cache-read") || text.contains("cache_read")
                || words.contains("cd") {
                return .cached
            }
            if text.contains("output") || text.contains("completion")
                || words.contains(where: { $0 == "outp" || $0 == "outpt" || $0 == "opt" }) { return .output }
            if text.contains("input") || text.contains("prompt") || words.contains("inp") { return .input }
        }
        return .input
    }

    /// The direction a set of texts names, for tests: "input", "output", "cached" or "cache write".
    package static func directionName(_ texts: [String]) -> String {
        switch direction(texts.map { $0.lowercased() }) {
        case .input: "input"
        case .output: "output"
        case .cached: "cached"
        case .cacheWrite: "cache write"
        }
    }

    /// The unit quantity of a unit like `1000 Tokens`, `1K Tokens` or `1M Tokens` (1 for `Tokens`).
    private static func unitQuantity(_ unit: String) -> Int64 {
        guard let first = unit.split(separator: " ").first, unit.contains(" ") else { return 1 }
        return blockSize(String(first)) ?? 1
    }

    /// A block size as Azure writes it (`1000`, `1000000`, `1K`, `1M`, `10K`, `1 K`); nil when it is none.
    package static func blockSize(_ text: String) -> Int64? {
        var digits = Substring(text.trimmingSpaces.lowercased())
        var multiplier: Int64 = 1
        if digits.hasSuffix("k") {
            multiplier = 1000
            digits = digits.dropLast()
        } else if digits.hasSuffix("m") {
            multiplier = 1_000_000
            digits = digits.dropLast()
        }
        guard let value = Int64(String(digits).trimmingSpaces), value > 0 else { return nil }
        let (size, overflow) = value.multipliedReportingOverflow(by: multiplier)
        return overflow || size > RequestDecoder.maxTokens ? nil : size
    }

    /// Words of an Azure meter name that follow the model: token kinds and deployment types.
    private static let meterStopWords: Set<Substring> = [
        "inp", "input", "outp", "outpt", "opt", "output", "cached", "cd", "cache", "glbl", "gl", "global", "regnl",
        "regional", "dzone", "datazone", "batch", "tokens", "token", "1k", "1m",
    ]

    /// The model in an Azure token meter's name: the words before the token kind or
    /// deployment type, lowercased and joined by `-` (`gpt 4.1 Inp regnl Tokens` → `gpt-4.1`,
    /// `GPT 5 Mini outpt Glbl 1M Tokens` → `gpt-5-mini`); Azure OpenAI meters that start
    /// with a version (`5 mini cd inp Gl 1M Tokens`) are GPT models. Nil for other meters.
    package static func azureModel(meter: String, subcategory: String?) -> String? {
        let lowered = meter.lowercased()
        guard lowered.hasSuffix("tokens") || lowered.hasSuffix("token") else { return nil }
        var words: [Substring] = []
        for word in lowered.split(whereSeparator: { $0 == " " || $0 == "-" || $0 == "_" }) {
            if meterStopWords.contains(word) { break }
            words.append(word)
        }
        guard let first = words.first else { return nil }
        if first.first?.isNumber == true, subcategory?.lowercased().contains("openai") == true { words.insert("gpt", at: 0) }
        return words.joined(separator: "-")
    }

    /// The model in an AWS Bedrock usage type: what lies between the billing-region prefix
    /// and the token kind (`USE1-Claude4.5Sonnet-input-tokens-cross-region-global` →
    /// `Claude4.5Sonnet` → `claude-sonnet-4-5`); nil when the usage type names no token kind.
    package static func bedrockModel(usageType: String) -> String? {
        var text = Substring(usageType)
        if let dash = text.firstIndex(of: "-"), text.distance(from: text.startIndex, to: dash) <= 5,
           text[..<dash].allSatisfy({ $0.isUppercase || $0.isNumber }) {
            text = text[text.index(after: dash)...]
        }
        let lowered = text.lowercased()
        let ends = ["-input-", "-output-", "-cache-"].compactMap { lowered.firstRange(of: $0)?.lowerBound }
        guard let end = ends.min() else { return nil }
        let name = String(lowered[..<end])
        guard !name.isEmpty else { return nil }
        // Claude4.5Sonnet → claude-sonnet-4-5 (Claude 3.x: claude-3-5-haiku, Anthropic's own order).
        if name.hasPrefix("claude"), !name.contains("-") {
            let rest = name.dropFirst("claude".count)
            let version = rest.prefix { $0.isNumber || $0 == "." }
            let variant = rest.dropFirst(version.count)
            if !version.isEmpty, !variant.isEmpty, variant.allSatisfy(\.isLetter) {
                let dashed = String(version.map { $0 == "." ? "-" : $0 })
                let major = Int(version.prefix { $0.isNumber }) ?? 0
                return major >= 4 ? "claude-\(variant)-\(dashed)" : "claude-\(dashed)-\(variant)"
            }
        }
        return name
    }

    /// The `Tags` column: a JSON object of strings (valueless tags are `true`).
    package static func tags(_ bytes: UnsafeBufferPointer<UInt8>) throws(RecordProblem) -> [String: String] {
        var tags: [String: String] = [:]
        var scanner = JSONScanner(bytes)
        do {
            guard scanner.peek() != nil, try !scanner.null() else { return tags }
            guard scanner.peek() == UInt8(ascii: "{") else {
                throw RecordProblem("Tags must be a JSON object, found \(scanner.tokenDescription())")
            }
            try scanner.beginObject()
            var first = true
            while let key = try scanner.nextKey(first: &first) {
                let name = try scanner.decodeString(key)
                if let value = try JSONValues.name(&scanner, "Tags.\(name)"), tags.count < RequestDecoder.maxTags,
                   let key = try ImportValues.name(name, "a tag name") {
                    tags[key] = value
                }
            }
            try scanner.expectEnd()
        } catch {
            throw RecordProblem(from: error, prefix: "Tags: ")
        }
        return tags
    }
}
