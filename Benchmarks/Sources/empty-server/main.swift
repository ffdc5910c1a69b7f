// `empty-server`: the baseline `purser serve` is measured against (Benchmarks/run.sh server).
//
// A Hummingbird 2 server configured as `purser serve` is (HTTP/1.1, the same idle timeout,
// the body collected up to 1 MiB) whose handler decides nothing: it answers every POST with
// one fixed decision, as long as a real one. What `purser serve` adds on top of it (decoding,
// deciding, reserving, encoding, metrics) is the difference between the two rates.
//
//   empty-server PORT
import Hummingbird
import NIOCore

let decision = Array("""
    {"decision":"allow","decision_id":"d-5f0c1e2d3b4a59680000000001","request_id":null,"model":"claude-sonnet-4-5","region":"us-east-1","rerouted":false,"cost":0.0156,"violations":[],"budgets":[{"id":"org-month","key":"org","window":"2026-12","unit":"usd","limit":1000000000,"spent":0,"reserved":0.0156,"remaining":999999999.9844},{"id":"team.payments.day","key":"payments","window":"2026-12-07","unit":"usd","limit":1000000000,"spent":0,"reserved":0.0156,"remaining":999999999.9844}],"alerts":[],"policy_revision":"sha256:0000000000000000000000000000000000000000000000000000000000000000"}
    """.utf8)

struct Fixed: HTTPResponder {
    func respond(to request: Request, context: BasicRequestContext) async throws -> Response {
        _ = try await request.body.collect(upTo: 1 << 20)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: decision)))
    }
}

let port = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 8182
let app = Application(responder: Fixed(), server: .http1(configuration: .init(idleTimeout: .seconds(60))),
                      configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: port), serverName: nil))
try await app.runService()
