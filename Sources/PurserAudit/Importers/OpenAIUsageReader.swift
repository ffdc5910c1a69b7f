import Purser
/// Reads OpenAI organization usage and costs: pages of `GET
/// /v1/organization/usage/completions`, `/usage/embeddings` and `/costs`
/// (`{"object": "page", "data": [buckets], "has_more", "next_page"}`), one
/// page, a JSON array of pages, or JSON lines of pages (a bucket on its own is
/// read too).
///
/// Each result of a bucket becomes one record, dated by ``BucketDating`` from
/// the bucket's `start_time` and `end_time` and located at the line of the result object (docs/importers.md, "OpenAI
/// usage and costs (openai-usage)"). A usage result aggregates `num_model_requests` calls
/// (kept in `tags.requests`): a request-count budget counts it as one
/// request. It has no cost (the policy prices it); a costs result has its
/// amount as the cost.
package final class OpenAIUsageReader: UsageLogReader {
    package let format = UsageLogFormat.openaiUsage
    /// The largest page read whole (results inside it are held to the record-size limit).
    package static let pageLimit = 64 << 20

    private var documents: JSONDocuments
    private let file: String
    /// The file's interned name, for records' locations.
    private let name: LogName
    private let batchSize: Int
    private let recordLimit: Int
    private let mapping: FieldMapping
    private let dating: BucketDating
    private let pricing: TierPricing
    private var done = false

    package init(file: LogFile, options: UsageLogOptions) {
        self.documents = JSONDocuments(file: file, limit: max(options.maxRecordBytes, Self.pageLimit))
        self.file = file.path
        self.name = LogName(file.path)
        self.batchSize = options.batchSize
        self.recordLimit = options.maxRecordBytes
        self.mapping = options.mapping
        self.dating = options.dating
        self.pricing = options.pricing
    }

    package func next() throws(UsageLogError) -> RecordBatch? {
        guard !done else { return nil }
        var batch = RecordBatch()
        done = try !documents.fill(&batch, size: batchSize, file: file) { bytes, line, batch in
            page(bytes, line: line, into: &batch)
        }
        return batch.isEmpty && done ? nil : batch
    }

    /// Reads a page (or a bucket) and adds a record per result.
    private func page(_ bytes: UnsafeBufferPointer<UInt8>, line: Int, into batch: inout RecordBatch) {
        var lines = LineCounter(bytes, firstLine: line)
        var scanner = JSONScanner(bytes)
        do throws(JSONError) {
            if JSONValues.hasKey(scanner, "results") {
                try bucket(&scanner, &lines, into: &batch)
                return
            }
            try scanner.beginObject()
            var first = true
            var sawData = false
            while let key = try scanner.nextKey(first: &first) {
                guard scanner.equals(key, "data") else {
                    try scanner.skipValue()
                    continue
                }
                sawData = true
                if try scanner.null() { continue }
                try scanner.beginArray()
                var firstBucket = true
                while try scanner.nextElement(first: &firstBucket) {
                    try bucket(&scanner, &lines, into: &batch)
                }
            }
            try scanner.expectEnd()
            if !sawData {
                batch.addMalformed(file, line, "the page has no \"data\"; is this a page of /v1/organization/usage/completions, /usage/embeddings or /costs?")
            }
        } catch {
            let at = lines.line(at: error.offset)
            batch.addMalformed(file, at, "column \(LineCounter.column(bytes, error.offset)): \(error.message)")
        }
    }

    /// Reads a bucket: its `start_time` and `end_time`, then a record per entry of `results`.
    private func bucket(_ scanner: inout JSONScanner, _ lines: inout LineCounter, into batch: inout RecordBatch) throws(JSONError) {
        let bucketLine = lines.line(at: scanner.index)
        // start_time and end_time may follow results: find them first.
        var probe = scanner
        var start: Timestamp?
        var end: Timestamp?
        var startProblem: String?
        try probe.beginObject()
        var first = true
        while let key = try probe.nextKey(first: &first) {
            if probe.equals(key, "start_time") {
                do throws(RecordProblem) {
                    start = try JSONValues.timestamp(&probe, "start_time")
                } catch {
                    startProblem = error.message
                }
            } else if probe.equals(key, "end_time") {
                do throws(RecordProblem) {
                    end = try JSONValues.timestamp(&probe, "end_time")
                } catch {
                    startProblem = error.message
                }
            } else {
                try probe.skipValue()
            }
        }
        try scanner.beginObject()
        first = true
        while let key = try scanner.nextKey(first: &first) {
            guard scanner.equals(key, "results") else {
                try scanner.skipValue()
                continue
            }
            if try scanner.null() { continue }
            try scanner.beginArray()
            var firstResult = true
            while try scanner.nextElement(first: &firstResult) {
                _ = scanner.peek()
                let begin = scanner.index
                let line = lines.line(at: scanner.index)
                let location = RecordLocation(file: name, line: line)
                var item = scanner
                try scanner.skipValue()
                if scanner.index - begin > recordLimit {
                    batch.addMalformed(file, line, CSVRecords.tooLong(recordLimit))
                    continue
                }
                let range = UnsafeBufferPointer(rebasing: scanner.bytes[item.index..<scanner.index])
                do throws(RecordProblem) {
                    guard let start else {
                        throw RecordProblem(startProblem ?? "the bucket at line \(bucketLine) has no start_time")
                    }
                    switch try Self.result(&item, at: dating.instant(start: start, end: end)) {
                    case .skipped(let reason):
                        batch.skipped[reason, default: 0] += 1
                    case .record(var request):
                        if !mapping.rules.isEmpty {
                            let tags = request.tags
                            try mapping.apply(to: &request) { path in
                                let parts = path.components
                                if parts.count == 2, parts[0] == "tags" { return tags[parts[1]] }
                                return JSONValues.lookup(parts[...], in: range)
                            }
                        }
                        if request.cost == nil {
                            let tier = TierPricing.tier(batch: request.tags["batch"], serviceTier: request.tags["service_tier"])
                            switch pricing.price(model: request.model, tier: tier, usage: request.usage) {
                            case .priced(let cost): request.cost = cost
                            case .listPrice: break
                            case .noTierPrice(let model): batch.notes.listPriced["\(model) (\(tier.rawValue))", default: 0] += 1
                            }
                        }
                        if let width = BucketDating.width(start: start, end: end) {
                            batch.notes.bucketWidths[width / 1_000_000_000, default: 0] += 1
                        }
                        batch.records.append(UsageRecord(request: request, location: location))
                    }
                } catch {
                    batch.malformed.append(MalformedRecord(location: location, message: error.message))
                }
            }
        }
    }

    /// What a result becomes: a record, or a skip counted under a reason.
    package enum Outcome {
        case record(Request)
        case skipped(String)
    }

    /// Why results are skipped rather than replayed.
    package static let skippedOtherUsage = "openai: usage other than completions, embeddings and costs"
    package static let skippedCredit = "openai: negative cost (a credit)"

    /// One result of a bucket, told apart by its `object` (a result without
    /// one is a completions result, or a costs result when it has `amount`):
    ///
    /// - `organization.usage.completions.result`: tokens; OpenAI's
    ///   `input_tokens` includes cached (and cache-write) tokens, Purser's excludes them.
    /// - `organization.usage.embeddings.result`: `input_tokens` only.
    /// - `organization.costs.result`: `amount.value` as the cost, the model and
    ///   token kind from `line_item` (``lineItem(_:)``), `quantity` as tokens of
    ///   that kind when `quantity_unit` counts tokens.
    /// - another kind of usage (images, audio, vector stores…): skipped.
    package static func result(_ scanner: inout JSONScanner, at time: Timestamp) throws(RecordProblem) -> Outcome {
        var fields = ResultFields()
        do {
            guard scanner.peek() == UInt8(ascii: "{") else {
                throw RecordProblem("a result must be an object, found \(scanner.tokenDescription())")
            }
            try scanner.beginObject()
            var first = true
            while let key = try scanner.nextKey(first: &first) {
                if scanner.equals(key, "object") {
                    fields.object = try JSONValues.name(&scanner, "object")
                } else if scanner.equals(key, "input_tokens") {
                    fields.input = try JSONValues.count(&scanner, "input_tokens") ?? 0
                } else if scanner.equals(key, "input_cached_tokens") {
                    fields.cached = try JSONValues.count(&scanner, "input_cached_tokens") ?? 0
                } else if scanner.equals(key, "input_cache_write_tokens") {
                    fields.cacheWrite = try JSONValues.count(&scanner, "input_cache_write_tokens") ?? 0
                } else if scanner.equals(key, "output_tokens") {
                    fields.output = try JSONValues.count(&scanner, "output_tokens") ?? 0
                } else if scanner.equals(key, "num_model_requests") {
                    fields.requests = try JSONValues.count(&scanner, "num_model_requests")
                } else if scanner.equals(key, "model") {
                    fields.model = try JSONValues.name(&scanner, "model")
                } else if scanner.equals(key, "project_id") {
                    fields.project = try JSONValues.name(&scanner, "project_id")
                } else if scanner.equals(key, "user_id") {
                    fields.user = try JSONValues.name(&scanner, "user_id")
                } else if scanner.equals(key, "api_key_id") {
                    fields.apiKey = try JSONValues.name(&scanner, "api_key_id")
                } else if scanner.equals(key, "batch") {
                    fields.batch = try JSONValues.name(&scanner, "batch")
                } else if scanner.equals(key, "service_tier") {
                    fields.serviceTier = try JSONValues.name(&scanner, "service_tier")
                } else if scanner.equals(key, "amount") {
                    fields.hasAmount = true
                    try fields.readAmount(&scanner)
                } else if scanner.equals(key, "line_item") {
                    fields.lineItem = try JSONValues.name(&scanner, "line_item")
                } else if scanner.equals(key, "quantity") {
                    fields.quantity = try JSONValues.text(&scanner, "quantity")
                } else if scanner.equals(key, "quantity_unit") {
                    fields.quantityUnit = try JSONValues.name(&scanner, "quantity_unit")
                } else {
                    try scanner.skipValue()
                }
            }
        } catch {
            throw RecordProblem(from: error, prefix: "")
        }
        var request = Request(model: "")
        request.timestamp = time
        request.isAggregate = true
        request.team = fields.project
        if let apiKey = fields.apiKey { request.tags["api_key_id"] = apiKey }
        switch fields.object {
        case nil where fields.hasAmount, "organization.costs.result"?:
            return try fields.cost(request)
        case nil, "organization.usage.completions.result"?:
            guard let model = fields.model else {
                throw RecordProblem("the result has no model; fetch the usage with group_by=model")
            }
            request.model = model
            request.user = fields.user
            if let requests = fields.requests { request.tags["requests"] = String(requests) }
            if let batch = fields.batch { request.tags["batch"] = batch }
            if let tier = fields.serviceTier { request.tags["service_tier"] = tier }
            let uncached = fields.input - fields.cached - fields.cacheWrite
            request.usage = Usage(inputTokens: max(uncached, 0), cachedInputTokens: fields.cached,
                                  cacheWriteTokens: fields.cacheWrite, outputTokens: fields.output)
            return .record(request)
        case "organization.usage.embeddings.result"?:
            guard let model = fields.model else {
                throw RecordProblem("the embeddings result has no model; fetch the usage with group_by=model")
            }
            request.model = model
            request.user = fields.user
            request.tags["endpoint"] = "embeddings"
            if let requests = fields.requests { request.tags["requests"] = String(requests) }
            if let batch = fields.batch { request.tags["batch"] = batch }
            request.usage = Usage(inputTokens: fields.input)
            return .record(request)
        default:
            return .skipped(skippedOtherUsage)
        }
    }

    /// The kind of tokens a costs line item bills.
    package enum TokenKind: Equatable {
        case input, cachedInput, output
    }

    /// The model and token kind a costs `line_item` names: `MODEL, KIND` with
    /// KIND `input`, `cached input` or `output` (`gpt-4o-2024-08-06, cached
    /// input`); a prefix before ` | ` is dropped (`evals | gpt-4o-mini, input`
    /// → `gpt-4o-mini`). A line item without a comma, or whose model part has
    /// a space, names no model (`assistants api | file search`); one with
    /// another KIND names its model but no token kind.
    package static func lineItem(_ text: String) -> (model: String?, kind: TokenKind?) {
        guard let comma = text.lastIndex(of: ",") else { return (nil, nil) }
        var model = text[..<comma]
        if let bar = model.lastIndex(of: "|") { model = model[model.index(after: bar)...] }
        let name = String(model).trimmingSpaces
        let kindText = String(text[text.index(after: comma)...]).trimmingSpaces.lowercased()
        guard !name.isEmpty, !name.contains(" ") else { return (nil, nil) }
        let kind: TokenKind?
        switch kindText {
        case "input": kind = .input
        case "cached input": kind = .cachedInput
        case "output": kind = .output
        default: kind = nil
        }
        return (name, kind)
    }

    /// How many tokens one unit of `quantity_unit` is, as a power of ten: 0
    /// for `tokens`, 3 for `1000_tokens` (any `N_tokens` with N a power of
    /// ten); nil for other units.
    package static func tokenScale(_ unit: String) -> Int? {
        let lowered = unit.lowercased()
        if lowered == "tokens" || lowered == "token" { return 0 }
        guard lowered.hasSuffix("_tokens") else { return nil }
        let digits = lowered.dropLast("_tokens".count)
        guard digits.first == "1", digits.count <= 13, digits.dropFirst().allSatisfy({ $0 == "0" }) else { return nil }
        return digits.count - 1
    }
}

