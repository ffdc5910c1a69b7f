import Purser
/// Writes usage records in each log format Purser reads, for examples,
/// tests and benchmarks (`purser generate`).
public enum UsageLogWriter {
    /// The formats written: the input formats, with LiteLLM's JSON lines and CSV told apart.
    public enum Format: String, Sendable, CaseIterable {
        /// Purser's own JSON Lines (docs/wire-formats.md, "Usage records").
        case purser
        /// LiteLLM spend logs as JSON lines (one `LiteLLM_SpendLogs` row per line).
        case litellmJSON = "litellm-json"
        /// LiteLLM spend logs as the CSV export of `LiteLLM_SpendLogs`.
        case litellmCSV = "litellm-csv"
        /// OpenAI organization usage pages (daily buckets per project, user, key and model).
        case openaiUsage = "openai-usage"
        /// FOCUS 1.x CSV.
        case focus
    }

    /// A streaming writer: `header`, then `row` for each record, then `footer`.
    public struct Stream {
        package let format: Format
        package let policy: PolicySet
        private var buckets: [String: (Request, Int64)] = [:]
        private var bucketDay: Int64?
        private var pages = 0

        /// Creates a writer for a format; prices and providers come from the policy.
        public init(format: Format, policy: PolicySet) {
            self.format = format
            self.policy = policy
        }

        /// The bytes before the first record.
        public func header() -> [UInt8] {
            switch format {
            case .litellmCSV:
                return Array((UsageLogWriter.litellmColumns.joined(separator: ",") + "\n").utf8)
            case .focus:
                return Array((UsageLogWriter.focusColumns.joined(separator: ",") + "\n").utf8)
            default:
                return []
            }
        }

        /// The bytes of one record (OpenAI usage aggregates records into daily buckets, written when a day ends).
        public mutating func row(_ request: Request) -> [UInt8] {
            var json = JSONWriter()
            switch format {
            case .purser:
                RequestEncoder.encode(request, into: &json)
                json.newline()
                return json.bytes
            case .litellmJSON:
                UsageLogWriter.litellm(request, policy: policy, into: &json)
                json.newline()
                return json.bytes
            case .litellmCSV:
                return Array((UsageLogWriter.litellmCSVRow(request, policy: policy) + "\n").utf8)
            case .focus:
                return Array((UsageLogWriter.focusRow(request, policy: policy) + "\n").utf8)
            case .openaiUsage:
                let day = (request.timestamp?.seconds ?? 0) / 86_400
                var out: [UInt8] = []
                if let current = bucketDay, current != day { out = flush() }
                bucketDay = day
                let key = [request.model, request.team ?? "", request.user ?? "", request.environment ?? ""].joined(separator: "\u{1F}")
                if var existing = buckets[key] {
                    existing.0.usage.inputTokens += request.usage.inputTokens
                    existing.0.usage.cachedInputTokens += request.usage.cachedInputTokens
                    existing.0.usage.outputTokens += request.usage.outputTokens
                    existing.1 += 1
                    buckets[key] = existing
                } else {
                    buckets[key] = (request, 1)
                }
                return out
            }
        }

        /// The bytes after the last record.
        public mutating func footer() -> [UInt8] {
            format == .openaiUsage ? flush() : []
        }

        /// One page (a JSON line) per day: one bucket with a result per (model, project, user, key).
        private mutating func flush() -> [UInt8] {
            guard let day = bucketDay, !buckets.isEmpty else { return [] }
            pages += 1
            let json = JSONWriter()
            json.object { json in
                json.field("object", "page")
                json.field("data", array: { json in
                    json.object { json in
                        json.field("object", "bucket")
                        json.field("start_time", day * 86_400)
                        json.field("end_time", (day + 1) * 86_400)
                        json.field("results", array: { json in
                            for key in buckets.keys.sorted() {
                                guard let (request, count) = buckets[key] else { continue }
                                json.object { json in
                                    json.field("object", "organization.usage.completions.result")
                                    json.field("input_tokens", request.usage.inputTokens + request.usage.cachedInputTokens)
                                    json.field("output_tokens", request.usage.outputTokens)
                                    json.field("input_cached_tokens", request.usage.cachedInputTokens)
                                    json.field("input_audio_tokens", 0)
                                    json.field("output_audio_tokens", 0)
                                    json.field("num_model_requests", count)
                                    json.field("project_id", request.team)
                                    json.field("user_id", request.user)
                                    json.field("api_key_id", request.environment)
                                    json.field("model", request.model)
                                    json.field("batch", request.tags["workload"] == "batch")
                                }
                            }
                        })
                    }
                })
                json.field("has_more", false)
                json.field("next_page", nil as String?)
            }
            json.newline()
            buckets.removeAll(keepingCapacity: true)
            return json.bytes
        }
    }

    package static let litellmColumns = [
        "request_id", "call_type", "api_key", "spend", "total_tokens", "prompt_tokens", "completion_tokens", "startTime",
        "endTime", "completionStartTime", "model", "model_id", "model_group", "custom_llm_provider", "api_base", "user",
        "metadata", "cache_hit", "cache_key", "request_tags", "team_id", "end_user", "requester_ip_address", "status",
    ]

