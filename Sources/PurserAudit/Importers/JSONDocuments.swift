import Purser
/// Splits a file of JSON documents into its top-level values, in chunks, with
/// the line each starts on: one pretty-printed value, JSON lines, or a JSON
/// array (whose elements are then the values).
///
/// Memory stays bounded: a value longer than its limit is reported once and
/// its bytes dropped until it ends. Text between values that is not an
/// object or array is reported per line, and splitting goes on after it.
package struct JSONDocuments {
    private let file: LogFile
    private let limit: Int
    private var buffer: [UInt8] = []
    /// Where scanning resumes in `buffer`.
    private var position = 0
    /// The line at `position`.
    private var line = 1
    /// Where the current value starts in `buffer` and on which line (nil between values).
    private var valueStart: Int?
    private var valueLine = 0
    private var depth = 0
    private var inString = false
    private var escaped = false
    /// Whether the current value is over the limit and being dropped.
    private var dropping = false
    /// Whether the file is one JSON array of values, and whether it was closed.
    private var outerArray = false
    private var outerClosed = false
    private var sawValue = false
    private var atStart = true
    private var finished = false

    /// Reads `file`; values over `limit` bytes are reported as too long.
    package init(file: LogFile, limit: Int) {
        self.file = file
        self.limit = max(limit, 1)
    }

    /// Reads values into `batch` until it accounts for `size` entries or the file ends; returns
    /// false at the end. `document` reads one value (its bytes and first line) into the batch,
    /// problems between values become malformed entries of `file`, and `check`, called after each
    /// chunk, throws to stop reading (a problem that makes the rest of the file unreadable).
    package mutating func fill(_ batch: inout RecordBatch, size: Int, file: String,
                               _ document: (UnsafeBufferPointer<UInt8>, Int, inout RecordBatch) -> Void,
                               check: () throws(UsageLogError) -> Void = {}) throws(UsageLogError) -> Bool {
        while batch.entryCount < size {
            let more = try next({ bytes, line in
                document(bytes, line, &batch)
            }, malformed: { line, message in
                batch.addMalformed(file, line, message)
            })
            try check()
            if !more { return false }
        }
        return true
    }

    /// Calls `body` with each complete value of the next chunk (its bytes and
    /// first line) and `malformed` with each problem; returns false at the end.
    package mutating func next(_ body: (UnsafeBufferPointer<UInt8>, Int) -> Void, malformed: (Int, String) -> Void) throws(UsageLogError) -> Bool {
        guard !finished else { return false }
        let chunk = try file.read(CSVRecords.chunkSize)
        let atEnd = chunk.isEmpty || file.isAtEnd
        // Keep only the unfinished value.
        if let start = valueStart, !dropping {
            buffer.removeFirst(start)
            position -= start
            valueStart = 0
        } else {
            buffer.removeAll(keepingCapacity: true)
            position = 0
        }
        buffer.append(contentsOf: chunk)
        if atStart, !buffer.isEmpty {
            atStart = false
            if buffer.starts(with: [0xEF, 0xBB, 0xBF]) { position = 3 }
        }
        buffer.withUnsafeBufferPointer { bytes in scan(bytes, body, malformed) }
        if atEnd {
            if valueStart != nil || dropping {
                if !dropping { malformed(valueLine, "the file ends inside a JSON value (a truncated page?)") }
            } else if outerArray, !outerClosed {
                malformed(line, "the file ends inside the outer JSON array (a truncated file?)")
            }
            finished = true
        }
        return !finished || !chunk.isEmpty
    }

    private mutating func scan(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>, Int) -> Void,
                               _ malformed: (Int, String) -> Void) {
        var index = position
        let count = bytes.count
        while index < count {
            let byte = bytes[index]
            if valueStart != nil || dropping {
                // Inside a value: follow strings and nesting to its end.
                if inString {
                    if escaped {
                        escaped = false
                    } else if byte == 0x5C {
                        escaped = true
                    } else if byte == 0x22 {
                        inString = false
                    } else if byte == 0x0A {
                        line += 1
                    }
                } else {
                    switch byte {
                    case 0x22: inString = true
                    case 0x7B, 0x5B: depth += 1
                    case 0x7D, 0x5D: depth -= 1
                    case 0x0A: line += 1
                    default: break
                    }
                }
                index += 1
                if depth == 0 {
                    if dropping {
                        dropping = false
                    } else if let start = valueStart {
                        body(UnsafeBufferPointer(rebasing: bytes[start..<index]), valueLine)
                    }
                    valueStart = nil
                } else if let start = valueStart, index - start > limit {
                    malformed(valueLine, CSVRecords.tooLong(limit))
                    dropping = true
                    valueStart = nil
                }
                continue
            }
            // Between values.
            switch byte {
            case 0x0A:
                line += 1
                index += 1
            case 0x20, 0x09, 0x0D:
                index += 1
            case 0x2C where outerArray && !outerClosed:
                index += 1
            case 0x5D where outerArray && !outerClosed:
                outerClosed = true
                index += 1
            case 0x5B where !sawValue && !outerArray:
                outerArray = true  // a JSON array of values: its elements are the values
                index += 1
            case 0x7B, 0x5B:
                sawValue = true
                valueStart = index
                valueLine = line
                depth = 1
                inString = false
                escaped = false
                index += 1
            default:
                sawValue = true
                malformed(line, "expected a JSON object, found \(Self.describe(byte))")
                while index < count, bytes[index] != 0x0A { index += 1 }
            }
        }
        position = index
    }

    private static func describe(_ byte: UInt8) -> String {
        switch byte {
        case 0x22: return "a string"
        case 0x2D, 48...57: return "a number"
        case 0x20...0x7E: return "'\(Character(Unicode.Scalar(byte)))'"
        default: return "a byte \(byte)"
        }
    }
}

/// Counts lines forward through a buffer: the line of each offset, asked in increasing order.
package struct LineCounter {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var offset = 0
    private var line: Int

    /// Counts from `firstLine` at the start of `bytes`.
    package init(_ bytes: UnsafeBufferPointer<UInt8>, firstLine: Int) {
        self.bytes = bytes
        self.line = firstLine
    }

    /// The line of `target` (not before the previous target).
    package mutating func line(at target: Int) -> Int {
        while offset < target, offset < bytes.count {
            if bytes[offset] == 0x0A { line += 1 }
            offset += 1
        }
        return line
    }

    /// The 1-based column of a byte offset on its line.
    package static func column(_ bytes: UnsafeBufferPointer<UInt8>, _ offset: Int) -> Int {
        var start = min(offset, bytes.count)
        while start > 0, bytes[start - 1] != 0x0A { start -= 1 }
        return min(offset, bytes.count) - start + 1
    }
}
