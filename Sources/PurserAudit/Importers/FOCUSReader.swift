import Purser
/// Reads FinOps FOCUS 1.x cost and usage CSV: one row per charge.
///
/// Only `ChargeCategory` Usage rows are replayed; Tax, Credit, Purchase and
/// Adjustment rows, and rows with a negative `BilledCost` (refunds), are
/// skipped and counted by reason. A row's cost is its `BilledCost` (in
/// `BillingCurrency`, which must be USD). A row usually aggregates many calls
/// over its charge period: a request-count budget counts it as one request.
package final class FOCUSReader: UsageLogReader {
    package let format = UsageLogFormat.focus
    private var records: HeaderedCSV<Columns>
    private let file: String
    /// The file's interned name, for records' locations.
    private let name: LogName
    private let batchSize: Int
    private let mapping: FieldMapping
    private var header: CSVHeader?
    private var columns = Columns()
    private let scratch = ScratchBuffer()

    /// Where the columns the importer reads are.
    private struct Columns: CSVColumns {
        package var start: Int?
        package var billedCost: Int?
        package var currency: Int?
        package var category: Int?
        package var quantity: Int?
        package var unit: Int?
        package var sku: Int?
        package var description: Int?
        package var region: Int?
        package var resourceName: Int?
        package var tags: Int?
        /// A vendor column naming the model, when there is one.
        package var model: Int?

        package init() {}

        package init(_ header: CSVHeader) {
            start = header.index("ChargePeriodStart")
            billedCost = header.index("BilledCost")
            currency = header.index("BillingCurrency")
            category = header.index("ChargeCategory")
            quantity = header.index("ConsumedQuantity")
            unit = header.index("ConsumedUnit")
            sku = header.index("SkuId")
            description = header.index("ChargeDescription")
            region = header.index("RegionId")
            resourceName = header.index("ResourceName")
            tags = header.index("Tags")
            model = header.index("x_Model", "x_ModelName", "x_ModelId")
        }

        package var positions: [Int?] {
            [start, billedCost, currency, category, quantity, unit, sku, description, region, resourceName, tags, model]
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
    }

    package func next() throws(UsageLogError) -> RecordBatch? {
        guard !records.isAtEnd else { return nil }
        var batch = RecordBatch()
        let (file, batchSize) = (file, batchSize)
        try records.next(until: { batch.entryCount >= batchSize }, header: { header, columns in
            (self.header, self.columns) = (header, columns)
        }, { record in
            decode(record, into: &batch)
        }, malformed: { line, message in
            batch.addMalformed(file, line, message)
        })
        return batch.isEmpty && records.isAtEnd ? nil : batch
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
        batch.add(location, skipReason: "focus: negative BilledCost (refund)") { () throws(RecordProblem) in
            let raw = record.raw(columns.billedCost ?? 0)
            guard let cost = ImportValues.usd(raw) else {
                throw RecordProblem("BilledCost must be an amount, found \(ImportValues.shown(raw))")
            }
            if cost < .zero { return nil }
            return try request(record, header, cost: cost)
        }
    }

    private func request(_ record: CSVRecord, _ header: CSVHeader, cost: USD) throws(RecordProblem) -> Request {
        func text(_ column: Int?) -> String? {
            guard let column else { return nil }
            let value = record.string(column).trimmingSpaces
            return value.isEmpty ? nil : value
        }
        if let currency = text(columns.currency), currency.uppercased() != "USD" {
            throw RecordProblem("BillingCurrency is \(currency); Purser counts USD")
        }
        guard let startText = text(columns.start) else { throw RecordProblem("the row has no ChargePeriodStart (usage logs need one)") }
        guard let start = Array(startText.utf8).withUnsafeBufferPointer(ImportValues.timestamp) else {
            throw RecordProblem("ChargePeriodStart \"\(startText.prefix(40))\" is not a time like 2026-11-22T00:00:00Z")
        }
        var tags: [String: String] = [:]
        if let column = columns.tags {
            tags = try record.withText(column, scratch: scratch) { bytes throws(RecordProblem) in try Self.tags(bytes) }
        }
        guard let model = try ImportValues.name(text(columns.model) ?? text(columns.sku) ?? text(columns.resourceName), "model") else {
            throw RecordProblem("the row names no model (no x_Model, SkuId or ResourceName); use --map model=COLUMN")
        }
        var request = Request(
            timestamp: start, team: tags["team"], environment: tags["environment"] ?? tags["env"], model: model,
            region: try ImportValues.name(text(columns.region), "RegionId"), user: tags["user"], tags: Tags(tags), cost: cost)
        request.usage = try usage(record)
        if !mapping.rules.isEmpty {
            try mapping.apply(to: &request) { path throws(RecordProblem) in
                let parts = path.components
                if parts.count == 2, parts[0] == "tags" || parts[0] == "Tags" { return tags[parts[1]] }
                return try header.mappedValue(path, in: record, scratch: scratch)
            }
        }
        return request
    }

    /// Tokens from `ConsumedQuantity` when `ConsumedUnit` counts tokens: input,
    /// output, cached or cache-write by the words in the unit, the SKU or the
    /// description; input when none says.
    private func usage(_ record: CSVRecord) throws(RecordProblem) -> Usage {
        var usage = Usage()
        guard let unitColumn = columns.unit, let quantityColumn = columns.quantity else { return usage }
        let unit = record.string(unitColumn).lowercased()
        guard unit.contains("token") else { return usage }
        let raw = record.raw(quantityColumn)
        if ImportValues.isBlank(raw) { return usage }
        let text = String(decoding: ImportValues.trimmed(raw), as: UTF8.self)
        guard let number = DecimalText(text), !number.negative, let whole = number.scaled(by: 0, rounding: true),
              let quantity = Int64(exactly: whole)
        else { throw RecordProblem("ConsumedQuantity must be a non-negative number, found \"\(text.prefix(40))\"") }
        let (scaled, overflow) = quantity.multipliedReportingOverflow(by: Self.unitQuantity(unit))
        guard !overflow, scaled <= RequestDecoder.maxTokens else {
            throw RecordProblem("ConsumedQuantity \(text) \(unit) is more than \(RequestDecoder.maxTokens) tokens")
        }
        var words = [unit]
        if let sku = columns.sku { words.append(record.string(sku).lowercased()) }
        if let description = columns.description { words.append(record.string(description).lowercased()) }
        switch Self.direction(words) {
        case .cacheWrite: usage.cacheWriteTokens = scaled
        case .cached: usage.cachedInputTokens = scaled
        case .output: usage.outputTokens = scaled
        case .input: usage.inputTokens = scaled
        }
        return usage
    }

    private enum Direction { case input, output, cached, cacheWrite }

    /// The first text that names a direction decides it.
    private static func direction(_ texts: [String]) -> Direction {
        for text in texts {
            if text.contains("cache write") || text.contains("cache-write") || text.contains("cache_write")
                || text.contains("cache creation") || text.contains("cache_creation") { return .cacheWrite }
            if text.contains("cached") || text.contains("cache read") || text.contains("cache-read") || text.contains("cache_read") {
                return .cached
            }
            if text.contains("output") || text.contains("completion") { return .output }
            if text.contains("input") || text.contains("prompt") { return .input }
        }
        return .input
    }

    /// The unit quantity of a unit like `1000 Tokens`, `1K Tokens` or `1M Tokens` (1 for `Tokens`).
    private static func unitQuantity(_ unit: String) -> Int64 {
        guard let first = unit.split(separator: " ").first, unit.contains(" ") else { return 1 }
        var digits = Substring(first)
        var multiplier: Int64 = 1
        if digits.hasSuffix("k") {
            multiplier = 1000
            digits = digits.dropLast()
        } else if digits.hasSuffix("m") {
            multiplier = 1_000_000
            digits = digits.dropLast()
        }
        guard let value = Int64(digits), value > 0 else { return 1 }
        return value * multiplier
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
