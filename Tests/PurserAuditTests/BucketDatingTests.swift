import Foundation
import Testing
@testable import PurserAudit
import Purser
import PurserTestSupport

/// Aggregated rows (OpenAI buckets, FOCUS charge periods) count on the day their provider dates
/// them, whatever the policy's time zone (docs/importers.md, "Buckets: the day they count on").
@Suite("Buckets: the day they count on")
struct BucketDatingTests {
    static func time(_ text: String) throws -> Timestamp { try #require(Timestamp(rfc3339: text)) }

    static func dating(_ zone: String) throws -> BucketDating {
        BucketDating(zone: try #require(ZoneRules(identifier: zone)))
    }

    @Test func aUTCDayStaysOnItsDateWestOfUTC() throws {
        let dating = try Self.dating("America/New_York")
        // Placed at its start, this day would be 2026-11-30 19:00 in New York, the previous month.
        let placed = dating.instant(start: try Self.time("2026-12-01T00:00:00Z"), end: try Self.time("2026-12-02T00:00:00Z"))
        #expect(placed == (try Self.time("2026-12-01T17:00:00Z")))  // noon in New York (UTC-5)
    }

    @Test func aUTCDayStaysOnItsDateFarEastOfUTC() throws {
        // Auckland is UTC+13 in December: a midpoint rule would move the 31st into January.
        let dating = try Self.dating("Pacific/Auckland")
        let placed = dating.instant(start: try Self.time("2026-12-31T00:00:00Z"), end: try Self.time("2027-01-01T00:00:00Z"))
        #expect(placed == (try Self.time("2026-12-30T23:00:00Z")))  // 2026-12-31 12:00 in Auckland
    }

    @Test func aDayStartingAtLocalMidnightKeepsItsLocalDate() throws {
        let dating = try Self.dating("America/New_York")
        // An export made in the policy's zone: 2026-11-05 00:00 in New York is 05:00Z.
        let placed = dating.instant(start: try Self.time("2026-11-05T05:00:00Z"), end: try Self.time("2026-11-06T05:00:00Z"))
        #expect(placed == (try Self.time("2026-11-05T17:00:00Z")))
    }

    @Test func aMonthCountsInItsMonth() throws {
        let dating = try Self.dating("America/Los_Angeles")
        let placed = dating.instant(start: try Self.time("2026-11-01T00:00:00Z"), end: try Self.time("2026-12-01T00:00:00Z"))
        #expect(placed == (try Self.time("2026-11-01T20:00:00Z")))  // 2026-11-01 12:00 in Los Angeles (UTC-8 since 02:00 that day)
    }

    @Test func shorterBucketsCountAtTheirMidpoint() throws {
        let dating = try Self.dating("America/New_York")
        let hour = dating.instant(start: try Self.time("2026-11-01T03:00:00Z"), end: try Self.time("2026-11-01T04:00:00Z"))
        #expect(hour == (try Self.time("2026-11-01T03:30:00Z")))  // 2026-10-31 23:30 in New York: that hour's day
        let minute = dating.instant(start: try Self.time("2026-11-01T03:00:00Z"), end: try Self.time("2026-11-01T03:01:00Z"))
        #expect(minute == (try Self.time("2026-11-01T03:00:30Z")))
    }

    @Test func withoutAnEndAfterItsStartABucketCountsAtItsStart() throws {
        let dating = try Self.dating("America/New_York")
        let start = try Self.time("2026-11-01T00:00:00Z")
        #expect(dating.instant(start: start, end: nil) == start)
        #expect(dating.instant(start: start, end: start) == start)
        #expect(dating.instant(start: start, end: try Self.time("2026-10-01T00:00:00Z")) == start)
        #expect(BucketDating.width(start: Timestamp(nanoseconds: .min), end: Timestamp(nanoseconds: .max)) == nil)
    }

    /// Spend per local day over every team of an audit of shipped fixtures under the shipped policy (America/New_York).
    static func days(_ files: [String]) throws -> [String: USDTotal] {
        let report = try LiteLLMAPIBodyTests.audit(files)
        var days: [String: USDTotal] = [:]
        for series in report.series {
            for (day, spend) in series.days { days[day, default: .zero] += spend }
        }
        return days
    }

    @Test func openAIDailyBucketsLandOnTheirUTCDates() throws {
        let days = try Self.days(["openai/costs-page.json"])
        #expect(days == ["2026-11-01": USDTotal(try #require(USD("7.365"))), "2026-11-02": USDTotal(try #require(USD("4.04")))])
        let report = try LiteLLMAPIBodyTests.audit(["openai/costs-page.json"])
        #expect(report.summary.bucketWidths == [86_400: 14])
        #expect(report.summary.first == (try Self.time("2026-11-01T17:00:00Z")))  // noon in New York (UTC-5 since 02:00 on the 1st)
    }

    @Test func focusRowsLandOnTheirDatesAndHourlyRowsInTheirLocalHour() throws {
        let azure = try Self.days(["focus/azure-openai-focus.csv"])
        #expect(azure.keys.sorted() == ["2026-11-01", "2026-11-02", "2026-11-03"])
        // AWS's hourly rows from 03:00Z on the 1st are the evening of October 31 in New York.
        let aws = try Self.days(["focus/aws-bedrock-focus.csv"])
        #expect(aws.keys.sorted() == ["2026-10-31", "2026-11-10", "2026-11-20"])
    }

    @Test func aBucketWiderThanABudgetWindowIsReported() throws {
        let yaml = """
            version: 1
            settings: {timezone: America/New_York}
            models:
              gpt-5: {provider: openai, tier: frontier, price: {input: 1.25, output: 10}, aliases: [gpt-5-2025-08-07]}
            teams:
              search: {aliases: [proj_Xq3vN8rT2kLm7PwY4sBd9GhJ]}
            budgets:
              - id: hourly
                scope: team
                period: hour
                limit: 1
              - id: monthly
                scope: team
                period: month
                limit: 1000

            """
        let policy = try #require(load(yaml).policy)
        var options = AuditOptions()
        options.temporaryDirectory = NSTemporaryDirectory()
        let report = try Auditor(policy: try CompiledPolicy(policy), options: options)
            .run([LiteLLMAPIBodyTests.export("openai/costs-page.json")])
        #expect(report.warnings.count == 1)
        let warning = try #require(report.warnings.first)
        #expect(warning.hasPrefix("budget hourly (policy.yaml:"))
        #expect(warning.contains("has a window of one hour, narrower than 14 aggregated records (buckets up to 1 day wide)"))
        // Exact timestamps (LiteLLM requests) are not buckets: no warning.
        let requests = try Auditor(policy: try CompiledPolicy(policy), options: options)
            .run([LiteLLMAPIBodyTests.export("litellm/spend-logs-v1.json")])
        #expect(requests.warnings.isEmpty && requests.summary.bucketWidths.isEmpty)
    }

    /// A bucket is many requests: `max_request_cost` (a limit on one) is not checked on it, whether
    /// the log streams or has to be sorted on disk first (the sort's run files keep the mark).
    @Test func aBucketIsNotOneRequest() throws {
        let policy = try TierPricingTests.shippedPolicy()
        let streamed = try LiteLLMAPIBodyTests.audit(["openai/costs-page.json", "openai/usage-completions-page.json"])
        #expect(!streamed.summary.sorted)
        #expect(!streamed.byRule.contains { $0.name == "max-request-cost" }, "\(streamed.byRule.map(\.name))")
        // The page's buckets as JSON lines in reverse order, padded so that each is read in a
        // chunk of its own (4 MiB), so a batch of its own: sorted on disk.
        let page = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: LiteLLMAPIBodyTests.export("openai/costs-page.json"))))
        let buckets = try #require((page as? [String: Any])?["data"] as? [[String: Any]])
        let lines = try buckets.reversed().map { bucket in
            var padded = bucket
            padded["x_padding"] = String(repeating: "p", count: 3_000_000)
            return String(decoding: try JSONSerialization.data(withJSONObject: padded), as: UTF8.self)
        }
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        try (lines.joined(separator: "\n") + "\n").write(toFile: directory + "/reversed.json", atomically: true, encoding: .utf8)
        var options = AuditOptions()
        options.temporaryDirectory = directory
        options.logs.batchSize = 1
        options.logs.format = .openaiUsage  // the padding may come first in a bucket: nothing to detect in 64 KiB
        options.runSize = 4
        let sorted = try Auditor(policy: policy, options: options).run([directory + "/reversed.json"])
        #expect(sorted.summary.sorted)
        #expect(sorted.summary.records == 14)
        #expect(!sorted.byRule.contains { $0.name == "max-request-cost" }, "\(sorted.byRule.map(\.name))")
        #expect(sorted.summary.totalSpend == USDTotal(try #require(USD("11.405"))))
    }

    @Test func aSortRunKeepsTheAggregateMark() throws {
        let request = #"{"model":"gpt-5","timestamp":"2026-11-01T17:00:00Z","cost":2.12}"#
        let aggregate = try #require(RunSource.decode(ArraySlice(Array("7\tlog.csv\t12a\t\(request)".utf8))))
        #expect(aggregate.request.isAggregate && aggregate.location.line == 12)
        let single = try #require(RunSource.decode(ArraySlice(Array("7\tlog.csv\t12\t\(request)".utf8))))
        #expect(!single.request.isAggregate && single.location.line == 12)
        #expect(RunSource.decode(ArraySlice(Array("7\tlog.csv\t12b\t\(request)".utf8))) == nil)
    }
}
