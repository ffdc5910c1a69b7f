#if canImport(Glibc)
import Glibc
#endif
import Purser
import PurserFixtures
import PurserAudit

/// Times the usage-log importers: parse → UsageRecord batches on one thread.
///
///     purser-import-bench generate litellm-csv|litellm-jsonl|openai-usage|focus COUNT PATH
///     purser-import-bench read auto|litellm|openai-usage|focus PATH [REPEAT]
func main() {
    let arguments = CommandLine.arguments
    guard arguments.count >= 4 else {
        print("usage: purser-import-bench generate KIND COUNT PATH | read FORMAT PATH [REPEAT]")
        exit(2)
    }
    switch arguments[1] {
    case "generate":
        guard arguments.count >= 5, let count = Int(arguments[3]) else { exit(2) }
        generate(arguments[2], count: count, path: arguments[4])
    case "read":
        guard let format = UsageLogFormat(rawValue: arguments[2]) else { exit(2) }
        let repeats = arguments.count > 4 ? Int(arguments[4]) ?? 3 : 3
        read(arguments[3], format: format, repeats: repeats)
    default:
        exit(2)
    }
}

func read(_ path: String, format: UsageLogFormat, repeats: Int) {
    var options = UsageLogOptions()
    options.format = format
    var best = Double.infinity
    var bestCPU = Double.infinity
    var records = 0
    var malformed = 0
    var bytes = 0
    var info = stat()
    if stat(path, &info) == 0 { bytes = Int(info.st_size) }
    for _ in 0..<repeats {
        records = 0
        malformed = 0
        var start = timespec()
        var end = timespec()
        var cpuStart = timespec()
        var cpuEnd = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpuStart)
        do {
            let reader = try UsageLogs.open(path, options: options)
            while let batch = try reader.next() {
                records += batch.records.count
                malformed += batch.malformed.count
            }
        } catch {
            print("error: \(error)")
            exit(1)
        }
        clock_gettime(CLOCK_MONOTONIC, &end)
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpuEnd)
        let seconds = Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9
        let cpu = Double(cpuEnd.tv_sec - cpuStart.tv_sec) + Double(cpuEnd.tv_nsec - cpuStart.tv_nsec) / 1e9
        best = min(best, seconds)
        bestCPU = min(bestCPU, cpu)
    }
    let perSecond = Double(records + malformed) / best
    let perCPUSecond = Double(records + malformed) / bestCPU
    let megabytes = Double(bytes) / 1_048_576 / best
    print("\(path): \(records) records, \(malformed) malformed (\(bytes / max(records + malformed, 1)) bytes/record); best of \(repeats): "
        + "wall \(String(format: "%.3f", best)) s = \(Int(perSecond)) records/s (\(String(format: "%.0f", megabytes)) MiB/s); "
        + "CPU \(String(format: "%.3f", bestCPU)) s = \(Int(perCPUSecond)) records per CPU-second")
}

let models = [("anthropic", "anthropic/claude-sonnet-4-5"), ("anthropic", "claude-haiku-4-5"), ("openai", "openai/gpt-5-mini"),
              ("openai", "gpt-4.1"), ("gemini", "gemini/gemini-2.5-flash")]
let teams = ["payments", "search", "support-bots", "research", "data-platform", "growth"]
let environments = ["production", "staging", "qa", "dev"]

/// One LiteLLM_SpendLogs row's values, as LiteLLM writes them.
func liteLLMRow(_ random: inout FixtureRandom, _ index: Int) -> [(String, String, Bool)] {
    // (column, value, isJSON)
    let (provider, model) = random.pick(models)
    let prompt = random.int(200...8000)
    let completion = random.int(20...1500)
    let read = random.int(0...(prompt / 2))
    let team = random.pick(teams)
    let environment = random.pick(environments)
    let second = index / 50
    let time = "2026-11-22 \(pad(10 + second / 3600 % 12)):\(pad(second / 60 % 60)):\(pad(second % 60)).\(String(100_000 + index % 900_000))"
    let key = random.hex(64)
    let metadata = "{\"user_api_key\": \"\(key)\", \"user_api_key_alias\": \"\(team)-\(environment)\", "
        + "\"user_api_key_team_id\": \"\(team)\", \"user_api_key_user_id\": \"svc-\(team)\", \"user_api_key_team_alias\": \"\(team)\", "
        + "\"user_api_key_org_id\": null, \"spend_logs_metadata\": null, \"requester_ip_address\": \"10.0.\(random.int(0...255)).\(random.int(0...255))\", "
        + "\"additional_usage_values\": {\"prompt_tokens_details\": {\"cached_tokens\": \(read)}, \"cache_read_input_tokens\": \(read), "
        + "\"cache_creation_input_tokens\": 0}, \"applied_guardrails\": [], \"status\": \"success\"}"
    let spend = "0.00\(random.int(1000...99999))\(random.int(100_000_000...999_999_999))"
    return [
        ("request_id", "chatcmpl-\(random.hex(8))-\(random.hex(4))-\(random.hex(4))-\(random.hex(12))", false),
        ("call_type", "acompletion", false), ("api_key", key, false), ("spend", spend, false),
        ("total_tokens", String(prompt + completion), false), ("prompt_tokens", String(prompt), false),
        ("completion_tokens", String(completion), false), ("startTime", time, false), ("endTime", time, false),
        ("completionStartTime", time, false), ("model", model, false), ("model_id", random.hex(16), false),
        ("model_group", model.split(separator: "/").last.map(String.init) ?? model, false), ("custom_llm_provider", provider, false),
        ("api_base", "https://api.\(provider).com/v1", false), ("user", "", false), ("metadata", metadata, true),
        ("cache_hit", "False", false), ("cache_key", "Cache OFF", false),
        ("request_tags", "[\"env:\(environment)\", \"feature:checkout-\(random.int(1...9))\"]", true),
        ("team_id", team, false), ("end_user", "user-\(random.int(1...500))", false), ("requester_ip_address", "10.0.0.1", false),
        ("messages", "{}", true), ("response", "{}", true), ("status", "success", false),
    ]
}

