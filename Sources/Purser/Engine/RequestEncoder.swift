import PurserCore
/// Writes a request as JSON (docs/wire-formats.md, "Requests"; the inverse of ``RequestDecoder``).
public enum RequestEncoder {
    /// Appends a request as one compact JSON object.
    package static func encode(_ request: Request, into json: inout JSONWriter) {
        json.object { json in
            if let id = request.id { json.field("id", id) }
            if let timestamp = request.timestamp { json.field("timestamp", timestamp.description) }
            if let team = request.team { json.field("team", team) }
            if let environment = request.environment { json.field("environment", environment) }
            json.field("model", request.model)
            if let region = request.region { json.field("region", region) }
            if let user = request.user { json.field("user", user) }
            if !request.tags.isEmpty {
                json.field("tags", object: { json in
                    for (key, value) in request.tags {
                        json.key(dynamic: key)
                        json.string(value)
                    }
                })
            }
            let usage = request.usage
            if usage != Usage() {
                json.field("usage", object: { json in
                    json.field("input_tokens", usage.inputTokens)
                    if usage.cachedInputTokens != 0 { json.field("cached_input_tokens", usage.cachedInputTokens) }
                    if usage.cacheWriteTokens != 0 { json.field("cache_write_tokens", usage.cacheWriteTokens) }
                    json.field("output_tokens", usage.outputTokens)
                })
            }
            if let cost = request.cost { json.field("cost", cost) }
            if !request.unavailableRegions.isEmpty {
                json.field("unavailable_regions", array: { json in request.unavailableRegions.forEach { json.string($0) } })
            }
            if !request.allowReroute { json.field("allow_reroute", false) }
        }
    }

    /// A request as one compact JSON object (a line of Purser's own usage log).
    public static func json(_ request: Request) -> String {
        var json = JSONWriter()
        encode(request, into: &json)
        return json.text
    }
}
