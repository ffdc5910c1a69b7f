import Foundation
import Testing
import PurserAudit
import Purser
import PurserTestSupport

/// A report that lists only the first violations (the table, the HTML page) keeps no more: an
/// audit in which most records break policy then spends no time writing the rest.
@Suite("Violations kept")
struct KeptViolationsTests {
    @Test func aTableKeepsOnlyWhatItLists() throws {
        let policy = try TierPricingTests.shippedPolicy()
        let path = LiteLLMAPIBodyTests.export("openai/costs-page.json")
        var every = AuditOptions()
        every.temporaryDirectory = NSTemporaryDirectory()
        let full = try Auditor(policy: policy, options: every).run([path])
        var some = every
        some.violationsKept = 3
        let kept = try Auditor(policy: policy, options: some).run([path])

        // Counts and totals cover every violation either way.
        #expect(full.violationCount > 3)
        #expect(kept.violationCount == full.violationCount)
        #expect(kept.summary.violations == full.summary.violations)
        #expect(kept.byRule == full.byRule)
        #expect(full.keptEveryViolation && !kept.keptEveryViolation)
        // What is kept is the first, in time order.
        var listed: [String] = []
        try kept.forEachViolation { listed.append("\($0.input) \($0.violation.rule)") }
        var first: [String] = []
        try full.forEachViolation(first: 3) { first.append("\($0.input) \($0.violation.rule)") }
        #expect(listed == first && listed.count == 3)
        // The table of three is the same; a format that lists every violation refuses the report.
        var options = AuditRenderOptions()
        options.tableViolations = 3
        options.width = 200
        #expect(try AuditRenderer.text(kept, as: .table, options: options) == AuditRenderer.text(full, as: .table, options: options))
        #expect(throws: AuditError.self) { try AuditRenderer.text(kept, as: .jsonl) }
        #expect(throws: AuditError.self) { try AuditRenderer.text(kept, as: .json) }
    }
}
