#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Foundation

#if canImport(Glibc)
private let systemSend = Glibc.send
#else
private let systemSend = Darwin.send
#endif

/// A plain HTTP/1.1 client over a loopback TCP socket, for the server tests: it sends exactly
/// the bytes it is given (so tests can also send malformed, huge or slow requests) and reads
/// the whole answer. Each call is one connection with `Connection: close`. The socket work
/// runs on a thread of its own, never on Swift's concurrency pool, which the server needs.
package enum HTTPTestClient {
    /// An answer.
    package struct Response: Sendable {
        /// The status code (200, 404…).
        package let status: Int
        /// Header fields, names lowercased.
        package let headers: [String: String]
        /// The body's bytes.
        package let body: [UInt8]
        /// The body as text.
        package var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// Why a call failed (connection refused, closed before an answer, timed out).
    package struct Failure: Error, CustomStringConvertible {
        package let description: String
        package init(description: String) { self.description = description }
    }

    /// Sends a request with a body (`Content-Length` set) and optional headers.
    package static func send(port: Int, _ method: String, _ path: String, body: String? = nil,
                             headers: [String: String] = [:], timeout: Double = 30) async throws -> Response {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { head += "\(name): \(value)\r\n" }
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
        head += "\r\n"
        return try await raw(port: port, [Array(head.utf8) + Array((body ?? "").utf8)], timeout: timeout)
    }

    /// Sends raw byte chunks, `pause` seconds apart, then reads the answer until the server closes.
    package static func raw(port: Int, _ chunks: [[UInt8]], pause: Double = 0, timeout: Double = 30) async throws -> Response {
        try await withCheckedThrowingContinuation { continuation in
            // A thread of its own: a blocked Dispatch worker would hold up the other tests' calls.
            Thread {
                continuation.resume(with: Result { try exchange(port: port, chunks, pause: pause, timeout: timeout) })
            }.start()
        }
    }

    /// A TCP socket connected to `port` on loopback, with send and receive timeouts.
    static func connected(port: Int, timeout: Double, sendTimeout: Bool = true) throws -> Int32 {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        var limit = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        if sendTimeout { setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size)) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let failure = Failure(description: "connect to port \(port): errno \(errno)")
            close(fd)
            throw failure
        }
        return fd
    }

    private static func exchange(port: Int, _ chunks: [[UInt8]], pause: Double, timeout: Double) throws -> Response {
        let fd = try connected(port: port, timeout: timeout)
        defer { close(fd) }
        for (index, chunk) in chunks.enumerated() {
            if index > 0, pause > 0 { usleep(useconds_t(pause * 1_000_000)) }
            var sent = 0
            while sent < chunk.count {
                // The server may answer (413) before it has read everything: then stop sending, as
                // curl does, and read the answer.
                var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                if poll(&ready, 1, 0) > 0 { break }
                let piece = chunk[sent..<min(chunk.count, sent + 65_536)]
                let count = piece.withUnsafeBytes { systemSend(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                guard count > 0 else { break }
                sent += count
            }
        }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                received.append(contentsOf: buffer[0..<count])
                if let response = parse(received), response.complete { return response.response }
                continue
            }
            if count == 0 || errno == ECONNRESET { break }
            if errno == EINTR { continue }
            throw Failure(description: "recv: errno \(errno) after \(received.count) bytes")
        }
        guard let response = parse(received) else {
            throw Failure(description: "the server closed the connection without an answer (\(received.count) bytes)")
        }
        return response.response
    }

    /// One keep-alive connection, driven step by step on a thread of its own (`run`): for
    /// pipelined requests, several answers on one connection, and idle timeouts.
    package final class Connection {
        private let fd: Int32
        private var received: [UInt8] = []

        /// Runs `body` with a connection to `port` on a thread of its own, then closes it.
        package static func run<T: Sendable>(port: Int, timeout: Double = 30, _ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
            try await withCheckedThrowingContinuation { continuation in
                Thread {
                    continuation.resume(with: Result {
                        let connection = try Connection(port: port, timeout: timeout)
                        defer { close(connection.fd) }
                        return try body(connection)
                    })
                }.start()
            }
        }

        private init(port: Int, timeout: Double) throws {
            // No send timeout: a flood's sender waits for the server to read again.
            fd = try HTTPTestClient.connected(port: port, timeout: timeout, sendTimeout: false)
        }

        /// Sends bytes as they are.
        package func send(_ text: String) throws {
            let bytes = Array(text.utf8)
            var sent = 0
            while sent < bytes.count {
                let count = bytes[sent...].withUnsafeBytes { systemSend(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                guard count > 0 else { throw Failure(description: "send: errno \(errno)") }
                sent += count
            }
        }

        /// The next whole answer on the connection.
        package func next() throws -> Response {
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                if let (response, used) = HTTPTestClient.parseOne(received) {
                    received.removeFirst(used)
                    return response
                }
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count > 0 {
                    received.append(contentsOf: buffer[0..<count])
                } else if count < 0, errno == EINTR {
                    continue
                } else {
                    throw Failure(description: count == 0 ? "the server closed the connection" : "recv: errno \(errno)")
                }
            }
        }

        /// Whether the server closes the connection within `seconds`, sending nothing more.
        package func closes(within seconds: Double) -> Bool {
            var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, Int32(seconds * 1000)) > 0 else { return false }
            var byte: UInt8 = 0
            return recv(fd, &byte, 1, 0) <= 0
        }
    }

    /// The first whole answer in `bytes` (by `Content-Length`) and how many bytes it took.
    static func parseOne(_ bytes: [UInt8]) -> (Response, Int)? {
        guard let (response, complete) = parse(bytes), complete,
              let end = bytes.indices.dropLast(3).first(where: { bytes[$0..<$0 + 4].elementsEqual([13, 10, 13, 10]) })
        else { return nil }
        return (response, end + 4 + response.body.count)
    }

    /// The response in `bytes`, and whether its body is complete (by `Content-Length`).
    private static func parse(_ bytes: [UInt8]) -> (response: Response, complete: Bool)? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = bytes.indices.dropLast(3).first(where: { bytes[$0..<$0 + 4].elementsEqual(separator) }) else { return nil }
        let head = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        guard let statusLine = head.first, let status = Int(statusLine.split(separator: " ").dropFirst().first ?? "") else { return nil }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let body = Array(bytes[(end + 4)...])
        let length = headers["content-length"].flatMap { Int($0) }
        let complete = length.map { body.count >= $0 } ?? false
        return (Response(status: status, headers: headers, body: length.map { Array(body.prefix($0)) } ?? body), complete)
    }
}