func pad(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }

func csvField(_ text: String) -> String {
    guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) else { return text }
    return "\"" + text.replacingAll("\"", with: "\"\"") + "\""
}

func jsonString(_ text: String) -> String { "\"" + text.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"") + "\"" }

extension String {
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        out.reserveCapacity(utf8.count)
        for character in self { if character == target { out += replacement } else { out.append(character) } }
        return out
    }
}

func generate(_ kind: String, count: Int, path: String) {
    guard let file = fopen(path, "w") else { exit(1) }
    defer { fclose(file) }
    var random = FixtureRandom(seed: 42)
    func write(_ text: String) { fputs(text, file) }
    switch kind {
    case "litellm-csv":
        write(liteLLMRow(&random, 0).map(\.0).joined(separator: ",") + "\r\n")
        for index in 0..<count { write(liteLLMRow(&random, index).map { csvField($0.1) }.joined(separator: ",") + "\r\n") }
    case "litellm-jsonl":
        for index in 0..<count {
            let row = liteLLMRow(&random, index)
            let numeric: Set<String> = ["spend", "total_tokens", "prompt_tokens", "completion_tokens"]
            write("{" + row.map { column, value, isJSON in
                jsonString(column) + ": " + (isJSON || numeric.contains(column) ? value : jsonString(value))
            }.joined(separator: ", ") + "}\n")
        }
    case "openai-usage":
        var written = 0
        var start = 1_795_737_600
        while written < count {
            write("{\"object\": \"page\", \"data\": [")
            for bucket in 0..<7 {
                write((bucket > 0 ? ", " : "") + "{\"object\": \"bucket\", \"start_time\": \(start), \"end_time\": \(start + 86_400), \"results\": [")
                for result in 0..<50 {
                    let input = random.int(1000...90000)
                    write((result > 0 ? ", " : "") + "{\"object\": \"organization.usage.completions.result\", \"input_tokens\": \(input), "
                        + "\"output_tokens\": \(random.int(100...9000)), \"input_cached_tokens\": \(random.int(0...(input / 2))), "
                        + "\"input_audio_tokens\": 0, \"output_audio_tokens\": 0, \"num_model_requests\": \(random.int(1...90)), "
                        + "\"project_id\": \"proj_\(random.hex(12))\", \"user_id\": null, \"api_key_id\": \"key_\(random.hex(12))\", "
                        + "\"model\": \"\(random.pick(["gpt-5", "gpt-5-mini", "gpt-4.1"]))\", \"batch\": false}")
                    written += 1
                }
                write("]}")
                start += 86_400
            }
            write("], \"has_more\": true, \"next_page\": \"page_\(random.hex(8))\"}\n")
        }
    case "focus":
        write("BilledCost,BillingCurrency,ChargeCategory,ChargeDescription,ChargePeriodEnd,ChargePeriodStart,ConsumedQuantity,ConsumedUnit,"
            + "EffectiveCost,ListCost,ProviderName,RegionId,ResourceName,ServiceName,SkuId,Tags,x_Model\n")
        for index in 0..<count {
            let team = random.pick(teams)
            let model = random.pick(["claude-sonnet-4-5", "gpt-5-mini", "gemini-2.5-flash"])
            let direction = index % 2 == 0 ? "input" : "output"
            let tags = "{\"team\": \"\(team)\", \"environment\": \"\(random.pick(environments))\"}"
            write("\(random.int(1...900)).\(random.int(100_000...999_999)),USD,Usage,\(model) \(direction) tokens,2026-11-22T11:00:00Z,"
                + "2026-11-22T10:00:00Z,\(random.int(1000...900_000)),Tokens,1.0,1.0,Anthropic,us-east-1,\(model),AI,\(model)-\(direction),"
                + csvField(tags) + ",\(model)\n")
        }
    default:
        exit(2)
    }
}

main()
