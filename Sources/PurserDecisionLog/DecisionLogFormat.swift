import Crypto
import PurserCore

/// The bytes of docs/decision-log.md, "Lines": how a line is written, hashed and read back.
///
/// An event line:
///
///     {"v":1,"seq":N,"time":"T","event":"E","data":{…},"prev":"H"}
///
/// A checkpoint line, signed over ``signaturePrefix`` followed by its bytes up to `,"sig":`:
///
///     {"v":1,"seq":N,"time":"T","event":"checkpoint","key_id":"K","lines":L,"prev":"H","sig":"S"}
enum DecisionLogFormat {
    /// The format version every line carries as `"v"`.
    static let version: Int64 = 1
    /// The `prev` of the very first line: 64 zeros.
    static let zeroHash = String(repeating: "0", count: 64)
    /// The event of a checkpoint line.
    static let checkpointEvent = "checkpoint"
    /// The event of the line a writer starts with after finding an unfinished file.
    static let restartEvent = "restart"
    /// What a checkpoint's signed bytes start with, so that its signature can stand for nothing else.
    static let signaturePrefix = Array("purser-decision-log-checkpoint-v1\n".utf8)
    /// The most bytes a checkpoint line takes (a 64-byte key id, 20-digit numbers, a 40-byte time).
    static let maxCheckpointBytes = 400

    /// The lowercase hex SHA-256 of a line's bytes (without its newline).
    static func hash(_ line: some Collection<UInt8>) -> String {
        var digest = SHA256()
        if let done: Void = line.withContiguousStorageIfAvailable({ digest.update(bufferPointer: UnsafeRawBufferPointer($0)) }) {
            _ = done
        } else {
            digest.update(data: Array(line))
        }
        return hex(digest.finalize())
    }

    /// Lowercase hex.
    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The line of an event, without its newline.
    static func eventLine(seq: Int64, time: Timestamp, event: String, payload: [UInt8], prev: String) -> [UInt8] {
        var line = Array("{\"v\":\(version),\"seq\":\(seq),\"time\":\"\(time)\",\"event\":\"\(event)\",\"data\":".utf8)
        line.reserveCapacity(line.count + payload.count + 80)
        line.append(contentsOf: payload)
        line.append(contentsOf: ",\"prev\":\"\(prev)\"}".utf8)
        return line
    }

    /// A checkpoint's bytes before `,"sig":`: what it signs, after ``signaturePrefix``.
    static func checkpointBody(seq: Int64, time: Timestamp, keyID: String, lines: Int64, prev: String) -> [UInt8] {
        Array("{\"v\":\(version),\"seq\":\(seq),\"time\":\"\(time)\",\"event\":\"\(checkpointEvent)\",\"key_id\":\"\(keyID)\",\"lines\":\(lines),\"prev\":\"\(prev)\"".utf8)
    }

    /// A whole checkpoint line, without its newline.
    static func checkpointLine(body: [UInt8], signature: [UInt8]) -> [UInt8] {
        body + Array(",\"sig\":\"\(Base64.encode(signature))\"}".utf8)
    }

    /// The `data` of a restart line: the unfinished file, its whole lines, and the bytes of a
    /// partial last line that the writer left behind.
    static func restartData(file: String, wholeLines: Int, droppedBytes: Int) -> [UInt8] {
        let json = JSONWriter(capacity: 128)
        json.object { json in
            json.field("file", file)
            json.field("whole_lines", wholeLines)
            json.field("dropped_bytes", droppedBytes)
        }
        return json.withBytes { Array($0) }
    }

