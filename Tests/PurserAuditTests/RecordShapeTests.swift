import Foundation
import Testing
import PurserAudit
import Purser
import PurserTestSupport

/// The tables a reader keeps of the names it has seen (see ``RecordShape``), and
/// the order of records within a batch.
@Suite("Record shapes")
struct RecordShapeTests {
    /// A key of one user field with the raw JSON `value`, in `table`'s scratch space.
    static func userKey(_ table: ShapeTable<ShapedUser>, _ value: String) -> ShapeKey {
        var key = ShapeKey(table.scratch)
        let bytes = Array(value.utf8)
        let appended = bytes.withUnsafeBufferPointer { key.append(.user, $0) }
        #expect(appended)
        return key
    }

    @Test func aTableFindsWhatItMadeAndMakesNoMorePastItsLimit() {
        let table = ShapeTable<ShapedUser>(limit: 2)
        for name in ["alice", "bob"] {
            let key = Self.userKey(table, "\"\(name)\"")
            #expect(table.entry(key, hash: key.hash) == nil)
            let made = table.insert(ShapedUser(key: key.bytes, hash: key.hash, user: name, tests: 0))
            #expect(made?.takeUnretainedValue().user == name)
        }
        #expect(table.isFull)
        let carol = Self.userKey(table, "\"carol\"")
        #expect(table.insert(ShapedUser(key: carol.bytes, hash: carol.hash, user: "carol", tests: 0)) == nil)
        #expect(table.entry(carol, hash: carol.hash) == nil)
        // What it made is still found, by exact bytes only.
        for name in ["alice", "bob"] {
            let key = Self.userKey(table, "\"\(name)\"")
            #expect(table.entry(key, hash: key.hash)?.takeUnretainedValue().user == name)
        }
        let spaced = Self.userKey(table, "\"alice\" ")
        #expect(table.entry(spaced, hash: spaced.hash) == nil)
    }

    /// A log with more users than the reader's tables take: lines with names the tables
    /// know are read by their names, the others in full, and every record is the one
    /// the full decoder reads.
    @Test func linesWithNamesPastTheTableLimitAreDecodedInFull() throws {
        let policySet = try #require(PolicySet.load(paths: [repositoryRoot + "/policies"]).policy)
        var options = UsageGenerator.Options()
        options.records = 3000
        options.seed = 9
        let requests = UsageGenerator(policy: policySet, options: options).records().enumerated().map { index, request in
            var request = request
            // A few repeated users first, then one new user per line.
            request.user = index < 1000 ? "user-\(index % 10)" : "user-\(index)"
            return request
        }
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        let log = directory + "/usage.jsonl"
        try Data((requests.map(AssessmentPlanTests.line).joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: log))

        let policy = try CompiledPolicy(policySet)
        let evaluator = Evaluator(policy: policy)
        let preparation = ShapedPreparation(evaluator: evaluator, plans: PlanCache(shapeLimit: 1000), tests: try #require(PlanTests(policy: policy)),
                                            countersPerRecord: 512)
        var logOptions = UsageLogOptions()
        logOptions.batchSize = 250
        let shapedReader = PurserLogReader(file: try LogFile(log), options: logOptions)
        let fullReader = PurserLogReader(file: try LogFile(log), options: logOptions)
        var (records, shaped) = (0, 0)
        while let chunk = try shapedReader.nextChunk() {
            let fullChunk = try #require(try fullReader.nextChunk())
            let batch = shapedReader.decode(chunk, preparing: preparation)
            let full = fullReader.decode(fullChunk)
            try #require(batch.records.count == full.records.count)
            #expect(batch.malformed.isEmpty)
            for (record, expected) in zip(batch.records, full.records) {
                records += 1
                let request: Request
                if case .shaped(let known)? = record.plannedRequest {
                    shaped += 1
                    request = known.request(at: record.timestamp)
                } else {
                    var record = record
                    let taken = record.takeRequest()
                    request = try #require(taken)
                    // Prepared in full, as the audit does: this makes the plans later records find.
                    let resolved = evaluator.resolve(request, now: record.timestamp)
                    _ = PreparedEvaluation(resolved, evaluator: evaluator, plans: preparation.plans,
                                           key: evaluator.planKey(resolved, tests: preparation.tests))
                }
                #expect(request == expected.request, "\(record.location)")
                #expect(record.location == expected.location)
            }
        }
        #expect(records == requests.count)
        #expect(preparation.plans.shapes.users.isFull)
        // The first thousand lines repeat ten users: many of them are read by their names; after
        // them every line has a new user, read in full.
        #expect(shaped > 300 && shaped <= 1000, "\(shaped) of \(records) read by their names")
    }

