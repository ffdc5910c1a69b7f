import Purser
/// The parts of one LiteLLM spend-log row (`LiteLLM_SpendLogs`,
/// `SpendLogsPayload`) that map onto a usage record, however the row was
/// written (a JSON line or a CSV row).
package struct LiteLLMEntry {
    /// `request_id` (`id` in a standard logging payload).
    package var requestID: String?
    /// `spend` (`response_cost`): the actual cost LiteLLM computed.
    package var spend: USD?
    /// `prompt_tokens`: every input token, cached ones included.
    package var promptTokens: Int64 = 0
    /// `completion_tokens`.
    package var completionTokens: Int64 = 0
    /// `startTime`.
    package var startTime: Timestamp?
    /// `model`, `model_group` and `custom_llm_provider`.
    package var model: String?
    package var modelGroup: String?
    package var provider: String?
    /// `api_base`, where cloud deployments name their region.
    package var apiBase: String?
    /// `user` and `end_user`.
    package var user: String?
    package var endUser: String?
    /// `team_id`.
    package var teamID: String?
    /// `status`: `success` or `failure`.
    package var status: String?
    /// `request_tags` as tags, when the row has them.
    package var requestTags: Tags?
    /// What the importer reads from `metadata`.
    package var metadata = LiteLLMMetadata()

    /// Whether LiteLLM recorded the call as failed.
    package var failed: Bool {
        guard let status else { return false }
        return status.utf8.elementsEqual("failure".utf8) { $0 | 0x20 == $1 }
    }

    package init(requestID: String? = nil, spend: USD? = nil, promptTokens: Int64 = 0, completionTokens: Int64 = 0, startTime: Timestamp? = nil, model: String? = nil, modelGroup: String? = nil, provider: String? = nil, apiBase: String? = nil, user: String? = nil, endUser: String? = nil, teamID: String? = nil, status: String? = nil, requestTags: Tags? = nil) {
        self.requestID = requestID
        self.spend = spend
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.startTime = startTime
        self.model = model
        self.modelGroup = modelGroup
        self.provider = provider
        self.apiBase = apiBase
        self.user = user
        self.endUser = endUser
        self.teamID = teamID
        self.status = status
        self.requestTags = requestTags
    }
}