    /// Whether `event` may name an event: 1 to 64 bytes of lowercase letters, digits, `_`, `.`
    /// and `-`, starting with a letter.
    static func isEventName(_ event: String) -> Bool {
        let bytes = Array(event.utf8)
        guard (1...64).contains(bytes.count), let first = bytes.first, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first) else { return false }
        return bytes.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
        }
    }

    // MARK: Files

    /// `decisions-2026-12-07-0001.jsonl`: names that sort in the order they were written.
    static func fileName(day: CivilDate, number: Int) -> String {
        "decisions-\(day)-\(pad(number, width: 4)).jsonl"
    }

    /// The day and number of a log file's name, or nil when it is not one.
    static func parseFileName(_ name: String) -> (day: CivilDate, number: Int)? {
        let bytes = Array(name.utf8)
        let prefix = "decisions-".utf8.count, suffix = ".jsonl"
        guard bytes.count >= prefix + 10 + 1 + 4 + suffix.utf8.count, name.hasPrefix("decisions-"), name.hasSuffix(suffix),
              bytes[prefix + 10] == UInt8(ascii: "-"),
              let day = CivilDate(String(decoding: bytes[prefix..<(prefix + 10)], as: UTF8.self))
        else { return nil }
        let digits = bytes[(prefix + 11)..<(bytes.count - suffix.utf8.count)]
        guard digits.count >= 4, digits.count <= 9, digits.allSatisfy({ (48...57).contains($0) }),
              let number = Int(String(decoding: digits, as: UTF8.self))
        else { return nil }
        return (day, number)
    }

    /// The log files of a directory (the names ``fileName(day:number:)`` makes), oldest first.
    static func logFiles(in directory: String) throws(DecisionLogError) -> [(name: String, day: CivilDate, number: Int)] {
        let listing: [DirectoryEntry]
        do throws(SystemError) {
            listing = try SystemCalls.directoryEntries(bytes: Array(directory.utf8)).entries
        } catch {
            throw DecisionLogError("cannot list the decision log directory \(directory): \(error.message)")
        }
        return listing.compactMap { entry in
            let name = String(decoding: entry.name, as: UTF8.self)
            return parseFileName(name).map { (name, $0.day, $0.number) }
        }.sorted { ($0.day, $0.number) < ($1.day, $1.number) }
    }

    /// The UTC day of an instant.
    static func day(_ time: Timestamp) -> CivilDate {
        let seconds = time.seconds
        return CivilDate(days: Int(seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400))
    }
}

/// One line of a log, read back (docs/decision-log.md, "Lines").
struct DecisionLogLine {
    /// `seq`.
    let seq: Int64
    /// `time`.
    let time: Timestamp
    /// `event`.
    let event: String
    /// `prev`.
    let prev: String
    /// A checkpoint's `key_id`, `lines`, decoded `sig` and the length of its signed body.
    let checkpoint: (keyID: String, lines: Int64, signature: [UInt8], bodyCount: Int)?
    /// A restart line's `data.file`.
    let restartFile: String?

    /// Whether this is a checkpoint line.
    var isCheckpoint: Bool { checkpoint != nil }

