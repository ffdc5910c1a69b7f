import Foundation
import Purser
@testable import PurserDecisionLog
import Testing

/// A log directory of one test, with what the tests do to its files.
struct LogFixture {
    let directory: String
    let key: DecisionLogSigningKey

    static let start = Timestamp(rfc3339: "2026-12-07T10:00:00.123Z") ?? Timestamp(seconds: 0)

    init(keyID: String = "k1") throws {
        directory = NSTemporaryDirectory() + "purser-dlog-\(UUID().uuidString)"
        key = try DecisionLogSigningKey.generate(keyID: keyID)
    }

    /// Options with a fixed clock.
    static func options(maxFileBytes: Int = 64 << 20, checkpointEvery: Int = 1000) -> DecisionLog.Options {
        DecisionLog.Options(maxFileBytes: maxFileBytes, checkpointEvery: checkpointEvery, clock: ManualClock(start))
    }

    /// Opens the log.
    func open(_ options: DecisionLog.Options = LogFixture.options(), key: DecisionLogSigningKey? = nil) throws -> DecisionLog {
        try DecisionLog(directory: directory, key: key ?? self.key, options: options)
    }

    /// Writes `count` authorize events a millisecond apart, numbered from `from`, and closes the log.
    @discardableResult
    func write(_ count: Int, from: Int = 0, options: DecisionLog.Options = LogFixture.options(), key: DecisionLogSigningKey? = nil) throws -> [String] {
        let log = try open(options, key: key)
        for n in from..<(from + count) {
            try log.append(event: "authorize", time: Timestamp(nanoseconds: Self.start.nanoseconds + Int64(n) * 1_000_000),
                           payload: Array("{\"n\":\(n),\"team\":\"payments\"}".utf8))
        }
        try log.close()
        return try files()
    }