/// The keys of LiteLLM's spend-log `metadata` (`SpendLogsMetadata`) the importer uses.
package struct LiteLLMMetadata {
    /// `user_api_key_team_alias` and `user_api_key_team_id`.
    package var teamAlias: String?
    package var teamID: String?
    /// `environment` or `env`, at the top or inside `spend_logs_metadata`.
    package var environment: String?
    /// `region` (or `region_name`), when the proxy records one.
    package var region: String?
    /// Cache reads and writes from `additional_usage_values`, else `usage_object`.
    package var cacheRead: Int64?
    package var cacheWrite: Int64?
    /// `tags` (the request's tags, which LiteLLM copies to `request_tags`).
    package var tags: Tags?

    /// Reads the keys it uses from a metadata object (or a string holding one); other keys are skipped.
    package static func read(_ scanner: inout JSONScanner) throws(RecordProblem) -> LiteLLMMetadata {
        var metadata = LiteLLMMetadata()
        do {
            switch scanner.peek() {
            case UInt8(ascii: "n")?:
                if try scanner.null() { return metadata }
            case UInt8(ascii: "\"")?:
                let embedded = Array(try scanner.string().utf8)
                if ImportValues.isBlankJSON(embedded) { return metadata }
                return try JSONScanner.scan(embedded) { inner throws(RecordProblem) in
                    let metadata = try read(&inner)
                    do throws(JSONError) { try inner.expectEnd() } catch { throw RecordProblem("metadata: \(error.message)") }
                    return metadata
                }
            case UInt8(ascii: "{")?:
                try metadata.readObject(&scanner)
                return metadata
            default:
                break
            }
            throw RecordProblem("metadata must be an object, found \(scanner.tokenDescription())")
        } catch {
            throw RecordProblem(from: error, prefix: "metadata: ")
        }
    }

    private mutating func readObject(_ scanner: inout JSONScanner) throws(RecordProblem) {
        var fromUsageObject: (read: Int64?, write: Int64?) = (nil, nil)
        do {
            try scanner.beginObject()
            var first = true
            while let key = try scanner.nextKey(first: &first) {
                if scanner.equals(key, "user_api_key_team_alias") {
                    teamAlias = try JSONValues.name(&scanner, "metadata.user_api_key_team_alias")
                } else if scanner.equals(key, "user_api_key_team_id") {
                    teamID = try JSONValues.name(&scanner, "metadata.user_api_key_team_id")
                } else if scanner.equals(key, "environment") || scanner.equals(key, "env") {
                    environment = try JSONValues.name(&scanner, "metadata.environment") ?? environment
                } else if scanner.equals(key, "region") || scanner.equals(key, "region_name") {
                    region = try JSONValues.name(&scanner, "metadata.region") ?? region
                } else if scanner.equals(key, "spend_logs_metadata") {
                    if environment == nil {
                        var probe = scanner
                        environment = JSONValues.lookup(["environment"], &probe)
                        if environment == nil {
                            probe = scanner
                            environment = JSONValues.lookup(["env"], &probe)
                        }
                    }
                    try scanner.skipValue()
                } else if scanner.equals(key, "additional_usage_values") {
                    (cacheRead, cacheWrite) = try Self.cacheCounts(&scanner, "metadata.additional_usage_values")
                } else if scanner.equals(key, "usage_object") {
                    fromUsageObject = try Self.cacheCounts(&scanner, "metadata.usage_object")
                } else if scanner.equals(key, "tags") {
                    var found = Tags()
                    if try JSONValues.tags(&scanner, "metadata.tags", into: &found) { tags = found }
                } else {
                    try scanner.skipValue()
                }
            }
        } catch {
            throw RecordProblem(from: error, prefix: "metadata: ")
        }
        if cacheRead == nil { cacheRead = fromUsageObject.read }
        if cacheWrite == nil { cacheWrite = fromUsageObject.write }
    }

    /// Cache reads and writes of a LiteLLM usage object: `cache_read_input_tokens`
    /// and `cache_creation_input_tokens` (Anthropic style), else
    /// `prompt_tokens_details.cached_tokens` and `.cache_creation_tokens` (OpenAI style).
    private static func cacheCounts(_ scanner: inout JSONScanner, _ field: StaticString) throws(RecordProblem) -> (Int64?, Int64?) {
        var read: Int64?
        var write: Int64?
        var detailRead: Int64?
        var detailWrite: Int64?
        do {
            if try scanner.null() { return (nil, nil) }
            guard scanner.peek() == UInt8(ascii: "{") else {
                throw RecordProblem("\(field) must be an object, found \(scanner.tokenDescription())")
            }
            try scanner.beginObject()
            var first = true
            while let key = try scanner.nextKey(first: &first) {
                if scanner.equals(key, "cache_read_input_tokens") {
                    read = try JSONValues.count(&scanner, "\(field).cache_read_input_tokens")
                } else if scanner.equals(key, "cache_creation_input_tokens") {
                    write = try JSONValues.count(&scanner, "\(field).cache_creation_input_tokens")
                } else if scanner.equals(key, "prompt_tokens_details") {
                    if try scanner.null() { continue }
                    guard scanner.peek() == UInt8(ascii: "{") else { try scanner.skipValue(); continue }
                    try scanner.beginObject()
                    var firstDetail = true
                    while let detail = try scanner.nextKey(first: &firstDetail) {
                        if scanner.equals(detail, "cached_tokens") {
                            detailRead = try JSONValues.count(&scanner, "\(field).prompt_tokens_details.cached_tokens")
                        } else if scanner.equals(detail, "cache_creation_tokens") {
                            detailWrite = try JSONValues.count(&scanner, "\(field).prompt_tokens_details.cache_creation_tokens")
                        } else {
                            try scanner.skipValue()
                        }
                    }
                } else {
                    try scanner.skipValue()
                }
            }
        } catch {
            throw RecordProblem(from: error, prefix: "\(field): ")
        }
        return (read ?? detailRead, write ?? detailWrite)
    }
}