/// The fields of one organization usage or costs result.
private struct ResultFields {
    var object: String?
    var input: Int64 = 0
    var cached: Int64 = 0
    var cacheWrite: Int64 = 0
    var output: Int64 = 0
    var requests: Int64?
    var model: String?
    var project: String?
    var user: String?
    var apiKey: String?
    var batch: String?
    var serviceTier: String?
    var hasAmount = false
    var amount: USD?
    var currency: String?
    var lineItem: String?
    var quantity: String?
    var quantityUnit: String?

    /// `amount`: `{"value": 0.76, "currency": "usd"}`; the value may be a decimal string.
    mutating func readAmount(_ scanner: inout JSONScanner) throws(RecordProblem) {
        do {
            if try scanner.null() { return }
            guard scanner.peek() == UInt8(ascii: "{") else {
                throw RecordProblem("amount must be an object, found \(scanner.tokenDescription())")
            }
            try scanner.beginObject()
            var first = true
            while let key = try scanner.nextKey(first: &first) {
                if scanner.equals(key, "value") {
                    amount = try JSONValues.usd(&scanner, "amount.value")
                } else if scanner.equals(key, "currency") {
                    currency = try JSONValues.name(&scanner, "amount.currency")
                } else {
                    try scanner.skipValue()
                }
            }
        } catch {
            throw RecordProblem(from: error, prefix: "")
        }
    }

