import Foundation
import Testing
import PurserAudit
import Purser
import PurserTestSupport

@Suite struct AuditSARIFTests {
    @Test func sarifHasOneResultPerViolationWithMappedLevels() throws {
        let report = try AuditReportFixture.report()
        let text = try AuditRenderer.text(report, as: .sarif)
        let root = try #require(try AuditReportFixture.json(text) as? [String: Any])
        #expect(root["version"] as? String == "2.1.0")
        let run = try #require((root["runs"] as? [[String: Any]])?.first)
        let driver = try #require((run["tool"] as? [String: Any])?["driver"] as? [String: Any])
        #expect(driver["name"] as? String == "purser")
        let rules = try #require(driver["rules"] as? [[String: Any]])
        let ruleIDs = rules.compactMap { $0["id"] as? String }
        #expect(Set(ruleIDs) == Set(report.byRule.map(\.name)))
        // Built-in checks are described by their catalog summary, budgets by their id.
        let unknownTeam = try #require(rules.first { $0["id"] as? String == "unknown-team" })
        #expect((unknownTeam["shortDescription"] as? [String: Any])?["text"] as? String == BuiltinCheck.unknownTeam.summary)
        #expect((unknownTeam["properties"] as? [String: Any])?["kind"] as? String == "unknown")
        let growth = try #require(rules.first { $0["id"] as? String == "team.growth.month" })
        #expect((growth["shortDescription"] as? [String: Any])?["text"] as? String == report.rule("team.growth.month").summary)
        #expect((growth["properties"] as? [String: Any])?["kind"] as? String == "budget")

        let results = try #require(run["results"] as? [[String: Any]])
        #expect(results.count == report.summary.violations)
        let violations = try AuditReportFixture.violations(report)
        let levels: [ViolationEffect: String] = [.deny: "error", .warn: "warning", .waived: "note", .rerouted: "note"]
        var fingerprints = Set<String>()
        for (result, item) in zip(results, violations) {
            #expect(result["ruleId"] as? String == item.violation.rule)
            #expect(result["level"] as? String == levels[item.violation.effect])
            if let index = result["ruleIndex"] as? Int { #expect(ruleIDs[index] == item.violation.rule) } else { Issue.record("no ruleIndex") }
            let location = try #require((result["locations"] as? [[String: Any]])?.first?["physicalLocation"] as? [String: Any])
            let uri = try #require((location["artifactLocation"] as? [String: Any])?["uri"] as? String)
            #expect(uri.hasPrefix("file:///") && uri.hasSuffix("/usage.jsonl"))
            #expect((location["region"] as? [String: Any])?["startLine"] as? Int == item.input.line)
            if let source = item.violation.source {
                let related = try #require((result["relatedLocations"] as? [[String: Any]])?.first?["physicalLocation"] as? [String: Any])
                #expect((related["region"] as? [String: Any])?["startLine"] as? Int == source.line)
                #expect(((related["artifactLocation"] as? [String: Any])?["uri"] as? String)?.hasSuffix(".yaml") == true)
            }
            let properties = try #require(result["properties"] as? [String: Any])
            #expect(properties["effect"] as? String == item.violation.effect.rawValue)
            #expect(properties["team"] as? String == item.team)
            #expect(properties["timestamp"] as? String == item.timestamp.description)
            if item.violation.effect == .waived {
                #expect((result["suppressions"] as? [[String: Any]])?.first?["kind"] as? String == "external")
            }
            let fingerprint = try #require((result["partialFingerprints"] as? [String: Any])?["purserViolation/v1"] as? String)
            #expect(fingerprint.count == 64)
            fingerprints.insert(fingerprint)
        }
        #expect(fingerprints.count == results.count)
        #expect(results.contains { $0["level"] as? String == "error" })
        #expect(results.contains { $0["level"] as? String == "warning" })
        #expect(results.contains { $0["level"] as? String == "note" })
    }

    @Test func fingerprintsDependOnRuleInputAndTimeOnly() throws {
        let item = try #require(AuditReportFixture.violations(AuditReportFixture.report()).first)
        func copy(rule: String? = nil, line: Int? = nil, cost: USD? = nil) -> AuditViolation {
            let violation = item.violation
            return AuditViolation(
                violation: Violation(rule: rule ?? violation.rule, kind: violation.kind, effect: violation.effect, severity: violation.severity,
                                     message: "another message", source: violation.source, waivedBy: violation.waivedBy),
                requestID: "other", timestamp: item.timestamp, team: item.team, environment: item.environment, model: item.model,
                region: item.region, cost: cost ?? item.cost, input: RecordLocation(file: item.input.file, line: line ?? item.input.line),
                reroute: nil)
        }
        #expect(ReportText.fingerprint(copy(cost: USD(dollars: 9))) == ReportText.fingerprint(item))
        #expect(ReportText.fingerprint(copy(line: item.input.line + 1)) != ReportText.fingerprint(item))
        #expect(ReportText.fingerprint(copy(rule: "other-rule")) != ReportText.fingerprint(item))
    }
}
