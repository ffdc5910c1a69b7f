#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A log file read in large chunks, with the first bytes available for format detection.
public final class LogFile {
    /// The path, as given.
    public let path: String
    private let fd: Int32
    private var buffered: [UInt8] = []
    private var reachedEnd = false

    /// Opens a file for reading.
    public init(_ path: String) throws(UsageLogError) {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw UsageLogError(PolicyFiles.describe(errno, path: path).replacingFirst(path + ": ", with: ""), file: path)
        }
        var info = stat()
        if fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFDIR {
            close(fd)
            throw UsageLogError("is a directory, not a log file", file: path)
        }
    }

    deinit {
        close(fd)
    }

    /// The first `count` bytes (fewer for a short file), without consuming them.
    public func peek(_ count: Int) throws(UsageLogError) -> [UInt8] {
        while buffered.count < count, !reachedEnd {
            buffered.append(contentsOf: try readRaw(count - buffered.count))
        }
        return Array(buffered.prefix(count))
    }

    /// The next bytes (up to about `count`), or an empty array at the end.
    public func read(_ count: Int) throws(UsageLogError) -> [UInt8] {
        if !buffered.isEmpty {
            let result = buffered
            buffered = []
            return result
        }
        return try readRaw(count)
    }

    /// Appends up to `count` more bytes to `buffer` (none at the end) and
    /// returns how many: a reader that keeps one buffer saves an allocation and a copy per chunk.
    public func read(appendingTo buffer: inout [UInt8], upTo count: Int) throws(UsageLogError) -> Int {
        if !buffered.isEmpty {
            let taken = buffered.count
            buffer.append(contentsOf: buffered)
            buffered = []
            return taken
        }
        guard !reachedEnd, count > 0 else { return 0 }
        let old = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: count))
        var filled = 0
        var failure: Int32 = 0
        buffer.withUnsafeMutableBytes { raw in
            guard let base = raw.baseAddress else { return }
            while filled < count {
                let got = Glibc.read(fd, base + old + filled, count - filled)
                if got < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                if got == 0 {
                    reachedEnd = true
                    return
                }
                filled += got
            }
        }
        buffer.removeLast(count - filled)
        if failure != 0 { throw UsageLogError(String(cString: strerror(failure)), file: path) }
        return filled
    }

    /// Whether the end of the file was reached.
    public var isAtEnd: Bool { reachedEnd && buffered.isEmpty }

    private func readRaw(_ count: Int) throws(UsageLogError) -> [UInt8] {
        guard !reachedEnd else { return [] }
        var result = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let got = result.withUnsafeMutableBytes { raw in
                Glibc.read(fd, raw.baseAddress.map { $0 + filled }, count - filled)
            }
            if got < 0 {
                if errno == EINTR { continue }
                throw UsageLogError(String(cString: strerror(errno)), file: path)
            }
            if got == 0 {
                reachedEnd = true
                break
            }
            filled += got
        }
        result.removeLast(count - filled)
        return result
    }
}

/// Splits a log file into lines with their 1-based numbers, in chunks, never
/// holding more than one chunk and one record: a line longer than the
/// record-size limit is reported and skipped, not kept.
public struct LineChunks {
    /// One line: its bytes (without the newline) and its number.
    public typealias Line = (bytes: ArraySlice<UInt8>, number: Int)

    private let file: LogFile
    private let limit: Int
    private var pending: [UInt8] = []
    private var nextLine = 1
    private var skipping = false

    /// Reads lines of `file`; lines over `limit` bytes are reported as too long.
    public init(file: LogFile, limit: Int) {
        self.file = file
        self.limit = limit
    }

    /// Calls `body` with each complete line of the next chunk (and `tooLong` for
    /// each over-long line); returns false at the end of the file.
    public mutating func next(_ body: (Line) -> Void, tooLong: (Int) -> Void) throws(UsageLogError) -> Bool {
        if file.isAtEnd && pending.isEmpty { return false }
        let chunk = try file.read(4 << 20)
        let atEnd = chunk.isEmpty || file.isAtEnd
        var data = pending
        data.append(contentsOf: chunk)
        pending = []
        var start = data.startIndex
        while let newline = data[start...].firstIndex(of: 0x0A) {
            if skipping {
                skipping = false
            } else {
                var line = data[start..<newline]
                if line.last == 0x0D { line = line.dropLast() }
                if line.count > limit { tooLong(nextLine) } else { body((line, nextLine)) }
            }
            nextLine += 1
            start = newline + 1
        }
        let rest = data[start...]
        if atEnd {
            // The last line has no newline (a truncated log, often): still read it.
            if !rest.isEmpty && !skipping {
                var line = rest
                if line.last == 0x0D { line = line.dropLast() }
                if line.count > limit { tooLong(nextLine) } else { body((line, nextLine)) }
                nextLine += 1
            }
            return !rest.isEmpty || !chunk.isEmpty
        }
        if rest.count > limit {
            // Part of an over-long line: report it once and drop bytes until its end.
            if !skipping { tooLong(nextLine) }
            skipping = true
        } else {
            pending = Array(rest)
        }
        return true
    }
}

extension String {
    func replacingFirst(_ prefix: String, with replacement: String) -> String {
        hasPrefix(prefix) ? replacement + dropFirst(prefix.count) : self
    }
}