    /// The log files, oldest first.
    func files() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".jsonl") }.sorted().map { directory + "/" + $0 }
    }

    /// Verifies every file with the given keys (the fixture's by default).
    func verify(_ keys: [DecisionLogPublicKey]? = nil, files: [String]? = nil) throws -> DecisionLogVerification {
        try DecisionLogVerifier.verify(files: files ?? self.files(), publicKeys: keys ?? [key.publicKey])
    }

    /// A file's lines, without their newlines.
    static func lines(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    /// Writes lines back, each with a newline.
    static func write(_ lines: [String], to path: String) throws {
        try Data(lines.map { $0 + "\n" }.joined().utf8).write(to: URL(fileURLWithPath: path))
    }

    /// A file's whole lines (the empty string after the last newline dropped).
    static func wholeLines(_ path: String) throws -> [String] {
        var lines = try lines(path)
        if lines.last == "" { lines.removeLast() }
        return lines
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

/// The value of an integer field of a line.
func field(_ name: String, of line: String) -> Int? {
    guard let range = line.range(of: "\"\(name)\":") else { return nil }
    return Int(line[range.upperBound...].prefix { $0.isNumber })
}

/// The value of a string field of a line.
func stringField(_ name: String, of line: String) -> String? {
    guard let range = line.range(of: "\"\(name)\":\"") else { return nil }
    return String(line[range.upperBound...].prefix { $0 != "\"" })
}

@Suite("Decision log: writing and verifying")
struct DecisionLogWritingTests {
    @Test func aWrittenLogVerifiesWithCheckpointsEveryNLines() throws {
        let fixture = try LogFixture()
        defer { fixture.remove() }
        let files = try fixture.write(2500)
        #expect(files.count == 1)
        let lines = try LogFixture.wholeLines(files[0])
        #expect(lines.count == 2503)
        #expect(lines[0] == #"{"v":1,"seq":1,"time":"2026-12-07T10:00:00.123Z","event":"authorize","data":{"n":0,"team":"payments"},"prev":"\#(String(repeating: "0", count: 64))"}"#)
        #expect(stringField("event", of: lines[1000]) == "checkpoint")
        #expect(field("lines", of: lines[1000]) == 1000)
        #expect(stringField("event", of: lines[2502]) == "checkpoint")
        #expect(field("lines", of: lines[2502]) == 500)
        for (index, line) in lines.enumerated() {
            #expect(field("seq", of: line) == index + 1)
            if index > 0 { #expect(stringField("prev", of: line) == DecisionLogFormat.hash(Array(lines[index - 1].utf8))) }
        }
        let report = try fixture.verify()
        #expect(report.problem == nil)
        #expect(report.lines == 2503)
        #expect(report.checkpoints == 3)
        #expect(report.keyIDs == ["k1"])
    }

    @Test func filesRotateBySizeAndEachEndsWithACheckpoint() throws {
        let fixture = try LogFixture()
        defer { fixture.remove() }
        let files = try fixture.write(300, options: LogFixture.options(maxFileBytes: 4096, checkpointEvery: 50))
        #expect(files.count > 3)
        for (index, file) in files.enumerated() {
            let size = try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int ?? .max
            #expect(size <= 4096)
            let lines = try LogFixture.wholeLines(file)
            #expect(stringField("event", of: lines[lines.count - 1]) == "checkpoint")
            #expect(file.hasSuffix(String(format: "decisions-2026-12-07-%04d.jsonl", index + 1)))
            if index > 0 {
                let previous = try LogFixture.wholeLines(files[index - 1])
                #expect(stringField("prev", of: lines[0]) == DecisionLogFormat.hash(Array(previous[previous.count - 1].utf8)))
            }
        }
        let report = try fixture.verify()
        #expect(report.problem == nil)
        #expect(report.files == files.count)
    }

    @Test func filesRotateAtMidnightUTC() throws {
        let fixture = try LogFixture()
        defer { fixture.remove() }
        let log = try fixture.open()
        for time in ["2026-12-07T23:59:59.9Z", "2026-12-08T00:00:00Z", "2026-12-08T00:00:01Z", "2026-12-07T23:59:59.99Z"] {
            try log.append(event: "settle", time: try #require(Timestamp(rfc3339: time)), payload: Array(#"{"id":"r1"}"#.utf8))
        }
        try log.close()
        let names = try fixture.files().map { $0.split(separator: "/").last.map(String.init) ?? "" }
        // A late time (the last) stays in the newer day's file: days never go back.
        #expect(names == ["decisions-2026-12-07-0001.jsonl", "decisions-2026-12-08-0001.jsonl"])
        #expect(try LogFixture.wholeLines(try fixture.files()[1]).count == 4)
        #expect(try fixture.verify().problem == nil)
    }

    @Test func reopeningContinuesTheChainInTheSameFile() throws {
        let fixture = try LogFixture()
        defer { fixture.remove() }
        try fixture.write(10)
        let files = try fixture.write(10, from: 10)
        #expect(files.count == 1)
        let lines = try LogFixture.wholeLines(files[0])
        #expect(lines.count == 22)
        #expect(field("seq", of: lines[11]) == 12)
        #expect(field("n", of: lines[11]) == 10)
        let report = try fixture.verify()
        #expect(report.problem == nil)
        #expect(report.checkpoints == 2)
    }

    @Test func aSecondWriterOfTheSameDirectoryIsRefused() throws {
        let fixture = try LogFixture()
        defer { fixture.remove() }
        let first = try fixture.open()
        #expect {
            _ = try fixture.open()
        } throws: { error in
            (error as? DecisionLogError)?.message.contains("another process is writing") == true
        }
        try first.close()
        try fixture.open().close()
    }

    @Test func concurrentAppendsMakeOneChainWithNoLostOrRepeatedSeq() async throws {
        let fixture = try LogFixture()
        defer { fixture.remove() }
        let log = try fixture.open(LogFixture.options(checkpointEvery: 97))
        let tasks = 16, each = 300
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<tasks {
                group.addTask {
                    for n in 0..<each {
                        try log.append(event: "authorize", time: LogFixture.start, payload: Array("{\"task\":\(task),\"n\":\(n)}".utf8))
                    }
                }
            }
            try await group.waitForAll()
        }
        try log.close()
        let lines = try fixture.files().flatMap { try LogFixture.wholeLines($0) }
        #expect(lines.map { field("seq", of: $0) } == (1...lines.count).map { $0 })
        let events = lines.filter { stringField("event", of: $0) == "authorize" }.map { "\(field("task", of: $0) ?? -1)/\(field("n", of: $0) ?? -1)" }
        #expect(events.count == tasks * each)
        #expect(Set(events).count == tasks * each)
        let report = try fixture.verify()
        #expect(report.problem == nil)
        #expect(report.checkpoints == (tasks * each) / 97 + 1)
    }

    @Test func standardOutputModeChainsAndSignsToo() throws {
        let fixture = try LogFixture()
        defer { fixture.remove() }
        try FileManager.default.createDirectory(atPath: fixture.directory, withIntermediateDirectories: true)
        let path = fixture.directory + "/stream.jsonl"
        let fd = open(path, O_WRONLY | O_CREAT, 0o600)
        defer { Foundation.close(fd) }
        let log = try DecisionLog(descriptor: fd, key: fixture.key, options: LogFixture.options(checkpointEvery: 3))
        for n in 0..<7 { try log.append(event: "evaluate", time: LogFixture.start, payload: Array("{\"n\":\(n)}".utf8)) }
        try log.close()
        #expect(try LogFixture.wholeLines(path).count == 10)
        #expect(try fixture.verify(files: [path]).problem == nil)
    }

    @Test func ocsfEventsCarryTheChainAndAnEditToEitherIsFound() throws {
        let fixture = try LogFixture()
        defer { fixture.remove() }
        try FileManager.default.createDirectory(atPath: fixture.directory, withIntermediateDirectories: true)
        let path = fixture.directory + "/stream.ocsf.jsonl"
        let fd = open(path, O_WRONLY | O_CREAT, 0o600)
        defer { Foundation.close(fd) }
        var options = LogFixture.options(checkpointEvery: 2)
        options.format = .ocsf
        let log = try DecisionLog(descriptor: fd, key: fixture.key, options: options)
        let payloads = [#"{"caller":"gateway","request":{"model":"m"},"decision":{"decision":"allow","decision_id":"d-1"}}"#,
                        #"{"caller":"gateway","request":{"model":"m"},"decision":{"decision":"deny","decision_id":"d-2"}}"#,
                        #"{"caller":"gateway","decision_id":"d-1","outcome":"settled"}"#]
        for (payload, event) in zip(payloads, ["authorize", "authorize", "settle"]) {
            try log.append(event: event, time: LogFixture.start, payload: Array(payload.utf8))
        }
        try log.close()
        let lines = try LogFixture.wholeLines(path)
        #expect(lines.count == 5)  // three events, a checkpoint after two, the closing one
        #expect(try fixture.verify(files: [path]).problem == nil)
        let events = try lines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        #expect(events.map { $0["class_uid"] as? Int } == Array(repeating: 6003, count: 5))
        #expect(events.map { $0["activity_id"] as? Int } == [1, 1, 99, 3, 99])
        #expect(events.map { $0["type_uid"] as? Int } == [600301, 600301, 600399, 600303, 600399])
        #expect(events.map { $0["status_id"] as? Int } == [1, 2, 1, 1, 1])
        #expect(events.map { ($0["metadata"] as? [String: Any])?["uid"] as? String } == ["d-1", "d-2", nil, "d-1", nil])
        #expect(events.map { (($0["actor"] as? [String: Any])?["user"] as? [String: Any])?["name"] as? String }
            == ["gateway", "gateway", "purser", "gateway", "purser"])
        #expect(events.allSatisfy { ($0["time"] as? Int) == Int(LogFixture.start.nanoseconds / 1_000_000) })
        // The chained line is the raw_data, byte for byte: the JSON lines form of the same log.
        let raw = events.compactMap { $0["raw_data"] as? String }
        #expect(raw.count == 5 && raw[0].hasPrefix(#"{"v":1,"seq":1,"#) && raw[0].contains(payloads[0]))

        // An edit to the chained line, or to the fields beside it, is found.
        for (field, from, to) in [("raw_data", #"\"deny\""#, #"\"allow\""#), ("status", "Denied", "Allowed")] {
            var edited = lines
            edited[1] = edited[1].replacingOccurrences(of: from, with: to)
            #expect(edited[1] != lines[1], "\(field)")
            try (edited.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            let problem = try #require(try fixture.verify(files: [path]).problem, "an edit to \(field) went unnoticed")
            #expect(problem.line == 2 || problem.line == 1, "\(problem)")
        }
        #expect(throws: DecisionLogError.self) { try DecisionLog(directory: fixture.directory + "/dir", key: fixture.key, options: options) }
    }

    @Test func aFullDiskThrowsANamedErrorAndTheLogTakesNoMore() throws {
        let fd = open("/dev/full", O_WRONLY)
        try #require(fd >= 0)
        defer { Foundation.close(fd) }
        let log = try DecisionLog(descriptor: fd, key: nil, options: LogFixture.options())
        try log.append(event: "authorize", time: LogFixture.start, payload: Array("{}".utf8))
        #expect {
            try log.flush()
        } throws: { error in
            (error as? DecisionLogError)?.message.contains("No space left on device") == true
        }
        #expect(throws: DecisionLogError.self) {
            try log.append(event: "authorize", time: LogFixture.start, payload: Array("{}".utf8))
        }
    }

    @Test func appendRefusesPayloadsThatAreNotOneCompactObjectAndReservedEvents() throws {
        let fixture = try LogFixture()
        defer { fixture.remove() }
        let log = try fixture.open()
        for payload in ["[1]", "{\"a\":1}\n", "{\"a\":1} {}", "{\"a\":", "\"x\""] {
            #expect(throws: DecisionLogError.self) { try log.append(event: "authorize", time: LogFixture.start, payload: Array(payload.utf8)) }
        }
        for event in ["checkpoint", "restart", "Authorize", "", "a\"b"] {
            #expect(throws: DecisionLogError.self) { try log.append(event: event, time: LogFixture.start, payload: Array("{}".utf8)) }
        }
        try log.close()
        #expect(try fixture.files().isEmpty)
    }
}

@Suite("Decision log: keys")
struct DecisionLogKeyTests {
    @Test func keyFilesRoundTripAndAPrivateKeyOthersCanReadIsRefused() throws {
        let fixture = try LogFixture(keyID: "gw-2026.12")
        defer { fixture.remove() }
        try FileManager.default.createDirectory(atPath: fixture.directory, withIntermediateDirectories: true)
        let privatePath = fixture.directory + "/key", publicPath = fixture.directory + "/key.pub"
        try fixture.key.write(to: privatePath)
        try fixture.key.publicKey.write(to: publicPath)
        #expect(try String(contentsOfFile: privatePath, encoding: .utf8).hasPrefix("purser-ed25519-private:gw-2026.12:"))
        let attributes = try FileManager.default.attributesOfItem(atPath: privatePath)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let read = try DecisionLogSigningKey.read(path: privatePath)
        #expect(read.keyID == "gw-2026.12")
        #expect(read.publicKey.bytes == fixture.key.publicKey.bytes)
        #expect(try DecisionLogPublicKey.read(path: publicPath).bytes == fixture.key.publicKey.bytes)
        #expect(throws: DecisionLogError.self) { try fixture.key.write(to: privatePath) }

        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: privatePath)
        #expect {
            _ = try DecisionLogSigningKey.read(path: privatePath)
        } throws: { error in
            (error as? DecisionLogError)?.message.contains("permissions 0644 for the private key file \(privatePath) are too open") == true
        }
        #expect(throws: DecisionLogError.self) { _ = try DecisionLogPublicKey.read(path: "/dev/zero") }
        #expect(throws: DecisionLogError.self) { _ = try DecisionLogSigningKey.generate(keyID: "bad id") }
    }

    @Test func base64RoundTripsAndRefusesNonCanonicalText() {
        for count in 0..<40 {
            let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            #expect(Base64.decode(Array(Base64.encode(bytes).utf8)) == bytes)
        }
        #expect(Base64.encode(Array("foobar".utf8)) == "Zm9vYmFy")
        #expect(Base64.encode(Array("fo".utf8)) == "Zm8=")
        #expect(Base64.decode(Array("Zm9=".utf8)) == nil)
        #expect(Base64.decode(Array("Zm8".utf8)) == nil)
        #expect(Base64.decode(Array("Z!8=".utf8)) == nil)
    }
}
