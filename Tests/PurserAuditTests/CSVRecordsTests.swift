import CSV
import Foundation
import Testing
import PurserAudit
import Purser
import PurserTestSupport

@Suite("CSV record splitter")
struct CSVRecordsTests {
    /// Every record of a CSV text: (line, fields) and (line, problem).
    static func split(_ bytes: [UInt8], limit: Int = 1 << 20) throws -> (records: [(Int, [String])], problems: [(Int, String)]) {
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        let path = directory + "/data.csv"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        var splitter = CSVRecords(file: try LogFile(path), limit: limit)
        var records: [(Int, [String])] = []
        var problems: [(Int, String)] = []
        let scratch = ScratchBuffer(capacity: 16)
        while try splitter.next({ record in
            records.append((record.line, (0..<record.count).map { index in
                record.withText(index, scratch: scratch) { String(decoding: $0, as: UTF8.self) }
            }))
        }, malformed: { problems.append(($0, $1)) }) {}
        return (records, problems)
    }

    @Test(arguments: [
        ("a,b\n1,2\n", [(1, ["a", "b"]), (2, ["1", "2"])]),
        ("a,b\r\n1,2\r\n", [(1, ["a", "b"]), (2, ["1", "2"])]),
        ("a,b\n1,2", [(1, ["a", "b"]), (2, ["1", "2"])]),  // no final line break
        ("\u{FEFF}a,b\n", [(1, ["a", "b"])]),
        ("\"x\ny\",\"q\"\"q\"\n2,3\n", [(1, ["x\ny", "q\"q"]), (3, ["2", "3"])]),
        ("\"a\r\nb\",c\r\n\r\n\n,\n", [(1, ["a\r\nb", "c"]), (5, ["", ""])]),  // blank lines are skipped
        ("\"\",\"\"\"\"\n", [(1, ["", "\""])]),
        ("", []),
    ])
    func splits(_ example: (String, [(Int, [String])])) throws {
        let result = try Self.split(Array(example.0.utf8))
        #expect(result.problems.isEmpty)
        #expect(result.records.map(\.0) == example.1.map(\.0))
        #expect(result.records.map(\.1) == example.1.map(\.1))
    }

    @Test(arguments: [
        ("a,b\"c\n1,2\n", 1, "a quote inside unquoted field 2"),
        ("\"a\"b,c\n1,2\n", 1, "text after the closing quote of field 1"),
        ("a,b\n\"open,2\n3,4\n", 2, "the file ends inside a quoted field"),
    ])
    func reportsBadRecordsAndGoesOn(_ example: (String, Int, String)) throws {
        let result = try Self.split(Array(example.0.utf8))
        #expect(result.problems.map(\.0) == [example.1])
        #expect(result.problems.first?.1.contains(example.2) == true, "\(result.problems)")
    }

    @Test func hugeFieldIsOneProblemInBoundedMemory() throws {
        // A 100 MB quoted field (with line breaks inside) between two good records.
        var bytes = Array("h1,h2\nbefore,1\n\"".utf8)
        let block = [UInt8](repeating: UInt8(ascii: "x"), count: 1 << 20 - 1) + [0x0A]
        for _ in 0..<100 { bytes += block }
        bytes += Array("\",2\nafter,3\n".utf8)
        let result = try Self.split(bytes, limit: 1 << 20)
        #expect(result.records.map(\.1) == [["h1", "h2"], ["before", "1"], ["after", "3"]])
        #expect(result.records.last?.0 == 104)  // the huge record spans lines 3-103
        #expect(result.problems.count == 1)
        #expect(result.problems.first?.0 == 3)
    }

    @Test func recordsAcrossChunkBoundaries() throws {
        // Records of every length around the 4 MiB chunk edge, with doubled quotes and line breaks.
        var text = "id,text\n"
        var expected: [[String]] = [["id", "text"]]
        var index = 0
        while text.utf8.count < CSVRecords.chunkSize + 200_000 {
            let value = String(repeating: "v", count: index % 97) + (index % 3 == 0 ? "\"\"q\n" : "")
            text += "\(index),\"\(value)\"\r\n"
            expected.append([String(index), value.replacingOccurrences(of: "\"\"", with: "\"")])
            index += 1
        }
        let result = try Self.split(Array(text.utf8))
        #expect(result.problems.isEmpty)
        #expect(result.records.map(\.1) == expected)
    }

    /// Differential check against yaslab/CSV.swift on tricky well-formed input.
    @Test(arguments: [
        "a,b,c\n1,\"two, three\",4\n",
        "x,y\n\"multi\nline\",\"with \"\"quotes\"\"\"\n\"\",\n",
        "p,q\r\n\"crlf\r\ninside\",2\r\nlast,row",
        "k,v\n\"{\"\"a\"\": [1, 2], \"\"b\"\": \"\"c,d\"\"}\",json\n",
    ])
    func agreesWithCSVSwift(_ text: String) throws {
        let ours = try Self.split(Array(text.utf8)).records.map(\.1)
        let reader = try CSVReader(string: text)
        var theirs: [[String]] = []
        while let row = reader.next() { theirs.append(row) }
        #expect(ours == theirs)
    }
}
