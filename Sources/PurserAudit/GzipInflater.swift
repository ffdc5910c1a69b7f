import Purser
import CZlib

/// Decompresses a gzip log as it is read (docs/audit-reports.md, "Input"): rotated logs are
/// usually compressed, and a log is read in chunks, never decompressed whole into memory or onto
/// disk. Concatenated members (`cat a.gz b.gz`) are read one after the other; corrupt or
/// truncated data is an error that names the file and how far it got.
package final class GzipInflater {
    /// Compressed bytes read at a time.
    private static let inputSize = 256 << 10

    private let stream: UnsafeMutablePointer<z_stream>
    private let input: UnsafeMutablePointer<UInt8>
    private let name: String
    /// The source has no more compressed bytes.
    private var sourceDone = false
    /// The last member ended and nothing follows it.
    private var finished = false
    /// Bytes of a member were fed and its end was not reached yet.
    private var memberOpen = false
    /// Decompressed bytes so far (for messages).
    private var produced: Int64 = 0

    /// Starts decompressing the log `name`.
    package init(name: String) throws(UsageLogError) {
        self.name = name
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        input = .allocate(capacity: Self.inputSize)
        // 15 + 16: a gzip wrapper with the largest window (zlib.h, inflateInit2).
        let status = inflateInit2_(stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            stream.deinitialize(count: 1)
            stream.deallocate()
            input.deallocate()
            throw UsageLogError("cannot start gzip decompression (zlib status \(status))", file: name)
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
        input.deallocate()
    }

    /// Decompresses up to `count` bytes into `target`, taking compressed bytes from `read`
    /// (which returns fewer than asked only at the end); fewer than `count` only at the end.
    package func decompress(into target: UnsafeMutableRawPointer, count: Int,
                    read: (UnsafeMutableRawPointer, Int) throws(UsageLogError) -> Int) throws(UsageLogError) -> Int
    {
        var filled = 0
        while filled < count, !finished {
            if stream.pointee.avail_in == 0 {
                if !sourceDone {
                    let got = try read(UnsafeMutableRawPointer(input), Self.inputSize)
                    if got < Self.inputSize { sourceDone = true }
                    stream.pointee.next_in = input
                    stream.pointee.avail_in = UInt32(got)
                }
                if stream.pointee.avail_in == 0 {
                    if memberOpen {
                        throw UsageLogError("the gzip data ends early, after \(produced) bytes (a truncated file?)", file: name)
                    }
                    finished = true
                    break
                }
            }
            let room = UInt32(min(count - filled, Int(UInt32.max)))
            stream.pointee.next_out = (target + filled).assumingMemoryBound(to: UInt8.self)
            stream.pointee.avail_out = room
            let fed = stream.pointee.avail_in
            let status = inflate(stream, Z_NO_FLUSH)
            let made = Int(room - stream.pointee.avail_out)
            filled += made
            produced += Int64(made)
            memberOpen = true
            switch status {
            case Z_OK:
                continue
            case Z_BUF_ERROR where made == 0 && fed == stream.pointee.avail_in && fed > 0:
                throw UsageLogError("the gzip data is corrupt after \(produced) bytes (no progress)", file: name)
            case Z_BUF_ERROR:
                continue  // needs more input
            case Z_STREAM_END:
                // Another member may follow.
                memberOpen = false
                inflateReset(stream)
            default:
                let detail = stream.pointee.msg.map { String(cString: $0) } ?? "zlib status \(status)"
                throw UsageLogError("the gzip data is corrupt after \(produced) bytes: \(detail)", file: name)
            }
        }
        return filled
    }
}
