import Foundation
import Testing
import PurserAudit
import Purser
import PurserTestSupport

/// The CSV layer the LiteLLM and FOCUS importers share: the header row is read and checked
/// once, records after it go to the importer, and a header that cannot be read fails the log.
@Suite("CSV header layer")
struct HeaderedCSVTests {
    /// Columns named `time`, `cost` and (optionally) `note`; a header without `time` is refused.
    struct Columns: CSVColumns {
        let time: Int?
        let cost: Int?
        let note: Int?

        init(_ header: CSVHeader) {
            time = header.index("time", "timestamp")
            cost = header.index("cost")
            note = header.index("note")
        }

        var positions: [Int?] { [time, cost, note] }
        var headerProblem: String? { time == nil ? "the CSV header has no time column" : nil }
    }

    struct Read {
        var headers: [[String]] = []
        var records: [(line: Int, fields: [String])] = []
        var problems: [(line: Int, message: String)] = []
        var columns: Columns?
        var failure: UsageLogError?
    }

    /// Reads a whole CSV text, `batch` entries at a time.
    static func read(_ text: String, batch: Int = 2, limit: Int = 1 << 20, maps: [String] = []) throws -> Read {
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        let path = directory + "/data.csv"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        var mapping = FieldMapping()
        for rule in maps { try mapping.add(rule) }
        var table = HeaderedCSV<Columns>(file: try LogFile(path), limit: limit, mapping: mapping)
        var read = Read()
        let scratch = ScratchBuffer(capacity: 16)
        do throws(UsageLogError) {
            while !table.isAtEnd {
                var taken = 0
                try table.next(until: { taken >= batch }, header: { header, columns in
                    read.headers.append(header.names)
                    read.columns = columns
                }, { record in
                    taken += 1
                    read.records.append((record.line, (0..<record.count).map { index in
                        record.withText(index, scratch: scratch) { String(decoding: $0, as: UTF8.self) }
                    }))
                }, malformed: { line, message in
                    taken += 1
                    read.problems.append((line, message))
                })
            }
        } catch {
            read.failure = error
        }
        return read
    }

    @Test func theHeaderIsReadOnceAndTheRecordsFollowIt() throws {
        let read = try Self.read("\u{FEFF}\n note ,time,cost\na,2026-11-01,1\nb,2026-11-02,2\n\nc,2026-11-03,3\n", batch: 1)
        #expect(read.failure == nil)
        #expect(read.headers == [["note", "time", "cost"]])
        #expect(read.columns?.time == 1 && read.columns?.cost == 2 && read.columns?.note == 0)
        #expect(read.records.map(\.line) == [3, 4, 6])
        #expect(read.records.map(\.fields) == [["a", "2026-11-01", "1"], ["b", "2026-11-02", "2"], ["c", "2026-11-03", "3"]])
    }

    @Test func namesAreMatchedExactlyThenIgnoringCase() throws {
        let read = try Self.read("TIME,timestamp,Cost\n1,2,3\n")
        #expect(read.columns?.time == 1)
        #expect(read.columns?.cost == 2)
        #expect(read.columns?.note == nil)
    }

    @Test func aHeaderTheColumnsRefuseFailsTheLog() throws {
        let read = try Self.read("when,cost\n1,2\n")
        #expect(read.failure?.message == "the CSV header has no time column")
        #expect(read.headers.count == 1)
    }

    @Test func aRecordThatCannotBeReadBeforeTheHeaderFailsTheLog() throws {
        let read = try Self.read("\n\"time,cost\n")
        #expect(read.failure?.message == "line 2: the CSV header cannot be read: the file ends inside a quoted field (a truncated record?)")
        #expect(read.headers.isEmpty)
        // The importers have always taken the next well-formed record for the header then (and
        // refused it, as a header, for want of its columns).
        let next = try Self.read("ti\"me,cost\n1,2\n")
        #expect(next.failure?.message == "the CSV header has no time column")
        #expect(next.headers == [["1", "2"]])
    }

    @Test func recordsThatCannotBeReadAfterTheHeaderAreReportedAndSkipped() throws {
        let read = try Self.read("time,cost\n1,2\n3,\"4\"x\n5,6\n")
        #expect(read.failure == nil)
        #expect(read.records.map(\.line) == [2, 4])
        #expect(read.problems.map(\.line) == [3])
        #expect(read.problems.first?.message == "text after the closing quote of field 2")
    }

    @Test func onlyTheColumnsReadAndMappedAreHeldToTheLimit() throws {
        let long = String(repeating: "x", count: 200)
        // `other` is neither read nor mapped: it may be any length. `note` is read: it may not.
        let read = try Self.read("time,other,note\n1,\(long),short\n2,short,\(long)\n", limit: 64)
        #expect(read.records.map(\.line) == [2])
        #expect(read.problems.map(\.line) == [3])
        #expect(read.problems.first?.message.contains("column \"note\" is 200 bytes") == true, "\(read.problems)")
        let mapped = try Self.read("time,other\n1,\(long)\n", limit: 64, maps: ["team=other"])
        #expect(mapped.records.isEmpty)
        #expect(mapped.problems.first?.message.contains("column \"other\"") == true, "\(mapped.problems)")
    }

    @Test func aRecordOfAnotherWidthIsNamedAgainstTheHeader() throws {
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        let path = directory + "/data.csv"
        try Data("a,b,c\n1,2\n1,2,\"{\"\"k\"\":{\"\"n\"\":\"\"v\"\"}}\"\n".utf8).write(to: URL(fileURLWithPath: path))
        var records = CSVRecords(file: try LogFile(path), limit: 1 << 20)
        var header: CSVHeader?
        var problems: [String?] = []
        var values: [String?] = []
        let scratch = ScratchBuffer(capacity: 16)
        while try records.next({ record in
            guard let known = header else {
                header = CSVHeader(record)
                return
            }
            problems.append(CSVHeader.widthProblem(record, header: known))
            if record.count == 3, let path = FieldPath("c.k.n"), let whole = FieldPath("a"), let missing = FieldPath("d") {
                values.append(try? known.mappedValue(path, in: record, scratch: scratch))
                values.append(try? known.mappedValue(whole, in: record, scratch: scratch))
                values.append(try? known.mappedValue(missing, in: record, scratch: scratch) ?? "none")
            }
        }, malformed: { _, _ in }) {}
        #expect(problems == ["the record has 2 fields; the header has 3", nil])
        #expect(values == ["v", "1", "none"])
        #expect(try { () throws -> String? in
            // No header at all (a reader that never read one).
            var records = CSVRecords(file: try LogFile(path), limit: 1 << 20)
            var problem: String?
            while try records.next({ record in problem = problem ?? CSVHeader.widthProblem(record, header: nil) }, malformed: { _, _ in }) {}
            return problem
        }() == "the record has 3 fields; the header has 0")
    }
}
