import Foundation
import Testing
import PurserAudit
import Purser
import PurserTestSupport

/// LiteLLM CSV rows with columns Purser does not read that are longer than the record-size
/// limit (docs/importers.md, "Limits"): the long-context calls, the most expensive ones,
/// are counted; only the columns read are held to the limit, and a message that names the
/// limit says which column and how big.
@Suite("Long CSV records")
struct LongCSVRecordTests {
    /// `spend` and `status` come after `messages`: the columns after a long one are read right.
    static let header = "request_id,prompt_tokens,completion_tokens,startTime,model,metadata,messages,spend,status\n"

    /// One row; `messages` is written as a quoted CSV field.
    static func row(_ id: String, spend: String, minute: Int, metadata: String = "{}", messages: String) -> String {
        func quoted(_ text: String) -> String { "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
        return "\(id),100,100,2026-11-02 10:\(String(format: "%02d", minute)):00.000000,gpt-5-mini,\(quoted(metadata)),\(quoted(messages)),\(spend),success\n"
    }

    /// A long conversation: quotes, commas and line breaks, `bytes` long or a little more.
    static func conversation(_ bytes: Int) -> String {
        let turn = "{\"role\": \"user\", \"content\": \"Summarise, please:\nline \\\"two\\\"\"},"
        return "[" + String(repeating: turn, count: bytes / turn.utf8.count + 1) + "{}]"
    }

    /// Reads a whole log; its records' costs and its malformed entries.
    static func read(_ text: String) throws -> (costs: [USD], lines: [Int], ids: [String], malformed: [MalformedRecord]) {
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        let path = directory + "/spend.csv"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        var options = UsageLogOptions()
        options.format = .litellm
        let reader = try UsageLogs.open(path, options: options)
        var costs: [USD] = []
        var lines: [Int] = []
        var ids: [String] = []
        var malformed: [MalformedRecord] = []
        while let batch = try reader.next() {
            costs += batch.records.map { $0.request.cost ?? .zero }
            lines += batch.records.map(\.location.line)
            ids += batch.records.map { $0.request.id ?? "" }
            malformed += batch.malformed
        }
        return (costs, lines, ids, malformed)
    }

    /// A 1.2 MB `messages` (inside one read chunk) and a 9 MB one (longer than a chunk: streamed
    /// through) are counted with every other row, and the line numbers after them stay right.
    @Test(arguments: [1_200_000, 9_000_000])
    func aLongColumnPurserDoesNotReadIsStreamedPast(_ size: Int) throws {
        let long = Self.conversation(size)
        let newlines = long.filter { $0 == "\n" }.count
        let text = Self.header + Self.row("a", spend: "0.03", minute: 1, messages: "[]")
            + Self.row("b", spend: "45.75", minute: 2, messages: long)
            + Self.row("c", spend: "0.03", minute: 3, messages: "[\"short\"]")
        let read = try Self.read(text)
        #expect(read.malformed.isEmpty, "\(read.malformed.map(\.message))")
        #expect(read.costs.reduce(into: USDTotal.zero) { $0 += $1 } == USD("45.81"))
        #expect(read.lines == [2, 3, 4 + newlines])
        #expect(read.ids == ["a", "b", "c"])
    }

    /// A column Purser reads is still held to the limit, and the message names it and its size.
    @Test(arguments: [1_500_000, 9_000_000])
    func aLongColumnPurserReadsIsReportedByName(_ size: Int) throws {
        let metadata = "{\"note\": \"" + String(repeating: "x", count: size) + "\"}"
        let text = Self.header + Self.row("a", spend: "0.03", minute: 1, metadata: metadata, messages: "[]")
            + Self.row("b", spend: "0.04", minute: 2, messages: "[]")
        let read = try Self.read(text)
        #expect(read.costs == [USD("0.04")].compactMap { $0 })
        #expect(read.lines == [3])
        let message = try #require(read.malformed.first?.message)
        // The size is the field's bytes in the file (quotes doubled).
        let size = metadata.replacingOccurrences(of: "\"", with: "\"\"").utf8.count
        #expect(message == "column \"metadata\" is \(size) bytes, longer than the field-size limit (1048576 bytes)")
        #expect(read.malformed.first?.location.line == 2)
    }

    /// FOCUS too: a long column it does not read (`BillingAccountName` here) is streamed past.
    @Test func aLongFOCUSColumnPurserDoesNotReadIsStreamedPast() throws {
        let sample = try String(contentsOfFile: repositoryRoot + "/examples/samples/focus-1.0.csv", encoding: .utf8)
        let lines = sample.split(separator: "\n").map(String.init)
        let long = "\"" + String(repeating: "Acme, \"\"the\"\" corp\n", count: 300_000) + "\""
        let text = lines[0] + "\n" + lines[1].replacingOccurrences(of: "Acme Corp", with: long) + "\n" + lines[2] + "\n"
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        try Data(text.utf8).write(to: URL(fileURLWithPath: directory + "/focus.csv"))
        var options = UsageLogOptions()
        options.format = .focus
        let reader = try UsageLogs.open(directory + "/focus.csv", options: options)
        var costs: [USD] = []
        var malformed: [MalformedRecord] = []
        while let batch = try reader.next() {
            costs += batch.records.map { $0.request.cost ?? .zero }
            malformed += batch.malformed
        }
        #expect(malformed.isEmpty, "\(malformed.map(\.message))")
        #expect(costs == [USD("12.75"), USD("9.3")].compactMap { $0 })
    }
}
