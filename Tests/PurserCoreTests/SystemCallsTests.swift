#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Testing
import PurserCore

/// The system-call layer: errors name the call and keep errno, reads return what a pipe
/// gives, and the whole-buffer variants go on until they have it all or the input ends.
@Suite("System calls")
struct SystemCallsTests {
    /// A pipe's read and write ends.
    private static func pipe() throws -> (read: Int32, write: Int32) {
        var ends: [Int32] = [0, 0]
        #if canImport(Darwin)
        let made = Darwin.pipe(&ends)
        #elseif canImport(Musl)
        let made = Musl.pipe(&ends)
        #else
        let made = Glibc.pipe(&ends)
        #endif
        try #require(made == 0)
        return (ends[0], ends[1])
    }

    /// A new empty directory.
    private static func directory() throws -> String {
        let path = NSTemporaryDirectory() + "/purser-syscalls-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func openingAMissingFileNamesTheCallAndItsErrno() {
        #expect(throws: SystemError("open", code: ENOENT)) {
            try SystemCalls.open("/nonexistent/purser/file")
        }
        do {
            _ = try SystemCalls.open("/nonexistent/purser/file")
        } catch {
            #expect(error.isNotFound)
            #expect(!error.isPermissionDenied && !error.isSymlinkLoop && !error.isDirectory)
            #expect(error.message == String(cString: strerror(ENOENT)))
            #expect(error.description == "open: " + String(cString: strerror(ENOENT)))
        }
    }

    @Test func writingADirectoryIsEISDIR() throws {
        let path = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: SystemError("open", code: EISDIR)) { try SystemCalls.open(path, .writing) }
        #expect(try SystemCalls.status(path: path).kind == .directory)
    }

    @Test func aSymlinkLoopIsELOOP() throws {
        let path = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try FileManager.default.createSymbolicLink(atPath: path + "/a", withDestinationPath: path + "/b")
        try FileManager.default.createSymbolicLink(atPath: path + "/b", withDestinationPath: path + "/a")
        do {
            _ = try SystemCalls.status(path: path + "/a")
            Issue.record("stat followed a symlink loop")
        } catch {
            #expect(error.call == "stat")
            #expect(error.isSymlinkLoop)
        }
        #expect(try SystemCalls.linkStatus(path: path + "/a").kind == .symbolicLink)
    }

    @Test func aDescriptorThatIsNotOpenIsEBADF() throws {
        // Not a descriptor just closed: tests run in parallel, and another one may be handed that
        // number at once (closing it would close theirs). No process has descriptor Int32.max open.
        let closed = Int32.max
        #expect(throws: SystemError("close", code: EBADF)) { try SystemCalls.close(closed) }
        var buffer = [UInt8](repeating: 0, count: 4)
        #expect(throws: SystemError("read", code: EBADF)) { try SystemCalls.read(closed, into: &buffer) }
        #expect(throws: SystemError("write", code: EBADF)) { try SystemCalls.writeAll(closed, [1, 2, 3]) }
        #expect(throws: SystemError("fstat", code: EBADF)) { try SystemCalls.status(closed) }
    }

    @Test func aReadReturnsWhatThePipeHasNotTheBufferSize() throws {
        let (reader, writer) = try Self.pipe()
        defer { try? SystemCalls.close(reader) }
        try SystemCalls.writeAll(writer, Array("abc".utf8))
        var buffer = [UInt8](repeating: 0, count: 16)
        #expect(try SystemCalls.read(reader, into: &buffer) == 3)
        #expect(Array(buffer.prefix(3)) == Array("abc".utf8))
        try SystemCalls.writeAll(writer, Array("de".utf8))
        try SystemCalls.close(writer)
        #expect(try SystemCalls.read(reader, into: &buffer) == 2)
        #expect(try SystemCalls.read(reader, into: &buffer) == 0)
        #expect(try SystemCalls.status(reader).kind == .fifo)
    }

    @Test func readingFullyGathersShortReadsUntilTheEnd() async throws {
        let (reader, writer) = try Self.pipe()
        defer { try? SystemCalls.close(reader) }
        // Written in pieces from another thread: the reader sees several short reads.
        let pieces = (0..<20).map { index in [UInt8](repeating: UInt8(index), count: 1000 + index) }
        let done = Task.detached {
            for piece in pieces {
                try SystemCalls.writeAll(writer, piece)
                try await Task.sleep(nanoseconds: 1_000_000)
            }
            try SystemCalls.close(writer)
        }
        let all = pieces.flatMap { $0 }
        let first = try SystemCalls.read(reader, upTo: 5000)
        #expect(first == Array(all.prefix(5000)))
        let rest = try SystemCalls.read(reader, upTo: 1 << 20)
        #expect(rest == Array(all.dropFirst(5000)))
        #expect(try SystemCalls.read(reader, upTo: 10).isEmpty)
        try await done.value
    }

    @Test func readToEndStopsPastTheLimit() throws {
        let (reader, writer) = try Self.pipe()
        defer { try? SystemCalls.close(reader) }
        try SystemCalls.writeAll(writer, [UInt8](repeating: 7, count: 10_000))
        try SystemCalls.close(writer)
        let bytes = try SystemCalls.readToEnd(reader, limit: 100, chunkSize: 64)
        #expect(bytes.count > 100 && bytes.count <= 164)
        let (again, other) = try Self.pipe()
        defer { try? SystemCalls.close(again) }
        try SystemCalls.writeAll(other, [UInt8](repeating: 1, count: 300))
        try SystemCalls.close(other)
        #expect(try SystemCalls.readToEnd(again, limit: 300, chunkSize: 7).count == 300)
    }

    @Test func filesAreWrittenWholeAndReadBackByOffset() throws {
        let path = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (fd, name) = try SystemCalls.makeTemporaryFile(path + "/file-XXXXXX")
        defer { try? SystemCalls.close(fd) }
        #expect(String(decoding: name, as: UTF8.self).hasPrefix(path + "/file-"))
        let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try SystemCalls.writeAll(fd, bytes)
        try SystemCalls.writeAll(fd, bytes[10..<20])
        let status = try SystemCalls.status(fd)
        #expect(status.kind == .regular && status.size == 100_010)
        #expect(try SystemCalls.status(bytes: name).inode == status.inode)
        #expect(try SystemCalls.offset(fd) == 100_010)
        #expect(try SystemCalls.pread(fd, upTo: 5, at: 99_998) == Array(bytes[99_998...]) + Array(bytes[10..<13]))
        #expect(try SystemCalls.pread(fd, upTo: 100, at: 100_005) == Array(bytes[15..<20]))
        #expect(try SystemCalls.pread(fd, upTo: 100, at: 200_000).isEmpty)
        try SystemCalls.truncate(fd)
        #expect(try SystemCalls.status(fd).size == 0)
        #expect(try SystemCalls.offset(fd) == 0)
        try SystemCalls.unlink(bytes: name)
        #expect(throws: SystemError("unlink", code: ENOENT)) { try SystemCalls.unlink(bytes: name) }
    }

    @Test func aDiskThatTakesNothingIsAnError() throws {
        let fd = try SystemCalls.open("/dev/full", .writing)
        defer { try? SystemCalls.close(fd) }
        #expect(throws: SystemError("write", code: ENOSPC)) { try SystemCalls.writeAll(fd, [1]) }
        #expect(SystemError("write", code: 0).message == "the disk took no bytes")
    }

    @Test func directoriesListTheirEntriesButNotDotAndDotDot() throws {
        let path = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try FileManager.default.createDirectory(atPath: path + "/sub", withIntermediateDirectories: false)
        FileManager.default.createFile(atPath: path + "/file.yaml", contents: Data("a".utf8))
        let listing = try SystemCalls.directoryEntries(bytes: Array(path.utf8))
        let names = listing.entries.map { String(decoding: $0.name, as: UTF8.self) }.sorted()
        #expect(names == ["file.yaml", "sub"])
        #expect(listing.entries.first { $0.name == Array("sub".utf8) }?.isDirectory == true)
        #expect(listing.status?.inode == (try SystemCalls.status(path: path)).inode)
        #expect(throws: SystemError("opendir", code: ENOENT)) { try SystemCalls.directoryEntries(bytes: Array((path + "/none").utf8)) }
        #expect(SystemCalls.realPath(path + "/sub/..").map { String(decoding: $0, as: UTF8.self) }
                == SystemCalls.realPath(path).map { String(decoding: $0, as: UTF8.self) })
        #expect(SystemCalls.realPath(path + "/none") == nil)
    }

    @Test func appendingCreatesExclusiveCreationRefusesAndTruncationCutsToALength() throws {
        let path = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SystemCalls.makeDirectory(path + "/logs", permissions: 0o700)
        #expect(throws: SystemError("mkdir", code: EEXIST)) { try SystemCalls.makeDirectory(path + "/logs") }
        let file = path + "/logs/a"
        let fd = try SystemCalls.open(file, .appending, permissions: 0o600)
        defer { try? SystemCalls.close(fd) }
        try SystemCalls.writeAll(fd, Array("hello world".utf8))
        try SystemCalls.truncate(fd, length: 5)
        try SystemCalls.writeAll(fd, Array("!".utf8))  // O_APPEND: at the new end, not the old offset
        try SystemCalls.synchronize(fd)
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "hello!")
        #expect(try SystemCalls.status(path: file).permissions == 0o600 & ~SystemCalls.creationMask)
        #expect { try SystemCalls.open(file, .creatingNew, permissions: 0o600) } throws: { ($0 as? SystemError)?.isAlreadyExisting == true }
    }

    @Test func aLockIsRefusedToAnotherOpenFileUntilItsHolderCloses() throws {
        let path = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let first = try SystemCalls.open(path + "/lock", .appending, permissions: 0o600)
        let second = try SystemCalls.open(path + "/lock", .appending, permissions: 0o600)
        defer { try? SystemCalls.close(second) }
        #expect(try SystemCalls.tryLock(first))
        #expect(try !SystemCalls.tryLock(second))
        try SystemCalls.close(first)
        #expect(try SystemCalls.tryLock(second))
    }
}