    /// A costs result as a record: the amount as billed, never re-priced.
    func cost(_ base: Request) throws(RecordProblem) -> OpenAIUsageReader.Outcome {
        guard let amount else { throw RecordProblem("the costs result has no amount.value") }
        if let currency, currency.lowercased() != "usd" {
            throw RecordProblem("amount.currency is \"\(currency)\"; Purser counts USD only")
        }
        if amount < .zero { return .skipped(OpenAIUsageReader.skippedCredit) }
        guard let lineItem else {
            throw RecordProblem("the costs result has no line_item; fetch the costs with group_by=line_item")
        }
        var request = base
        request.cost = amount
        request.tags["endpoint"] = "costs"
        request.tags["line_item"] = lineItem
        let (model, kind) = OpenAIUsageReader.lineItem(lineItem)
        // A line item that names no model is its own model (docs/importers.md, "OpenAI usage and costs (openai-usage)").
        request.model = model ?? lineItem
        if let kind, let quantity, let unit = quantityUnit, let scale = OpenAIUsageReader.tokenScale(unit) {
            guard let number = DecimalText(quantity.trimmingSpaces), !number.negative,
                  let scaled = number.scaled(by: scale, rounding: true), let tokens = Int64(exactly: scaled),
                  tokens <= RequestDecoder.maxTokens
            else {
                throw RecordProblem("quantity must be a number of \(unit) up to \(RequestDecoder.maxTokens) tokens, found \"\(quantity.prefix(40))\"")
            }
            switch kind {
            case .input: request.usage.inputTokens = tokens
            case .cachedInput: request.usage.cachedInputTokens = tokens
            case .output: request.usage.outputTokens = tokens
            }
        }
        return .record(request)
    }
}