    /// Reads one line (without its newline); the error says what is wrong with it.
    static func parse(_ line: UnsafeBufferPointer<UInt8>) throws(JSONError) -> DecisionLogLine {
        var scanner = JSONScanner(line)
        try scanner.beginObject()
        var first = true
        var version: Int64?, seq: Int64?, time: Timestamp?, event: String?, prev: String?
        var keyID: String?, lines: Int64?, signature: [UInt8]?, bodyCount: Int?, dataRange: Range<Int>?
        var seen = Set<String>()
        while let keyRange = try scanner.nextKey(first: &first) {
            let key = try scanner.decodeString(keyRange)
            guard seen.insert(key).inserted else { throw JSONError("the field \"\(key)\" appears twice", at: keyRange.lowerBound) }
            let start = scanner.index
            switch key {
            case "v": version = try scanner.integer()
            case "seq": seq = try scanner.integer()
            case "time":
                let text = try scanner.decodeString(try scanner.rawString())
                guard let parsed = Timestamp(rfc3339: text) else { throw JSONError("the time \"\(text)\" is not an RFC 3339 time", at: start) }
                time = parsed
            case "event": event = try scanner.decodeString(try scanner.rawString())
            case "prev": prev = try scanner.decodeString(try scanner.rawString())
            case "key_id": keyID = try scanner.decodeString(try scanner.rawString())
            case "lines": lines = try scanner.integer()
            case "data":
                scanner.skipWhitespace()
                let dataStart = scanner.index
                try scanner.skipValue()
                dataRange = dataStart..<scanner.index
            case "sig":
                // The signed body ends where `,"sig":` starts: sig must be the last field, written compactly.
                let marker = Array(",\"sig\":".utf8)
                guard start >= marker.count, line[(start - marker.count)..<start].elementsEqual(marker) else {
                    throw JSONError("a checkpoint's \"sig\" must follow the other fields as ,\"sig\":", at: start)
                }
                bodyCount = start - marker.count
                let text = try scanner.rawString()
                guard let decoded = Base64.decode(UnsafeBufferPointer(rebasing: line[text])), decoded.count == 64 else {
                    throw JSONError("the signature is not 64 bytes of base64", at: text.lowerBound)
                }
                signature = decoded
                guard scanner.peek() == UInt8(ascii: "}") else { throw JSONError("\"sig\" must be a checkpoint's last field", at: scanner.index) }
            default:
                throw JSONError("unexpected field \"\(key)\"", at: keyRange.lowerBound)
            }
        }
        try scanner.expectEnd()
        guard version == DecisionLogFormat.version else { throw JSONError("the line has no \"v\":1 (format version)", at: 0) }
        guard let seq, let time, let event, let prev else {
            throw JSONError("the line lacks one of \"seq\", \"time\", \"event\", \"prev\"", at: 0)
        }
        guard prev.utf8.count == 64, prev.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
            throw JSONError("\"prev\" is not 64 lowercase hex digits", at: 0)
        }
        if event == DecisionLogFormat.checkpointEvent {
            guard let keyID, let lines, let signature, let bodyCount, dataRange == nil else {
                throw JSONError("a checkpoint needs \"key_id\", \"lines\" and \"sig\", and has no \"data\"", at: 0)
            }
            return DecisionLogLine(seq: seq, time: time, event: event, prev: prev,
                                   checkpoint: (keyID, lines, signature, bodyCount), restartFile: nil)
        }
        guard let dataRange, keyID == nil, lines == nil, signature == nil else {
            throw JSONError("an event line needs \"data\", and has no \"key_id\", \"lines\" or \"sig\"", at: 0)
        }
        guard line[dataRange.lowerBound] == UInt8(ascii: "{") else { throw JSONError("\"data\" must be an object", at: dataRange.lowerBound) }
        var restartFile: String?
        if event == DecisionLogFormat.restartEvent {
            var data = JSONScanner(UnsafeBufferPointer(rebasing: line[..<dataRange.upperBound]), from: dataRange.lowerBound)
            try data.beginObject()
            var firstKey = true
            while let keyRange = try data.nextKey(first: &firstKey) {
                if data.equals(keyRange, "file") {
                    restartFile = try data.decodeString(try data.rawString())
                } else {
                    try data.skipValue()
                }
            }
            guard restartFile != nil else { throw JSONError("a restart line's data names no \"file\"", at: dataRange.lowerBound) }
        }
        return DecisionLogLine(seq: seq, time: time, event: event, prev: prev, checkpoint: nil, restartFile: restartFile)
    }

    /// Checks that `payload` is one JSON object on one line, as `data` must be.
    static func checkPayload(_ payload: [UInt8]) throws(DecisionLogError) {
        guard !payload.contains(0x0A), !payload.contains(0x0D) else {
            throw DecisionLogError("the payload holds a line break: it must be compact JSON on one line")
        }
        do throws(JSONError) {
            try JSONScanner.scan(payload) { (scanner: inout JSONScanner) throws(JSONError) in
                guard scanner.peek() == UInt8(ascii: "{") else { throw scanner.error("expected an object, found \(scanner.tokenDescription())") }
                try scanner.skipValue()
                try scanner.expectEnd()
            }
        } catch {
            throw DecisionLogError("the payload is not one JSON object: \(error)")
        }
        guard payload.withUnsafeBufferPointer({ UTF8Check.isValid($0) }) else {
            throw DecisionLogError("the payload is not valid UTF-8")
        }
    }
}
