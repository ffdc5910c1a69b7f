import Foundation
import Purser
import PurserServer
import PurserTestSupport
import Testing

/// A `PurserServer` running in this process on a free loopback port, spoken to over real
/// HTTP by ``HTTPTestClient``.
final class RunningServer: Sendable {
    let port: Int
    let server: PurserServer
    private let task: Task<Void, any Error>

    private init(port: Int, server: PurserServer, task: Task<Void, any Error>) {
        self.port = port
        self.server = server
        self.task = task
    }

    /// Starts a server and waits until it accepts connections.
    static func start(_ enforcer: Enforcer, options: ServerOptions = ServerOptions(), files: [String] = [],
                      decisionLog: (any DecisionSink)? = nil) async throws -> RunningServer {
        var options = options
        options.listen = ListenAddress(host: "127.0.0.1", port: 0)
        let server = try PurserServer(enforcer: enforcer, options: options, files: files, decisionLog: decisionLog)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let task = Task {
            try await server.run(handlingSignals: false) { port in continuation.yield(port) }
            continuation.finish()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            _ = try await task.value
            throw HTTPTestClient.Failure(description: "the server stopped before listening")
        }
        return RunningServer(port: port, server: server, task: task)
    }

    /// Stops the server (graceful: calls in flight finish) and waits for it.
    func stop() async throws {
        await server.shutdown()
        try await task.value
    }

    func post(_ path: String, _ body: String, token: String? = nil) async throws -> HTTPTestClient.Response {
        try await HTTPTestClient.send(port: port, "POST", path, body: body, headers: token.map { ["Authorization": "Bearer \($0)"] } ?? [:])
    }

    func get(_ path: String, token: String? = nil) async throws -> HTTPTestClient.Response {
        try await HTTPTestClient.send(port: port, "GET", path, headers: token.map { ["Authorization": "Bearer \($0)"] } ?? [:])
    }
}

/// Runs a test against a fresh server, stopping it at the end whatever happens.
func withServer(_ enforcer: Enforcer, options: ServerOptions = ServerOptions(), files: [String] = [],
                decisionLog: (any DecisionSink)? = nil, _ body: (RunningServer) async throws -> Void) async throws {
    let server = try await RunningServer.start(enforcer, options: options, files: files, decisionLog: decisionLog)
    do {
        try await body(server)
    } catch {
        try await server.stop()
        throw error
    }
    try await server.stop()
}

extension HTTPTestClient.Response {
    /// The body as a JSON object.
    var json: [String: Any] {
        get throws {
            let value = try JSONSerialization.jsonObject(with: Data(body))
            return try #require(value as? [String: Any], "not a JSON object: \(text)")
        }
    }
}

/// A decision's JSON without its id, which differs between two enforcers.
func withoutID(_ json: String) -> String {
    json.replacingOccurrences(of: #""decision_id":"d-[0-9a-f]{26}""#, with: "\"decision_id\":\"…\"", options: .regularExpression)
}

/// A temporary directory removed at the end of the test.
struct Scratch {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "purser-server-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func write(_ name: String, _ text: String) throws -> String {
        let file = path + "/" + name
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}
