import Foundation
import Testing
import PurserAudit
import Purser
import PurserTestSupport

/// A small usage log replayed against the shipped policies: denies (rerouted and not), a warn,
/// a waiver, a team over its monthly cap, hostile team names and a malformed line.
enum AuditReportFixture {
    /// A team name that must come out escaped in HTML (and in the `unknown-team` message).
    static let hostileTeam = "<script>alert('x')</script>"
    /// A team name with a quote, a comma and a newline (CSV quoting).
    static let awkwardTeam = "evil \"team\", with\nnewline"
    /// A team name that a spreadsheet would run as a formula.
    static let formulaTeam = "=SUM(A1,A2)"

    static let lines: [String] = [
        // 1: payments in qa on a frontier model: environment-model deny, reroutable to sonnet.
        #"{"id":"r-1","timestamp":"2026-11-02T15:00:00Z","team":"payments","environment":"qa","model":"claude-opus-4-5","region":"us-east-1","usage":{"input_tokens":60000,"output_tokens":6000}}"#,
        // 2: research in qa on opus: waived by EXC-2026-031.
        #"{"id":"r-2","timestamp":"2026-11-02T16:00:00Z","team":"research","environment":"qa","model":"claude-opus-4-5","region":"us-east-1","usage":{"input_tokens":50000,"output_tokens":2000}}"#,
        // 3: a clean record.
        #"{"id":"r-3","timestamp":"2026-11-03T15:00:00Z","team":"search","environment":"production","model":"gpt-5-mini","region":"us-east-1","usage":{"input_tokens":20000,"output_tokens":2000}}"#,
        // 4: staging output over 32k tokens: staging-huge-output warn.
        #"{"id":"r-4","timestamp":"2026-11-04T15:00:00Z","team":"growth","environment":"staging","model":"gemini-2.5-flash","region":"us-east-1","usage":{"input_tokens":20000,"output_tokens":40000}}"#,
        // 5: not JSON.
        #"{"id":"r-5","timestamp":"2026-11-05T15:00:00Z","team": "#,
        // 6, 7: growth over its $6,000 monthly cap (and its max_request_cost).
        #"{"id":"r-6","timestamp":"2026-11-10T15:00:00Z","team":"growth","environment":"production","model":"gpt-5-mini","region":"us-east-1","usage":{"input_tokens":1000,"output_tokens":100},"cost":5000}"#,
        #"{"id":"r-7","timestamp":"2026-11-11T15:00:00Z","team":"growth","environment":"production","model":"gpt-5-mini","region":"us-east-1","usage":{"input_tokens":1000,"output_tokens":100},"cost":1500.5}"#,
        // 8-10: teams the policy does not know, with hostile names.
        #"{"id":"r-8","timestamp":"2026-11-12T15:00:00Z","team":"<script>alert('x')</script>","environment":"production","model":"gpt-5-mini","region":"us-east-1","usage":{"input_tokens":1000,"output_tokens":100}}"#,
        #"{"id":"r-9","timestamp":"2026-11-13T15:00:00Z","team":"evil \"team\", with\nnewline","environment":"production","model":"gpt-5-mini","region":"us-east-1","usage":{"input_tokens":1000,"output_tokens":100}}"#,
        #"{"id":"-1+2","timestamp":"2026-11-14T15:00:00Z","team":"=SUM(A1,A2)","environment":"production","model":"gpt-5-mini","region":"us-east-1","usage":{"input_tokens":1000,"output_tokens":100}}"#,
    ]

    /// Replays the fixture and returns the report.
    static func report() throws -> AuditReport {
        let policy = try #require(PolicySet.load(paths: [repositoryRoot + "/policies"]).policy)
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        let file = directory + "/usage.jsonl"
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: file))
        return try Auditor(policy: try CompiledPolicy(policy)).run([file])
    }

    /// Every violation of a report, read back from its spool.
    static func violations(_ report: AuditReport) throws -> [AuditViolation] {
        var all: [AuditViolation] = []
        try report.forEachViolation { all.append($0) }
        return all
    }

    /// Parses JSON text.
    static func json(_ text: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    }
}
