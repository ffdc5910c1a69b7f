// The one place Purser's file and terminal I/O reaches the C library (modelled on
// swift-nio's SystemCallHelpers): every call that can be interrupted is retried on
// EINTR, and a failure is a `SystemError` naming the call and its errno. Code outside
// this file does its I/O through `SystemCalls` and needs no platform import for it.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#else
#error("PurserCore's system calls need Glibc, Musl or Darwin")
#endif

/// A system call that failed: which call, and the `errno` it set.
package struct SystemError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The call, e.g. `read`.
    package let call: String
    /// The `errno` value; 0 for a `write` that took no byte (the system reported no error).
    package let code: Int32

    package init(_ call: String, code: Int32) {
        self.call = call
        self.code = code
    }

    /// The system's text for the error, as `strerror` gives it (`No such file or directory`).
    package var message: String {
        code == 0 ? "the disk took no bytes" : String(cString: strerror(code))
    }

    /// `open: No such file or directory`.
    package var description: String { "\(call): \(message)" }

    /// ENOENT: no such file or directory.
    package var isNotFound: Bool { code == ENOENT }
    /// EACCES: permission denied.
    package var isPermissionDenied: Bool { code == EACCES }
    /// ELOOP: too many levels of symbolic links.
    package var isSymlinkLoop: Bool { code == ELOOP }
    /// EISDIR: the path is a directory.
    package var isDirectory: Bool { code == EISDIR }
    /// EEXIST: the name is taken.
    package var isAlreadyExisting: Bool { code == EEXIST }
    /// ENOSPC: the disk is full.
    package var isNoSpace: Bool { code == ENOSPC }
}

/// What `stat` says of a file.
package struct FileStatus: Sendable, Hashable {
    /// The file's type.
    package enum Kind: Sendable, Hashable {
        case regular, directory, symbolicLink, fifo, socket, characterDevice, blockDevice, other
    }

    package let kind: Kind
    /// `st_dev` and `st_ino`: two paths to one file have the same.
    package let device: UInt64
    package let inode: UInt64
    /// The length in bytes (`st_size`).
    package let size: Int64
    /// The permission bits (`st_mode & 0o7777`).
    package let permissions: UInt32
    /// The last modification, in nanoseconds since 1970 (`st_mtim`).
    package let modified: Int64

    fileprivate init(_ info: stat) {
        switch info.st_mode & S_IFMT {
        case S_IFREG: kind = .regular
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symbolicLink
        case S_IFIFO: kind = .fifo
        case S_IFSOCK: kind = .socket
        case S_IFCHR: kind = .characterDevice
        case S_IFBLK: kind = .blockDevice
        default: kind = .other
        }
        device = UInt64(truncatingIfNeeded: info.st_dev)  // signed on Darwin
        inode = UInt64(truncatingIfNeeded: info.st_ino)
        size = Int64(info.st_size)
        permissions = UInt32(info.st_mode & 0o7777)
        #if canImport(Darwin)
        let time = info.st_mtimespec
        #else
        let time = info.st_mtim
        #endif
        modified = Int64(time.tv_sec).multipliedReportingOverflow(by: 1_000_000_000).partialValue &+ Int64(time.tv_nsec)
    }
}

/// One name in a directory (not `.` or `..`).
package struct DirectoryEntry: Sendable {
    /// The name's bytes (not necessarily UTF-8).
    package let name: [UInt8]
    /// Whether the directory says the entry is a directory (`d_type`; false when it does not say).
    package let isDirectory: Bool
}

