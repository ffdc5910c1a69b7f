import Foundation
import Testing

/// `purser eval`, `test`, `audit` and `generate` end to end on the shipped
/// `policies/` and `examples/`: what each prints and the exit codes of docs/cli.md, "Exit codes".
@Suite("purser eval, test, audit and generate")
struct WorkflowCommandTests {
    /// The repository root, where `policies/` and `examples/` live.
    static let root = Purser.packageRoot

    /// Parses each stdout line as a JSON object.
    static func objects(_ result: Purser.Result) throws -> [[String: Any]] {
        try result.lines.map { line in
            try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not an object: \(line)")
        }
    }

    // MARK: eval

    @Test func evalDecidesAPrettyPrintedRequest() throws {
        let result = try Purser.run(["eval", "examples/requests/qa-opus.json"], in: Self.root)
        #expect(result.status == 0, "\(result.stderr)")
        let decisions = try Self.objects(result)
        #expect(decisions.count == 1)
        let decision = try #require(decisions.first)
        #expect(decision["decision"] as? String == "allow")
        #expect(decision["model"] as? String == "claude-sonnet-4-5")
        #expect(decision["rerouted"] as? Bool == true)
        #expect(decision["request_id"] as? String == "req-qa-opus-1")
    }

    @Test func evalStreamExitsOneWhenARequestIsDenied() throws {
        let result = try Purser.run(["eval", "examples/requests/requests.jsonl"], in: Self.root)
        #expect(result.status == 1, "\(result.stderr)")
        let decisions = try Self.objects(result)
        #expect(decisions.map { $0["request_id"] as? String } == (1...8).map { "r\($0)" })
        let outcomes = decisions.map { "\($0["decision"] as? String ?? "?")/\($0["model"] as? String ?? "?")" }
        #expect(outcomes == [
            "allow/claude-sonnet-4-5",  // r1 plain production call
            "allow/claude-sonnet-4-5",  // r2 qa frontier rerouted down the fallback chain
            "allow/gpt-4.1",            // r3 gpt-5 in qa rerouted
            "deny/claude-haiku-4-5",    // r4 EU-only team asked for us-east-1
            "deny/claude-haiku-4-5",    // r5 payments has no dev environment
            "deny/gpt-5-mini",          // r6 over growth's max request cost
            "deny/llama-9-ultra",       // r7 unknown model
            "allow/gpt-4.1-nano",       // r8 small model in dev
        ])
        let rules = decisions.map { decision in
            ((decision["violations"] as? [[String: Any]]) ?? []).compactMap { $0["rule"] as? String }
        }
        #expect(rules[3].contains("region-not-allowed"))
        #expect(rules[4].contains("team-environment"))
        #expect(rules[5].contains("max-request-cost"))
        #expect(rules[6] == ["unknown-model"])
    }

    @Test func evalReportsAMalformedLineAndDecidesTheRest() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("in.jsonl", """
            {"team":"payments","environment":"production","model":"claude-haiku-4-5"}
            {"team":"payments","environment":
            {"team":"search","environment":"production","model":"gpt-5-mini"}

            """)
        let result = try Purser.run(["eval", "--policy", Self.root + "/policies", "in.jsonl"], in: directory.path)
        #expect(result.status == 2)
        let lines = try Self.objects(result)
        #expect(lines.count == 3)
        #expect(lines[0]["decision"] as? String == "allow")
        #expect(lines[1]["line"] as? Int == 2)
        #expect(lines[1]["error"] is String)
        #expect(lines[2]["decision"] as? String == "allow")
        #expect(result.stderr.contains("1 malformed request"))
    }

    @Test func evalLocatesAnErrorInAPrettyPrintedRequest() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("request.json", "{\n  \"team\": \"payments\",\n  \"modle\": \"claude-haiku-4-5\"\n}\n")
        let result = try Purser.run(["eval", "--policy", Self.root + "/policies", "request.json"], in: directory.path)
        #expect(result.status == 2)
        let error = try #require(try Self.objects(result).first)
        #expect(error["line"] as? Int == 3)
        #expect(error["column"] as? Int == 4)  // the key name, after its quote
        #expect((error["error"] as? String)?.contains("did you mean \"model\"") == true)
        #expect(result.stderr.contains("request.json:3:4:"))
    }

    @Test func evalWithAMemoryLedgerCountsEarlierRequests() throws {
        // qa-team-day gives research $300 a day in qa; each request estimates $100 on sonnet.
        let request = #"{"timestamp":"2026-11-23T15:00:00Z","team":"research","environment":"qa","model":"claude-sonnet-4-5","usage":{"input_tokens":20000000,"output_tokens":2666667}}"#
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("in.jsonl", Array(repeating: request, count: 3).joined(separator: "\n") + "\n")
        let policy = Self.root + "/policies"
        let counted = try Purser.run(["eval", "--policy", policy, "--ledger", "memory", "in.jsonl"], in: directory.path)
        let uncounted = try Purser.run(["eval", "--policy", policy, "in.jsonl"], in: directory.path)
        #expect(counted.status == 0 && uncounted.status == 0, "\(counted.stderr)")
        let without = try Self.objects(uncounted)
        let with = try Self.objects(counted)
        #expect(without.map { $0["model"] as? String } == Array(repeating: "claude-sonnet-4-5", count: 3))
        // Two requests leave $100.00 - $0.00001 of the cap: the third no longer fits on sonnet
        // and is rerouted down the fallback chain to haiku.
        #expect(with.map { $0["model"] as? String } == ["claude-sonnet-4-5", "claude-sonnet-4-5", "claude-haiku-4-5"])
        let third = try #require(with.last)
        #expect(third["rerouted"] as? Bool == true)
        let rules = ((third["violations"] as? [[String: Any]]) ?? []).compactMap { $0["rule"] as? String }
        #expect(rules == ["qa-team-day"])
    }

    @Test func evalOfAnUnreadableInputExitsTwo() throws {
        let result = try Purser.run(["eval", "no-such-file.jsonl"], in: Self.root)
        #expect(result.status == 2)
        #expect(result.stderr.contains("no-such-file.jsonl"))
    }

    // MARK: test

    @Test func shippedPolicyTestsPass() throws {
        let result = try Purser.run(["test", "--coverage", "policies/"], in: Self.root)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let last = try #require(result.lines.last)
        #expect(last.hasSuffix("passed, 0 failed"), "\(last)")
        // The tests directory alone finds its policy one level up.
        let nested = try Purser.run(["test", "policies/tests"], in: Self.root)
        #expect(nested.status == 0, "\(nested.stdout)\n\(nested.stderr)")
        #expect(nested.lines.last == last)
    }

    @Test func aFailingCaseShowsExpectedAgainstActualAndExitsOne() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("wrong.test.yaml", """
            version: 1
            tests:
              - name: qa may use opus (it may not)
                request: {team: payments, environment: qa, model: claude-opus-4-5, timestamp: "2026-11-23T15:00:00Z"}
                expect: {model: claude-opus-4-5}
              - name: production haiku is allowed
                request: {team: payments, environment: production, model: claude-haiku-4-5, timestamp: "2026-11-23T15:00:00Z"}
                expect: {decision: allow}

            """)
        let result = try Purser.run(["test", "--policy", Self.root + "/policies", "wrong.test.yaml"], in: directory.path)
        #expect(result.status == 1)
        #expect(result.stdout.contains("qa may use opus"))
        #expect(result.stdout.contains("claude-opus-4-5"))
        #expect(result.stdout.contains("claude-sonnet-4-5"))
        #expect(result.lines.last == "1 passed, 1 failed")
    }

    // MARK: audit

    @Test func auditOfTheShippedMonthReportsViolationsAndExitsOne() throws {
        let result = try Purser.run(["audit", "--format", "json", "--no-progress", "examples/usage/"], in: Self.root)
        #expect(result.status == 1, "\(result.stderr)")
        let report = try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let summary = try #require(report["summary"] as? [String: Any])
        let violations = try #require(report["violations"] as? [[String: Any]])
        #expect(!violations.isEmpty)
        #expect((report["malformed"] as? [String: Any])?["count"] as? Int == 0)
        // Every record of both logs is replayed: the JSONL's lines plus the CSV's rows.
        let jsonl = try String(contentsOfFile: Self.root + "/examples/usage/gateway-2026-11.jsonl", encoding: .utf8)
        let jsonlRecords = jsonl.split(separator: "\n").count
        #expect((summary["records"] as? Int ?? 0) > jsonlRecords)
        // Both formats contribute violations, each located by file:line.
        let inputs = Set(violations.compactMap { ($0["input"] as? String)?.split(separator: ":").first.map(String.init) })
        #expect(inputs == ["examples/usage/gateway-2026-11.jsonl", "examples/usage/litellm-2026-11.csv"])
        // Every violation kind the policy can produce shows up in a month of logs.
        let kinds = Set(violations.compactMap { $0["kind"] as? String })
        #expect(kinds.isSuperset(of: ["access", "budget", "region", "rule", "unknown", "cost"]), "\(kinds)")

        let never = try Purser.run(["audit", "--format", "jsonl", "--fail-on", "never", "--no-progress", "examples/usage/"], in: Self.root)
        #expect(never.status == 0)
        #expect(never.lines.count == violations.count)
    }

    @Test func auditKeepsGoingPastMalformedRecordsUnlessStrict() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("log.jsonl", """
            {"id":"a","timestamp":"2026-11-02T15:00:00Z","team":"payments","environment":"production","model":"claude-haiku-4-5","usage":{"input_tokens":100,"output_tokens":10}}
            {"id":"b","team":"payments","environment":"production","model":"claude-haiku-4-5"}
            not json at all
            {"id":"c","timestamp":"2026-11-02T15:00:02Z","team":"payments","environment":"dev","model":"claude-haiku-4-5","usage":{"input_tokens":100,"output_tokens":10}}

            """)
        let policy = Self.root + "/policies"
        let lenient = try Purser.run(["audit", "--policy", policy, "--format", "json", "log.jsonl"], in: directory.path)
        #expect(lenient.status == 1, "\(lenient.stderr)")
        let report = try #require(JSONSerialization.jsonObject(with: Data(lenient.stdout.utf8)) as? [String: Any])
        let malformed = try #require(report["malformed"] as? [String: Any])
        #expect(malformed["count"] as? Int == 2)
        let places = ((malformed["records"] as? [[String: Any]]) ?? []).compactMap { $0["input"] as? String }
        #expect(places == ["log.jsonl:2", "log.jsonl:3"], "\(malformed)")
        let violations = try #require(report["violations"] as? [[String: Any]])
        #expect(violations.compactMap { $0["request_id"] as? String } == ["c"])

        let strict = try Purser.run(["audit", "--policy", policy, "--strict-input", "log.jsonl"], in: directory.path)
        #expect(strict.status == 2)
        #expect(strict.stderr.contains("log.jsonl:2"))
    }

    @Test func auditWritesASelfContainedHTMLReport() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let result = try Purser.run(
            ["audit", "--policy", Self.root + "/policies", "--format", "html", "--fail-on", "never",
             "-o", directory.path + "/report.html", Self.root + "/examples/usage/litellm-2026-11.csv"],
            in: directory.path)
        #expect(result.status == 0, "\(result.stderr)")
        let html = try String(contentsOfFile: directory.path + "/report.html", encoding: .utf8)
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.contains("<svg"))
        #expect(!html.contains("src=\"http"))
        #expect(!html.contains("<script src="))
    }

    @Test func auditReadsLiteLLMAndOpenAIAPIBodies() throws {
        let exports = Self.root + "/examples/exports/"
        let result = try Purser.run(
            ["audit", "--policy", Self.root + "/policies", "--format", "json", "--no-progress", "--fail-on", "never",
             exports + "litellm/spend-logs-v2-page1.json", exports + "litellm/spend-logs-v2-page2.json",
             exports + "openai/costs-page.json"],
            in: Self.root)
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let summary = try #require(report["summary"] as? [String: Any])
        #expect(summary["records"] as? Int == 21)
        #expect(summary["malformed"] as? Int == 0)
        // 0.2791 (LiteLLM) + 11.405 (OpenAI costs)
        #expect((summary["total_spend"] as? NSNumber)?.stringValue == "11.6841")

        let summarized = try Purser.run(["audit", "--no-progress", exports + "litellm/spend-logs-v1-summarized.json"], in: Self.root)
        #expect(summarized.status == 2)
        #expect(summarized.stderr.contains("spend-logs-v1-summarized.json: line 2: this is the summarized body"), "\(summarized.stderr)")
        #expect(summarized.stderr.contains("summarize=false"))
    }

    @Test func auditOfAMissingLogExitsTwo() throws {
        let result = try Purser.run(["audit", "--no-progress", "missing.jsonl"], in: Self.root)
        #expect(result.status == 2)
        #expect(result.stderr.contains("missing.jsonl"))
    }

    // MARK: generate

    @Test(arguments: ["purser", "litellm-json", "litellm-csv", "openai-usage", "focus"])
    func generatedLogsAreReproducibleAndAuditable(format: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let arguments = ["generate", "--policy", Self.root + "/policies", "--format", format, "--records", "300", "--seed", "11"]
        let first = try Purser.run(arguments + ["-o", "a.log"], in: directory.path)
        let second = try Purser.run(arguments + ["-o", "b.log"], in: directory.path)
        #expect(first.status == 0 && second.status == 0, "\(first.stderr)")
        let a = try Data(contentsOf: URL(fileURLWithPath: directory.path + "/a.log"))
        let b = try Data(contentsOf: URL(fileURLWithPath: directory.path + "/b.log"))
        #expect(a == b)
        #expect(a.count > 1000)

        let audit = try Purser.run(
            ["audit", "--policy", Self.root + "/policies", "--format", "json", "--fail-on", "never", "a.log"], in: directory.path)
        #expect(audit.status == 0, "\(audit.stderr)")
        let report = try #require(JSONSerialization.jsonObject(with: Data(audit.stdout.utf8)) as? [String: Any])
        let summary = try #require(report["summary"] as? [String: Any])
        #expect((summary["records"] as? Int ?? 0) > 0)
        #expect((report["malformed"] as? [String: Any])?["count"] as? Int == 0, "\(report["malformed"] ?? [])")
    }
}