    package static let focusColumns = [
        "BillingAccountId", "ChargePeriodStart", "ChargePeriodEnd", "BilledCost", "EffectiveCost", "ListCost",
        "BillingCurrency", "ConsumedQuantity", "ConsumedUnit", "PricingUnit", "SkuId", "ServiceName", "ServiceCategory",
        "ProviderName", "PublisherName", "RegionId", "ChargeCategory", "ChargeDescription", "ResourceId", "Tags",
    ]

    /// `2026-11-23 15:00:00.123000`, as PostgreSQL exports LiteLLM's timestamps (UTC).
    package static func postgresTime(_ timestamp: Timestamp) -> String {
        let text = timestamp.description.replacingFirst("", with: "")
        let base = text.prefix(19).replacing("T", with: " ")
        let millis = (timestamp.nanoseconds / 1_000_000) % 1000
        return base + "." + pad(Int(millis), width: 3) + "000"
    }

    package static func litellmMetadata(_ request: Request) -> String {
        let json = JSONWriter()
        json.object { json in
            json.field("user_api_key_team_id", request.team)
            json.field("user_api_key_team_alias", request.team)
            json.field("user_api_key_user_id", request.user)
            json.field("environment", request.environment)
            json.field("region", request.region)
            json.field("additional_usage_values", object: { json in
                json.field("cache_read_input_tokens", request.usage.cachedInputTokens)
                json.field("cache_creation_input_tokens", request.usage.cacheWriteTokens)
            })
        }
        return json.text
    }

    package static func litellmTags(_ request: Request) -> [String] {
        var tags = ["env:" + (request.environment ?? "unknown")]
        if let region = request.region { tags.append("region:" + region) }
        for (key, value) in request.tags { tags.append(key + ":" + value) }
        return tags
    }

    package static func litellm(_ request: Request, policy: PolicySet, into json: inout JSONWriter) {
        let provider = policy.model(named: request.model)?.provider ?? "openai"
        let start = request.timestamp ?? Timestamp(nanoseconds: 0)
        json.object { json in
            json.field("request_id", request.id)
            json.field("call_type", "acompletion")
            json.field("api_key", "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b")
            json.key("spend")
            json.usd(request.cost ?? .zero)
            json.field("total_tokens", request.usage.totalTokens)
            json.field("prompt_tokens", request.usage.inputTokens + request.usage.cachedInputTokens + request.usage.cacheWriteTokens)
            json.field("completion_tokens", request.usage.outputTokens)
            json.field("startTime", start.description)
            json.field("endTime", Timestamp(nanoseconds: start.nanoseconds + 2_000_000_000).description)
            json.field("model", request.model)
            json.field("model_group", request.model)
            json.field("custom_llm_provider", provider)
            json.field("user", request.user)
            json.key("metadata")
            json.raw(litellmMetadata(request))
            json.field("cache_hit", "False")
            json.field("request_tags", array: { json in litellmTags(request).forEach { json.string($0) } })
            json.field("team_id", request.team)
            json.field("end_user", request.user)
            json.field("status", "success")
        }
    }

    /// RFC 4180: quote fields with commas, quotes or newlines; double quotes.
    package static func csv(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
        return "\"" + field.replacing("\"", with: "\"\"") + "\""
    }

    package static func litellmCSVRow(_ request: Request, policy: PolicySet) -> String {
        let provider = policy.model(named: request.model)?.provider ?? "openai"
        let start = request.timestamp ?? Timestamp(nanoseconds: 0)
        let tags = JSONWriter()
        tags.array { json in litellmTags(request).forEach { json.string($0) } }
        let fields: [String] = [
            request.id ?? "", "acompletion", "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
            (request.cost ?? .zero).description, String(request.usage.totalTokens),
            String(request.usage.inputTokens + request.usage.cachedInputTokens + request.usage.cacheWriteTokens),
            String(request.usage.outputTokens), postgresTime(start),
            postgresTime(Timestamp(nanoseconds: start.nanoseconds + 2_000_000_000)),
            postgresTime(Timestamp(nanoseconds: start.nanoseconds + 400_000_000)), request.model, "", request.model, provider,
            "", request.user ?? "", litellmMetadata(request), "False", "", tags.text, request.team ?? "", request.user ?? "",
            "10.0.0.12", "success",
        ]
        return fields.map(csv).joined(separator: ",")
    }

    package static func focusRow(_ request: Request, policy: PolicySet) -> String {
        let model = policy.model(named: request.model)
        let start = request.timestamp ?? Timestamp(nanoseconds: 0)
        let tags = JSONWriter()
        tags.object { json in
            json.field("team", request.team)
            json.field("environment", request.environment)
            json.field("user", request.user)
            for (key, value) in request.tags {
                json.key(dynamic: key)
                json.string(value)
            }
        }
        let cost = (request.cost ?? .zero).description
        let fields: [String] = [
            "acct-4421", start.description, Timestamp(nanoseconds: start.nanoseconds + 1_000_000_000).description, cost, cost,
            cost, "USD", String(request.usage.totalTokens), "Tokens", "1M Tokens", request.model,
            (model?.provider ?? "llm").capitalized + " API", "AI and Machine Learning", model?.provider ?? "unknown",
            model?.provider ?? "unknown", request.region ?? "", "Usage", "Input and output tokens for \(request.model)",
            request.id ?? "", tags.text,
        ]
        return fields.map(csv).joined(separator: ",")
    }
}

private extension String {
    package var capitalized: String { prefix(1).uppercased() + dropFirst() }
}