    @Test func aBatchIsSortedByTimeKeepingFileOrderForTies() {
        let seconds: [Int64] = [5, 3, 3, 9, 1, 5, 3, 0, 9, 2]
        var records = seconds.enumerated().map { line, second in
            UsageRecord(request: Request(timestamp: Timestamp(nanoseconds: second * 1_000_000_000), model: "m"),
                        location: RecordLocation(file: "usage.jsonl", line: line + 1))
        }
        BatchOrder.sort(&records)
        let expected = seconds.enumerated().sorted { ($0.element, $0.offset) < ($1.element, $1.offset) }.map { $0.offset + 1 }
        #expect(records.map(\.location.line) == expected)
        #expect(records.map(\.request.model) == Array(repeating: "m", count: seconds.count))
    }

    /// The id values the shaped scan keeps as bytes (short, plain) and those it decodes at
    /// once: either way it reads the id the full decoder reads, or fails as it fails.
    @Test(arguments: [
        (#""""#, true), (#""r""#, true), (#""req-00000001""#, true), (#""0123456789abcdef""#, true),
        (#""0123456789abcdefg""#, false), (#""caf\u00e9""#, false), (#""café""#, false), (#""a\"b""#, false),
        (#""a\\""#, false), ("null", false), (#""\#(String(repeating: "x", count: 2000))""#, false), ("17", false),
        ("\"\u{01}\"", false), ("\"abc", false),
    ])
    func anIdIsReadAsTheFullDecoderReadsIt(json: String, short: Bool) {
        let bytes = Array((json + ",").utf8)
        bytes.withUnsafeBufferPointer { buffer in
            var scanned = JSONScanner(buffer)
            var full = JSONScanner(buffer)
            let result = Result { () throws(JSONError) in try ScannedID.scan(&scanned) }
            let expected = Result { () throws(JSONError) in try RequestParser.id(&full) }
            switch (result, expected) {
            case (.success(let id), .success(let text)):
                #expect(id?.text == text)
                if case .short? = id { #expect(short) } else { #expect(!short) }
                #expect(scanned.index == full.index)
            case (.failure(let error), .failure(let fullError)):
                #expect(error == fullError)
                #expect(!short)
            default:
                Issue.record("\(json): \(result) but the full decoder gives \(expected)")
            }
        }
    }

    /// A record holds one stage of its audit at a time: its request until it is taken, then its
    /// prepared evaluation or its plan. Taking the request of a record that has none (a record
    /// planned while it was decoded) leaves the record as it was.
    @Test func aRecordGivesItsRequestOnceAndKeepsItsPlan() throws {
        let location = RecordLocation(file: "usage.jsonl", line: 7)
        var record = UsageRecord(request: Request(timestamp: Timestamp(seconds: 60), model: "gpt-5", cost: USD(nanos: 5)), location: location)
        #expect(record.request.model == "gpt-5")
        let first = record.takeRequest()
        let taken = try #require(first)
        #expect(taken.model == "gpt-5" && taken.cost == USD(nanos: 5))
        let second = record.takeRequest()
        #expect(second == nil)
        #expect(record.request.model == "")
        #expect(record.planned == nil && record.prepared == nil && record.plannedRequest == nil)

        let evaluator = Evaluator(policy: try CompiledPolicy(try #require(PolicySet.load(paths: [repositoryRoot + "/policies"]).policy)))
        let resolved = evaluator.resolve(taken, now: Timestamp(seconds: 60))
        let plan = PlannedRecord(team: 1, environment: 2, model: 3, day: 4, cost: USD(nanos: 5), start: 6, count: 7)
        var planned = UsageRecord(planned: plan, request: .resolved(resolved), timestamp: Timestamp(seconds: 60), location: location)
        let none = planned.takeRequest()
        #expect(none == nil)
        #expect(planned.planned?.count == 7 && planned.planned?.model == 3)
        #expect(planned.plannedRequest?.teamName == resolved.request.team)
        #expect(planned.timestamp == Timestamp(seconds: 60) && planned.location == location)

        record.prepared = PreparedEvaluation(resolved, evaluator: evaluator)
        #expect(record.prepared?.resolved.request.model == "gpt-5")
        let again = record.takeRequest()
        #expect(record.planned == nil && again == nil)
    }
}
