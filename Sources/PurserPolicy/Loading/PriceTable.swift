import PurserYAML
import PurserCore
/// A price table in LiteLLM's `model_prices_and_context_window.json` format,
/// converted exactly from USD per token.
///
/// ```swift
/// let table = try PriceTable(litellmJSON: bytes, file: "prices.json")
/// table.entries["gpt-5-mini"]?.price.input.perMillionDescription  // "0.25"
/// ```
package struct PriceTable: Sendable {
    /// One model's row.
    package struct Entry: Sendable, Hashable {
        /// The exact price, converted from per-token USD.
        package let price: Price
        /// `litellm_provider`, e.g. `openai` or `anthropic`.
        package let provider: String?
        /// `mode`, e.g. `chat` or `embedding`.
        package let mode: String?
    }

    /// The file the table was read from.
    package let file: String
    /// Rows that carry input and output token prices, by key.
    package let entries: [String: Entry]
    /// Keys present in the file without token prices (image, audio or per-second models).
    package let unpricedKeys: Set<String>

    /// Parses a whole table. Rows without `input_cost_per_token` and
    /// `output_cost_per_token` are kept in ``unpricedKeys``.
    package init(litellmJSON bytes: [UInt8], file: String) throws(JSONError) {
        try self.init(litellmJSON: bytes, file: file, only: nil)
    }

    /// Parses a table, materialising only the rows whose keys are in `only`
    /// (nil for all); other rows are validated and skipped.
    package init(litellmJSON bytes: [UInt8], file: String, only wanted: Set<String>?) throws(JSONError) {
        var entries: [String: Entry] = [:]
        var unpriced: Set<String> = []
        try JSONScanner.scan(bytes) { scanner throws(JSONError) in
            try scanner.beginObject()
            var first = true
            while let keyRange = try scanner.nextKey(first: &first) {
                let key = try scanner.decodeString(keyRange)
                if let wanted, !wanted.contains(key) {
                    try scanner.skipValue()
                    continue
                }
                guard scanner.peek() == UInt8(ascii: "{") else {
                    try scanner.skipValue()
                    continue
                }
                if let entry = try PriceTable.entry(&scanner, file: file, key: key) {
                    entries[key] = entry
                } else {
                    unpriced.insert(key)
                }
            }
            try scanner.expectEnd()
        }
        self.file = file
        self.entries = entries
        self.unpricedKeys = unpriced
    }

    private static func entry(_ scanner: inout JSONScanner, file: String, key: String) throws(JSONError) -> Entry? {
        var input: TokenPrice?
        var output: TokenPrice?
        var cached: TokenPrice?
        var write: TokenPrice?
        var provider: String?
        var mode: String?
        var batch = TierFields()
        var flex = TierFields()
        var priority = TierFields()
        try scanner.beginObject()
        var first = true
        while let field = try scanner.nextKey(first: &first) {
            if try batch.read(field, &scanner, key: key, suffix: "_batches") { continue }
            if try flex.read(field, &scanner, key: key, suffix: "_flex") { continue }
            if try priority.read(field, &scanner, key: key, suffix: "_priority") { continue }
            if scanner.equals(field, "input_cost_per_token") {
                input = try price(&scanner, key: key, field: "input_cost_per_token")
            } else if scanner.equals(field, "output_cost_per_token") {
                output = try price(&scanner, key: key, field: "output_cost_per_token")
            } else if scanner.equals(field, "cache_read_input_token_cost") {
                cached = try price(&scanner, key: key, field: "cache_read_input_token_cost")
            } else if scanner.equals(field, "cache_creation_input_token_cost") {
                write = try price(&scanner, key: key, field: "cache_creation_input_token_cost")
            } else if scanner.equals(field, "litellm_provider"), scanner.peek() == UInt8(ascii: "\"") {
                provider = try scanner.string()
            } else if scanner.equals(field, "mode"), scanner.peek() == UInt8(ascii: "\"") {
                mode = try scanner.string()
            } else {
                try scanner.skipValue()
            }
        }
        guard let input, let output else { return nil }
        return Entry(
            price: Price(input: input, output: output, cachedInput: cached, cacheWrite: write,
                         origin: .priceSource(file: file, key: key), batch: batch.price(listCached: cached ?? input),
                         flex: flex.price(listCached: cached ?? input), priority: priority.price(listCached: cached ?? input)),
            provider: provider, mode: mode)
    }

    /// A service tier's prices in a row: `input_cost_per_token_batches`, `output_cost_per_token_batches`,
    /// `cache_read_input_token_cost_batches`, `cache_creation_input_token_cost_batches` (or `_flex`, `_priority`).
    private struct TierFields {
        var input: TokenPrice?
        var output: TokenPrice?
        var cached: TokenPrice?
        var write: TokenPrice?

        /// Reads `field` when it is one of the tier's; false (nothing read) when it is not.
        mutating func read(_ field: Range<Int>, _ scanner: inout JSONScanner, key: String, suffix: String) throws(JSONError) -> Bool {
            let name = scanner.bytes[field]
            guard name.count > suffix.utf8.count, name.reversed().starts(with: suffix.utf8.reversed()) else { return false }
            let base = String(decoding: name.dropLast(suffix.utf8.count), as: UTF8.self)
            let full = base + suffix
            switch base {
            case "input_cost_per_token": input = try PriceTable.price(&scanner, key: key, field: full)
            case "output_cost_per_token": output = try PriceTable.price(&scanner, key: key, field: full)
            case "cache_read_input_token_cost": cached = try PriceTable.price(&scanner, key: key, field: full)
            case "cache_creation_input_token_cost": write = try PriceTable.price(&scanner, key: key, field: full)
            default: try scanner.skipValue()
            }
            return true
        }

        /// The tier's price when the row gives its input and output prices, with the defaults of ``TierPrice``.
        func price(listCached: TokenPrice) -> TierPrice? {
            guard let input, let output else { return nil }
            return TierPrice(input: input, output: output, cachedInput: cached, cacheWrite: write, listCachedInput: listCached)
        }
    }

    /// A per-token price; null counts as absent.
    fileprivate static func price(_ scanner: inout JSONScanner, key: String, field: String) throws(JSONError) -> TokenPrice? {
        if try scanner.null() { return nil }
        let start = scanner.index
        let text = try scanner.numberText()
        guard let price = TokenPrice(perToken: text) else {
            throw JSONError("\"\(excerpt(key))\".\(field) is \(excerpt(text)): negative, too precise (beyond 1e-24 USD) or too large", at: start)
        }
        guard price <= TokenPrice.max else {
            throw JSONError("\"\(key)\".\(field) is \(text) USD per token, out of range (0..0.01, that is 10000 USD per 1M tokens)", at: start)
        }
        return price
    }
}