/// How a LiteLLM spend-log row becomes a usage record (the defaults `--map` overrides).
package enum LiteLLMMapping {
    /// The region in a cloud endpoint: AWS (`…bedrock-runtime.REGION.amazonaws.com`) or
    /// Google Vertex AI (`REGION-aiplatform.googleapis.com`); nil for other hosts.
    package static func region(fromAPIBase base: String) -> String? {
        let host = base.split(separator: "/").first { $0.contains(".") }.map(String.init) ?? base
        let labels = host.split(separator: ".").map(String.init)
        if let aws = labels.firstIndex(of: "amazonaws"), aws >= 1, labels[aws - 1].contains("-") {
            return labels[aws - 1]
        }
        if let first = labels.first, first.hasSuffix("-aiplatform") {
            return String(first.dropLast("-aiplatform".count))
        }
        return nil
    }

    /// A LiteLLM model name without the `provider/` prefix that repeats its
    /// `custom_llm_provider` (`azure/gpt-4.1` with provider `azure` → `gpt-4.1`);
    /// other names as they are. The FOCUS importer reads LiteLLM's FOCUS export with it too.
    package static func model(_ model: String, provider: String?) -> String {
        guard let provider, !provider.isEmpty, model.utf8.count > provider.utf8.count + 1,
              model.utf8.dropFirst(provider.utf8.count).first == UInt8(ascii: "/"), model.utf8.starts(with: provider.utf8)
        else { return model }
        return String(decoding: model.utf8.dropFirst(provider.utf8.count + 1), as: UTF8.self)
    }

    /// Usage from LiteLLM's counts: its `prompt_tokens` counts every input token, cache
    /// reads and writes included, so input is the prompt less both (less only the reads
    /// when that would go below zero, as older LiteLLM versions counted only reads).
    package static func usage(prompt: Int64, completion: Int64, cacheRead read: Int64, cacheWrite write: Int64) -> Usage {
        let input: Int64
        if prompt >= read + write {
            input = prompt - read - write
        } else {
            input = prompt >= read ? prompt - read : prompt
        }
        return Usage(inputTokens: input, cachedInputTokens: read, cacheWriteTokens: write, outputTokens: completion)
    }

    /// Why rows are skipped rather than replayed.
    package static let skippedFailure = "litellm: failed request with no spend"

    /// The request for a row, or nil when the row is skipped (a failed call that cost nothing).
    ///
    /// - team: `team_id`, else `metadata.user_api_key_team_alias`
    /// - environment: the `env:` or `environment:` request tag, else `metadata.environment` / `env`
    ///   (also inside `metadata.spend_logs_metadata`)
    /// - region: the `region:` request tag, else `metadata.region` / `region_name`, else the
    ///   region in a cloud `api_base` (`bedrock-runtime.us-east-1.amazonaws.com`,
    ///   `us-central1-aiplatform.googleapis.com`)
    /// - user: `end_user`, else `user`
    /// - model: `model` (else `model_group`), without a `provider/` prefix that repeats `custom_llm_provider`
    /// - usage: LiteLLM's `prompt_tokens` counts every input token, cache reads and
    ///   writes included, so `input_tokens` is `prompt_tokens` less both (less only the
    ///   reads when that would go below zero, as older LiteLLM versions counted only reads)
    /// - cost: `spend`
    /// - tags: the request tags (`key:value` → `tags.key`; plain → `tags.NAME = "true"`)
    package static func request(_ entry: LiteLLMEntry) throws(RecordProblem) -> Request? {
        guard let timestamp = entry.startTime else { throw RecordProblem("the record has no startTime (usage logs need one)") }
        if let spend = entry.spend, spend < .zero { throw RecordProblem("spend must not be negative, found \(spend)") }
        if entry.failed, (entry.spend ?? .zero) == .zero { return nil }
        guard let named = entry.model ?? entry.modelGroup else { throw RecordProblem("the record has no model") }
        let model = Self.model(named, provider: entry.provider)
        var tags = entry.requestTags ?? entry.metadata.tags ?? Tags()
        if entry.failed { tags["status"] = "failure" }
        let usage = Self.usage(prompt: entry.promptTokens, completion: entry.completionTokens,
                               cacheRead: entry.metadata.cacheRead ?? 0, cacheWrite: entry.metadata.cacheWrite ?? 0)
        return Request(
            id: entry.requestID, timestamp: timestamp,
            team: entry.teamID ?? entry.metadata.teamAlias,
            environment: tags["env"] ?? tags["environment"] ?? entry.metadata.environment,
            model: model, region: tags["region"] ?? entry.metadata.region ?? entry.apiBase.flatMap(Self.region(fromAPIBase:)),
            user: entry.endUser ?? entry.user, tags: tags,
            usage: usage,
            cost: entry.spend)
    }
}
