import Foundation
import Testing
import PurserAudit
import Purser
import PurserTestSupport

@Suite("Usage generator")
struct UsageGeneratorTests {
    static let policy: PolicySet = {
        guard let policy = PolicySet.load(paths: [repositoryRoot + "/policies"]).policy else { fatalError("shipped policy invalid") }
        return policy
    }()

    static func generator(records: Int = 3000, seed: UInt64 = 9) -> UsageGenerator {
        var options = UsageGenerator.Options()
        options.records = records
        options.seed = seed
        return UsageGenerator(policy: policy, options: options)
    }

    @Test func isDeterministicAndInTimeOrder() {
        let first = Self.generator().records()
        let second = Self.generator().records()
        #expect(first == second)
        #expect(first != Self.generator(seed: 10).records())
        #expect(zip(first, first.dropFirst()).allSatisfy { ($0.timestamp ?? .init(nanoseconds: 0)) <= ($1.timestamp ?? .init(nanoseconds: 0)) })
        #expect(first.count >= 3000, "ordinary records plus incident bursts")
        #expect(first.allSatisfy { $0.timestamp != nil && $0.cost != nil })
    }

    @Test func pricesRecordsExactlyAtThePolicyPrices() throws {
        for request in Self.generator().records().prefix(500) {
            guard let price = Self.policy.model(named: request.model)?.price else { continue }
            #expect(request.cost == request.usage.cost(at: price))
        }
    }

    @Test func breaksThePolicyInEveryWay() throws {
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        let path = directory + "/usage.jsonl"
        var stream = UsageLogWriter.Stream(format: .purser, policy: Self.policy)
        var bytes = stream.header()
        Self.generator(records: 8000).forEachRecord { bytes.append(contentsOf: stream.row($0)) }
        bytes.append(contentsOf: stream.footer())
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let report = try Auditor(policy: CompiledPolicy(Self.policy)).run([path])
        #expect(report.summary.malformed == 0)
        let rules = Set(report.byRule.map(\.name))
        for expected in ["environment-model", "team-environment", "team-model", "region-not-allowed", "model-region",
                         "max-request-cost", "unknown-model", "unknown-team", "dev-prompt-size", "batch-no-frontier-overnight",
                         "no-customer-data-outside-prod", "staging-huge-output", "production-request-cost"] {
            #expect(rules.contains(expected), "no \(expected) violation in the generated month")
        }
        #expect(report.budgets.contains { $0.counter.budget.hasPrefix("team.") && $0.onExceed == .deny }, "an incident crosses a team cap")
        #expect(report.budgets.contains { $0.onExceed == .warn }, "the dev loop crosses a soft cap")
        #expect(!report.alerts.isEmpty)
        #expect(report.summary.reroutingSavings > .zero)
    }

    @Test(arguments: UsageLogWriter.Format.allCases)
    func writesEveryFormat(format: UsageLogWriter.Format) {
        var stream = UsageLogWriter.Stream(format: format, policy: Self.policy)
        var text = String(decoding: stream.header(), as: UTF8.self)
        for request in Self.generator(records: 200).records() { text += String(decoding: stream.row(request), as: UTF8.self) }
        text += String(decoding: stream.footer(), as: UTF8.self)
        let lines = text.split(separator: "\n")
        #expect(!lines.isEmpty)
        switch format {
        case .purser, .litellmJSON, .openaiUsage:
            for line in lines { #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil, "\(line.prefix(80))") }
        case .litellmCSV, .focus:
            #expect(lines[0].contains(format == .focus ? "ChargePeriodStart" : "request_id"))
        }
    }
}