/// File and terminal system calls, retried on EINTR, failing with a ``SystemError``.
package enum SystemCalls {
    package static let standardInput: Int32 = STDIN_FILENO
    package static let standardOutput: Int32 = STDOUT_FILENO
    package static let standardError: Int32 = STDERR_FILENO

    /// How a file is opened (always close-on-exec).
    package enum OpenMode: Sendable {
        case reading
        case writing
        /// Reading, without blocking in `open` (a FIFO with no writer opens at once).
        case readingWithoutBlocking
        /// Writing at the end (`O_APPEND`), creating the file when it is missing.
        case appending
        /// Writing a new file: fails with EEXIST when the name is taken (`O_CREAT | O_EXCL`).
        case creatingNew

        fileprivate var flags: Int32 {
            switch self {
            case .reading: O_RDONLY | O_CLOEXEC
            case .writing: O_WRONLY | O_CLOEXEC
            case .readingWithoutBlocking: O_RDONLY | O_CLOEXEC | O_NONBLOCK
            case .appending: O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC
            case .creatingNew: O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC
            }
        }
    }

    /// Runs `body` until it does not fail with EINTR; a result of -1 throws `call`'s error.
    @inline(__always)
    private static func retrying<T: FixedWidthInteger>(_ call: String, _ body: () -> T) throws(SystemError) -> T {
        while true {
            let result = body()
            guard result == -1 else { return result }
            let code = errno
            if code == EINTR { continue }
            // A bad address is a bug in the caller, never a condition to report.
            assert(code != EFAULT, "\(call): bad address")
            throw SystemError(call, code: code)
        }
    }

    /// Opens a file by path.
    package static func open(_ path: String, _ mode: OpenMode = .reading) throws(SystemError) -> Int32 {
        try open(path, mode, permissions: 0o644)
    }

    /// Opens a file by path; a file it creates gets `permissions` (less the creation mask).
    package static func open(_ path: String, _ mode: OpenMode, permissions: UInt32) throws(SystemError) -> Int32 {
        try retrying("open") { libcOpen(path, mode.flags, permissions) }
    }

    /// Opens a file by its path's bytes (a name that is not UTF-8 is opened as it is).
    package static func open(bytes path: [UInt8], _ mode: OpenMode = .reading) throws(SystemError) -> Int32 {
        let cPath = path.map { CChar(bitPattern: $0) } + [0]
        return try retrying("open") { libcOpen(cPath, mode.flags, 0o644) }
    }

    /// Makes a write to a closed pipe fail with EPIPE instead of killing the process (SIGPIPE).
    package static func ignoreBrokenPipes() {
        signal(SIGPIPE, SIG_IGN)
    }

    /// Reads a small regular file whole (a secret, a tokens file): opened without blocking, so
    /// that a FIFO cannot hang the caller; a file that is not regular, or longer than `limit`
    /// bytes (a device such as /dev/zero), is refused with EINVAL or EFBIG.
    package static func readSmallFile(_ path: String, limit: Int) throws(SystemError) -> [UInt8] {
        let fd = try open(path, .readingWithoutBlocking)
        defer { try? close(fd) }
        guard try status(fd).kind == .regular else { throw SystemError("open", code: EINVAL) }
        let bytes = try readToEnd(fd, limit: limit)
        guard bytes.count <= limit else { throw SystemError("read", code: EFBIG) }
        return bytes
    }

    /// Closes a descriptor. EINTR counts as closed: the descriptor is gone either way (retrying
    /// could close one another thread just opened).
    package static func close(_ fd: Int32) throws(SystemError) {
        guard libcClose(fd) == -1 else { return }
        let code = errno
        if code == EINTR { return }
        throw SystemError("close", code: code)
    }

    /// A second descriptor for an open file (`dup`).
    package static func duplicate(_ fd: Int32) throws(SystemError) -> Int32 {
        try retrying("dup") { dup(fd) }
    }

    // MARK: Reading

    /// Reads once at the descriptor's offset: up to `buffer.count` bytes, fewer from a pipe or
    /// near the end, 0 at the end.
    package static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        return try retrying("read") { libcRead(fd, base, buffer.count) }
    }

    /// Reads until `buffer` is full or the input ends; returns how many bytes it read.
    package static func readFully(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int {
        var filled = 0
        while filled < buffer.count {
            let got = try read(fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
            if got == 0 { break }
            filled += got
        }
        return filled
    }

    /// Reads once into the start of `buffer` (up to its count); returns how many bytes it read, 0 at the end.
    package static func read(_ fd: Int32, into buffer: inout [UInt8]) throws(SystemError) -> Int {
        try buffer.withUnsafeMutableBytes { raw in Result { () throws(SystemError) in try read(fd, into: raw) } }.get()
    }

    /// Up to `count` bytes, fewer only at the end of the input.
    package static func read(_ fd: Int32, upTo count: Int) throws(SystemError) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        let filled = try result.withUnsafeMutableBytes { raw in Result { () throws(SystemError) in try readFully(fd, into: raw) } }.get()
        result.removeLast(count - filled)
        return result
    }

    /// Everything to the end of the input, read in chunks of `chunkSize`, or (stopping early) the
    /// first chunks that hold more than `limit` bytes: a result longer than `limit` says the input is.
    package static func readToEnd(_ fd: Int32, limit: Int = .max, sizeHint: Int = 4096, chunkSize: Int = 65_536) throws(SystemError) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(sizeHint)
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        while bytes.count <= limit {
            let count = try read(fd, into: &chunk)
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return bytes
    }

    /// Reads once at `offset`, leaving the descriptor's offset alone: up to `buffer.count` bytes,
    /// fewer near the end, 0 at the end.
    package static func pread(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(SystemError) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        return try retrying("pread") { libcPread(fd, base, buffer.count, off_t(offset)) }
    }

    /// Reads at `offset` until `buffer` is full or the file ends; returns how many bytes it read.
    package static func preadFully(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(SystemError) -> Int {
        var filled = 0
        while filled < buffer.count {
            let got = try pread(fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]), at: offset + Int64(filled))
            if got == 0 { break }
            filled += got
        }
        return filled
    }

    /// Reads once at `offset` into the start of `buffer` (up to its count); 0 at the end.
    package static func pread(_ fd: Int32, into buffer: inout [UInt8], at offset: Int64) throws(SystemError) -> Int {
        try buffer.withUnsafeMutableBytes { raw in Result { () throws(SystemError) in try pread(fd, into: raw, at: offset) } }.get()
    }

    /// Up to `count` bytes at `offset`, fewer only at the end of the file.
    package static func pread(_ fd: Int32, upTo count: Int, at offset: Int64) throws(SystemError) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        let filled = try result.withUnsafeMutableBytes { raw in
            Result { () throws(SystemError) in try preadFully(fd, into: raw, at: offset) }
        }.get()
        result.removeLast(count - filled)
        return result
    }

    // MARK: Writing

    /// Writes every byte, retrying short writes. A write that takes no byte throws (code 0)
    /// rather than trying for ever.
    package static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(SystemError) {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let written = try retrying("write") { libcWrite(fd, base + offset, bytes.count - offset) }
            guard written > 0 else { throw SystemError("write", code: 0) }
            offset += written
        }
    }

    /// Writes every byte, retrying short writes.
    package static func writeAll(_ fd: Int32, _ bytes: UnsafeBufferPointer<UInt8>) throws(SystemError) {
        try writeAll(fd, UnsafeRawBufferPointer(bytes))
    }

    /// Writes every byte, retrying short writes.
    package static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(SystemError) {
        try bytes.withUnsafeBytes { raw in Result { () throws(SystemError) in try writeAll(fd, raw) } }.get()
    }

    /// Writes every byte, retrying short writes.
    package static func writeAll(_ fd: Int32, _ bytes: ArraySlice<UInt8>) throws(SystemError) {
        try bytes.withUnsafeBytes { raw in Result { () throws(SystemError) in try writeAll(fd, raw) } }.get()
    }

    // MARK: Files

    /// What one of the `stat` calls fills in.
    private static func status(_ call: String, _ body: (UnsafeMutablePointer<stat>) -> Int32) throws(SystemError) -> FileStatus {
        var info = stat()
        _ = try retrying(call) { body(&info) }
        return FileStatus(info)
    }

    /// `fstat`: what an open descriptor is.
    package static func status(_ fd: Int32) throws(SystemError) -> FileStatus {
        try status("fstat") { fstat(fd, $0) }
    }

    /// `stat`: what a path is, through symlinks.
    package static func status(path: String) throws(SystemError) -> FileStatus {
        try status("stat") { stat(path, $0) }
    }

    /// `stat` by a path's bytes (a name that is not UTF-8 is looked up as it is).
    package static func status(bytes path: [UInt8]) throws(SystemError) -> FileStatus {
        let cPath = path.map { CChar(bitPattern: $0) } + [0]
        return try status("stat") { stat(cPath, $0) }
    }

    /// `lstat`: what a path is, not following a symlink at its end.
    package static func linkStatus(path: String) throws(SystemError) -> FileStatus {
        try status("lstat") { lstat(path, $0) }
    }

    /// The descriptor's current offset (`lseek(fd, 0, SEEK_CUR)`).
    package static func offset(_ fd: Int32) throws(SystemError) -> Int64 {
        Int64(try retrying("lseek") { lseek(fd, 0, SEEK_CUR) })
    }

    /// Empties a file and moves the descriptor's offset back to its start.
    package static func truncate(_ fd: Int32) throws(SystemError) {
        _ = try retrying("ftruncate") { ftruncate(fd, 0) }
        _ = try retrying("lseek") { lseek(fd, 0, SEEK_SET) }
    }

    /// Cuts a file to `length` bytes, leaving the descriptor's offset alone (`ftruncate`).
    package static func truncate(_ fd: Int32, length: Int64) throws(SystemError) {
        _ = try retrying("ftruncate") { ftruncate(fd, off_t(length)) }
    }

    /// Waits until the file's data is on the disk (`fsync`).
    package static func synchronize(_ fd: Int32) throws(SystemError) {
        _ = try retrying("fsync") { fsync(fd) }
    }

    /// Takes an exclusive advisory lock on an open file without waiting (`flock`): false when
    /// another open file description holds it. The lock goes with the descriptor's close.
    package static func tryLock(_ fd: Int32) throws(SystemError) -> Bool {
        while flock(fd, LOCK_EX | LOCK_NB) == -1 {
            let code = errno
            if code == EINTR { continue }
            if code == EWOULDBLOCK { return false }
            throw SystemError("flock", code: code)
        }
        return true
    }

    /// Creates a directory (`mkdir`); EEXIST when the name is taken.
    package static func makeDirectory(_ path: String, permissions: UInt32 = 0o755) throws(SystemError) {
        _ = try retrying("mkdir") { mkdir(path, mode_t(permissions)) }
    }

    /// The absolute, symlink-free path of an existing file (`realpath`), as bytes.
    package static func realPath(_ path: String) -> [UInt8]? {
        guard let pointer = realpath(path, nil) else { return nil }
        defer { free(pointer) }
        return Array(UnsafeRawBufferPointer(start: pointer, count: strlen(pointer)))
    }

    /// Creates a new file from a `mkstemp` template (ending in `XXXXXX`), close-on-exec;
    /// returns its descriptor and its path.
    package static func makeTemporaryFile(_ template: String) throws(SystemError) -> (fd: Int32, path: [UInt8]) {
        var name = Array(template.utf8CString)
        let fd = try name.withUnsafeMutableBufferPointer { buffer in
            Result { () throws(SystemError) in
                guard let base = buffer.baseAddress else { throw SystemError("mkstemp", code: EINVAL) }
                return try retrying("mkstemp") { mkstemp(base) }
            }
        }.get()
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        return (fd, name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) })
    }

    /// Removes a name (`unlink`).
    package static func unlink(bytes path: [UInt8]) throws(SystemError) {
        let cPath = path.map { CChar(bitPattern: $0) } + [0]
        _ = try retrying("unlink") { libcUnlink(cPath) }
    }

    /// Removes a name (`unlink`).
    package static func unlink(_ path: String) throws(SystemError) {
        _ = try retrying("unlink") { libcUnlink(path) }
    }

    /// Renames a file over another (`rename`).
    package static func rename(_ from: String, to target: String) throws(SystemError) {
        _ = try retrying("rename") { libcRename(from, target) }
    }

    /// Sets a file's permission bits (`fchmod`).
    package static func setPermissions(_ fd: Int32, _ permissions: UInt32) throws(SystemError) {
        _ = try retrying("fchmod") { fchmod(fd, mode_t(permissions)) }
    }

    /// The process's file-creation mask (read, left as it was).
    package static var creationMask: UInt32 {
        let mask = umask(0)
        umask(mask)
        return UInt32(mask)
    }

    /// The entries of a directory (without `.` and `..`), in the order the system gives them, and
    /// what the open directory is (nil if `fstat` fails on it).
    package static func directoryEntries(bytes path: [UInt8]) throws(SystemError) -> (status: FileStatus?, entries: [DirectoryEntry]) {
        let cPath = path.map { CChar(bitPattern: $0) } + [0]
        guard let handle = opendir(cPath) else { throw SystemError("opendir", code: errno) }
        defer { closedir(handle) }
        let status = try? SystemCalls.status(dirfd(handle))
        var entries: [DirectoryEntry] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            if name == [0x2E] || name == [0x2E, 0x2E] { continue }
            entries.append(DirectoryEntry(name: name, isDirectory: entry.pointee.d_type == UInt8(DT_DIR)))
        }
        return (status, entries)
    }

    // MARK: Terminals and the process

    /// Whether a descriptor is a terminal.
    package static func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }

    /// The width in columns of the terminal on `fd`, if it is one that says.
    package static func terminalColumns(_ fd: Int32) -> Int? {
        #if canImport(Darwin)
        let request = UInt(0x4008_7468)  // TIOCGWINSZ, _IOR('t', 104, struct winsize): a macro Swift does not import
        #else
        let request = UInt(TIOCGWINSZ)
        #endif
        var size = winsize()
        guard ioctl(fd, request, &size) == 0, size.ws_col > 0 else { return nil }
        return Int(size.ws_col)
    }

    /// An environment variable's value.
    package static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// Nanoseconds since 1970 by the real-time clock (`clock_gettime(CLOCK_REALTIME)`).
    @inlinable
    package static var realTimeNanoseconds: Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }

    /// The calling thread (`pthread_self`), as a number that no other running thread has.
    package static var currentThread: UInt {
        #if canImport(Glibc)
        UInt(pthread_self())
        #else
        UInt(bitPattern: pthread_self())
        #endif
    }

    /// The number of processors online (at least 1).
    package static var processorCount: Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }
}

// The C functions whose names `SystemCalls` reuses, under names of their own (inside the
// enum, `read` or `close` would name its own method).
@inline(__always) private func libcOpen(_ path: UnsafePointer<CChar>, _ flags: Int32, _ permissions: UInt32) -> Int32 {
    open(path, flags, mode_t(permissions))
}
@inline(__always) private func libcClose(_ fd: Int32) -> Int32 { close(fd) }
@inline(__always) private func libcRead(_ fd: Int32, _ base: UnsafeMutableRawPointer, _ count: Int) -> Int { read(fd, base, count) }
@inline(__always) private func libcPread(_ fd: Int32, _ base: UnsafeMutableRawPointer, _ count: Int, _ offset: off_t) -> Int {
    pread(fd, base, count, offset)
}
@inline(__always) private func libcWrite(_ fd: Int32, _ base: UnsafeRawPointer, _ count: Int) -> Int { write(fd, base, count) }
@inline(__always) private func libcUnlink(_ path: UnsafePointer<CChar>) -> Int32 { unlink(path) }
@inline(__always) private func libcRename(_ from: UnsafePointer<CChar>, _ to: UnsafePointer<CChar>) -> Int32 { rename(from, to) }
