import Purser
import PurserAudit

/// Generates large, valid policy sets for benchmarks.
public struct PolicyGenerator: Sendable {
    public var models = 60
    public var environments = 20
    public var teams = 500
    public var rules = 200
    public var regions = 6
    public var exceptions = 10
    public var seed: UInt64 = 42

    public init() {}

    public static let providers = ["anthropic", "openai", "google", "mistral"]
    public static let tiers = ["small", "standard", "frontier"]

    public func modelName(_ index: Int) -> String { "model-\(index)" }
    public func environmentName(_ index: Int) -> String { "env-\(index)" }
    public func teamName(_ index: Int) -> String { "team-\(index)" }
    public func regionName(_ index: Int) -> String { (index % 2 == 0 ? "us-" : "eu-") + "region-\(index)" }

    /// The policy as one YAML document per section, ready to write to a file.
    public func yaml() -> String {
        var random = FixtureRandom(seed: seed)
        var out = "version: 1\nsettings:\n  timezone: America/New_York\n  reroute: true\n"
        out += "regions:\n  allowed: [\((0..<regions).map(regionName).joined(separator: ", "))]\n  fallbacks:\n"
        for index in 0..<regions {
            out += "    \(regionName(index)): [\(regionName((index + 2) % regions))]\n"
        }
        out += "models:\n"
        for index in 0..<models {
            let tier = Self.tiers[index % 3]
            let input = [1, 3, 5][index % 3] * (1 + index % 4)
            let served = (0..<regions).filter { ($0 + index) % 3 != 0 }.map(regionName)
            out += "  \(modelName(index)):\n"
            out += "    provider: \(Self.providers[index % Self.providers.count])\n"
            out += "    tier: \(tier)\n"
            out += "    price: {input: \(input).25, output: \(input * 5).5, cached_input: 0.\(index % 9 + 1)}\n"
            out += "    regions: [\(served.joined(separator: ", "))]\n"
            out += "    aliases: [\(modelName(index))-2025]\n"
            if index % 3 != 0 { out += "    fallbacks: [\(modelName(index - 1))]\n" }
        }
        out += "environments:\n"
        for index in 0..<environments {
            out += "  \(environmentName(index)):\n"
            if index % 4 == 1 { out += "    tiers: [small, standard]\n" }
            if index % 4 == 2 { out += "    exclude: [\"\(modelName(index % models))*\"]\n" }
        }
        out += "teams:\n"
        for index in 0..<teams {
            out += "  \(teamName(index)):\n"
            out += "    budget: {month: \(1000 + index * 10), day: \(100 + index)}\n"
            if index % 10 == 0 { out += "    max_request_cost: 5\n" }
        }
        out += "budgets:\n"
        out += "  - {id: org-month, scope: org, period: month, limit: 10000000, alerts: [0.5, 0.8]}\n"
        out += "  - {id: env-day, scope: environment, period: day, limit: 100000}\n"
        out += "rules:\n"
        for index in 0..<rules {
            let threshold = 50_000 + Int.random(in: 0..<100_000, using: &random)
            switch index % 3 {
            case 0: out += "  - {id: rule-\(index), when: {team: \(teamName(index % teams)), input_tokens: {gt: \(threshold)}}, message: too big}\n"
            case 1: out += "  - {id: rule-\(index), when: {environment: \(environmentName(index % environments)), output_tokens: {gt: \(threshold)}, tags.kind: batch}, effect: warn}\n"
            default: out += "  - {id: rule-\(index), when: {model: \(modelName(index % models)), input_tokens: {gt: \(threshold)}}, unless: {tags.ticket: {exists: true}}}\n"
            }
        }
        out += "exceptions:\n"
        for index in 0..<exceptions {
            out += "  - {id: EXC-\(index), waives: [environment-model], when: {team: \(teamName(index * 7 % teams))}, expires: 2099-12-31, reason: benchmark}\n"
        }
        return out
    }

    /// A policy made of `lines` lines in several files, for `purser check` timing.
    public static func files(lines: Int) -> [(name: String, text: String)] {
        // Teams and rules grow together until the set has at least `lines` lines.
        func generate(scale: Double) -> String {
            var generator = PolicyGenerator()
            generator.teams = max(10, Int(Double(lines) * scale / 10))
            generator.rules = max(10, Int(Double(lines) * scale / 4))
            generator.models = 60
            return generator.yaml()
        }
        func count(_ text: String) -> Int { text.utf8.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) } }
        var scale = 1.0
        var text = generate(scale: scale)
        while count(text) < lines {
            scale *= max(1.02, Double(lines) / Double(max(1, count(text))))
            text = generate(scale: scale)
        }
        // Split at section starts into separate files, each its own fragment.
        var files: [(String, String)] = []
        var current = ""
        var name = "settings"
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if !line.hasPrefix(" "), !line.hasPrefix("-"), line.hasSuffix(":"), line != "settings:", !current.isEmpty, line != "version: 1" {
                files.append(("\(files.count)-\(name).yaml", current))
                current = "version: 1\n"
                name = String(line.dropLast())
            }
            current += line + "\n"
        }
        files.append(("\(files.count)-\(name).yaml", current))
        return files
    }

    /// A stream of requests, mostly allowed, some denied or rerouted.
    public func requests(count: Int, seed: UInt64 = 7) -> [Request] {
        var random = FixtureRandom(seed: seed)
        let start = Timestamp(seconds: 1_795_428_000)
        return (0..<count).map { index in
            let model = Int.random(in: 0..<models, using: &random)
            return Request(
                id: "r-\(index)", timestamp: Timestamp(seconds: start.seconds + Int64(index % 86_400)),
                team: teamName(Int.random(in: 0..<teams, using: &random)),
                environment: environmentName(Int.random(in: 0..<environments, using: &random)),
                model: index % 17 == 0 ? modelName(model) + "-2025" : modelName(model),
                region: index % 5 == 0 ? nil : regionName(Int.random(in: 0..<regions, using: &random)),
                user: "user-\(index % 1000)", tags: index % 3 == 0 ? ["kind": "batch"] : [:],
                usage: Usage(inputTokens: Int64.random(in: 100...20_000, using: &random), outputTokens: Int64.random(in: 10...4000, using: &random)))
        }
    }

    /// One request as a JSON line (docs/wire-formats.md, "Requests").
    public static func jsonLine(_ request: Request) -> String {
        RequestEncoder.json(request)
    }
}
