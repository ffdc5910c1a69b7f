import Foundation
import Purser
@testable import PurserDecisionLog
import Testing

/// Each way a log can be changed after it was written, and the first problem the verifier names.
@Suite("Decision log: tampering")
struct DecisionLogTamperingTests {
    /// A closed log of 30 events with checkpoints every 10 lines (33 lines: a checkpoint after every 10 events, the last one closing the file).
    private static func written() throws -> (LogFixture, String) {
        let fixture = try LogFixture()
        let files = try fixture.write(30, options: LogFixture.options(checkpointEvery: 10))
        return (fixture, try #require(files.first))
    }

    /// Applies `change` to the file's lines and returns the verifier's first problem.
    private static func problem(after change: (inout [String]) throws -> Void) throws -> (DecisionLogProblem?, String) {
        let (fixture, file) = try written()
        defer { fixture.remove() }
        var lines = try LogFixture.wholeLines(file)
        try change(&lines)
        try LogFixture.write(lines, to: file)
        return (try fixture.verify().problem, file)
    }

    @Test func anEditedByteIsNamedAtItsLine() throws {
        let (problem, file) = try Self.problem { lines in lines[4] = lines[4].replacingOccurrences(of: "payments", with: "paymentz") }
        #expect(problem?.file == file)
        #expect(problem?.line == 5)
        #expect(problem?.message.contains("changed after it was written") == true)
    }

    @Test func aDeletedLineIsNamedAsMissing() throws {
        let (problem, _) = try Self.problem { lines in lines.remove(at: 4) }
        #expect(problem?.line == 5)
        #expect(problem?.message.contains("seq 6 where 5 was expected: 1 line is missing") == true)
    }

    @Test func swappedLinesAreNamedAsOutOfOrder() throws {
        let (problem, _) = try Self.problem { lines in lines.swapAt(4, 5) }
        #expect(problem?.line == 5)
        #expect(problem?.message.contains("seq 6 comes before seq 5") == true)
    }

    @Test func aFileTruncatedMidLineIsNamed() throws {
        let (fixture, file) = try Self.written()
        defer { fixture.remove() }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        // Cut inside line 25 (the lines are of similar length).
        let lines = try LogFixture.wholeLines(file)
        let cut = lines[0..<24].reduce(0) { $0 + $1.utf8.count + 1 } + 30
        try bytes.prefix(cut).write(to: URL(fileURLWithPath: file))
        let problem = try fixture.verify().problem
        #expect(problem?.line == 25)
        #expect(problem?.message.contains("the last line is incomplete (30 bytes without a line feed)") == true)
        #expect(problem?.message.contains("the chain verifies through seq 22") == true)
        #expect(problem?.message.contains("the last 2 lines after it are not signed") == true)
    }

    @Test func aDroppedClosingCheckpointLeavesTheTailUnsigned() throws {
        let (problem, _) = try Self.problem { lines in lines.removeLast() }
        // Lines 1–22 are covered by the checkpoint at line 22; 23–32 are not.
        #expect(problem?.line == 23)
        #expect(problem?.message.contains("the chain verifies through seq 22 (the checkpoint at") == true)
        #expect(problem?.message.contains("the last 10 lines after it are not signed") == true)
    }

    @Test func aChainReHashedWithoutTheKeyFailsAtTheNextCheckpoint() throws {
        let (problem, _) = try Self.problem { lines in
            lines[14] = lines[14].replacingOccurrences(of: "payments", with: "marketing")
            // Recompute every prev after it, as someone with SHA-256 but not the key can.
            for index in 15..<lines.count {
                let hash = DecisionLogFormat.hash(Array(lines[index - 1].utf8))
                let old = try #require(stringField("prev", of: lines[index]))
                lines[index] = lines[index].replacingOccurrences(of: old, with: hash)
            }
        }
        #expect(problem?.line == 22)
        #expect(problem?.message.contains("signature does not verify with key k1") == true)
    }

    @Test func aWrongPublicKeyOrAnUnknownKeyIDFails() throws {
        let (fixture, _) = try Self.written()
        defer { fixture.remove() }
        let impostor = try DecisionLogSigningKey.generate(keyID: "k1").publicKey
        let wrong = try fixture.verify([impostor]).problem
        #expect(wrong?.line == 11)
        #expect(wrong?.message.contains("does not verify with key k1") == true)
        let other = try DecisionLogSigningKey.generate(keyID: "k2").publicKey
        let unknown = try fixture.verify([other]).problem
        #expect(unknown?.line == 11)
        #expect(unknown?.message.contains("signed by key id k1, and no public key with that id was given (given: k2)") == true)
    }

    @Test func rotatedKeysVerifyTogether() throws {
        let fixture = try LogFixture(keyID: "k1")
        defer { fixture.remove() }
        try fixture.write(5)
        let second = try DecisionLogSigningKey.generate(keyID: "k2")
        try fixture.write(5, from: 5, key: second)
        let report = try fixture.verify([fixture.key.publicKey, second.publicKey])
        #expect(report.problem == nil)
        #expect(report.keyIDs == ["k1", "k2"])
        #expect(try fixture.verify([fixture.key.publicKey]).problem?.message.contains("key id k2") == true)
    }

    @Test func aDeletedMiddleFileIsNamedAtTheNextFile() throws {
        let fixture = try LogFixture()
        defer { fixture.remove() }
        let files = try fixture.write(200, options: LogFixture.options(maxFileBytes: 4096, checkpointEvery: 50))
        try #require(files.count >= 3)
        let kept = files.enumerated().filter { $0.offset != 1 }.map(\.element)
        let problem = try fixture.verify(files: kept).problem
        #expect(problem?.file == files[2])
        #expect(problem?.line == 1)
        #expect(problem?.message.contains("missing between the two files (a deleted file?)") == true)
        // Given out of order, the files do not chain either.
        #expect(try fixture.verify(files: [files[1], files[0]]).problem != nil)
    }

    @Test func aCrashedFileIsFollowedByARestartLineAndTheWholeLogVerifies() throws {
        let fixture = try LogFixture()
        defer { fixture.remove() }
        do {
            let log = try fixture.open(LogFixture.options(checkpointEvery: 10))
            for n in 0..<15 { try log.append(event: "authorize", time: LogFixture.start, payload: Array("{\"n\":\(n)}".utf8)) }
            try log.flush()
            // Dropped without close: as after kill -9 (with its buffer written), then a torn write.
        }
        let crashed = try #require(try fixture.files().first)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: crashed))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"v":1,"seq":17,"ti"#.utf8))
        try handle.close()
        #expect(try fixture.verify().problem?.message.contains("the last line is incomplete") == true)

        try fixture.write(3, from: 15)
        let files = try fixture.files()
        #expect(files.count == 2)
        let restart = try #require(try LogFixture.wholeLines(files[1]).first)
        #expect(stringField("event", of: restart) == "restart")
        #expect(restart.contains(#""data":{"file":"decisions-2026-12-07-0001.jsonl","whole_lines":16,"dropped_bytes":19}"#))
        let report = try fixture.verify()
        #expect(report.problem == nil)
        #expect(report.notes.contains { $0.contains("the writer restarted after") })
        // The crashed file alone still ends unsigned.
        #expect(try fixture.verify(files: [files[0]]).problem != nil)
    }

    @Test func aWriterRefusesToContinueATamperedChain() throws {
        let (fixture, file) = try Self.written()
        defer { fixture.remove() }
        var lines = try LogFixture.wholeLines(file)
        lines.remove(at: 3)
        try LogFixture.write(lines, to: file)
        #expect {
            _ = try fixture.open()
        } throws: { error in
            (error as? DecisionLogError)?.message.contains("cannot continue the decision log") == true
        }
    }
}
