import HTTPTypes
import NIOCore
import NIOHTTPTypes
import Purser
import PurserCore

/// Answers `POST /v1/authorize` and `/v1/evaluate` on the connection's event loop, when the
/// ledger answers without waiting (the in-memory ledger) and the policy takes no budget leases.
///
/// Through Hummingbird, every request crosses from the event loop to a task on Swift's thread
/// pool and back: at half the empty server's rate that hop, not the decision, was most of the
/// server's CPU and its p99 (docs/performance.md, "`purser serve` beside an empty Hummingbird
/// server (2026-12-07)"). Here the decision is made where the request was read, with the same
/// checks, answer, metrics and decision log as the route (``Routes``), which both call.
///
/// What it does not answer it passes on, untouched, to Hummingbird's routes: other paths; a
/// request while an earlier one on the connection is still being answered there (answers
/// must keep the requests' order, and Hummingbird pipelines through its own task); a request
/// while the connection's output is full (the route's writer then holds back reading); and any
/// request the route would refuse (a missing or wrong token, a malformed body, a `cost` or
/// `timestamp` the caller may not send, a body over the limit), which it hands over whole, so
/// that the refusal is the route's own.
final class DecisionFastPath: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let server: PurserServer
    /// Requests passed on whose answers have not been written yet.
    private var passedOn = 0
    /// The request being read for this path: its head, the body so far, when it began.
    private var taking: (head: HTTPRequest, endpoint: ServerMetrics.Endpoint, body: ByteBuffer, started: ContinuousClock.Instant)?
    private var date = HTTPDate()

    init(server: PurserServer) {
        self.server = server
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            // While the connection cannot take more output (a client that sends and does not
            // read), requests go to the route, whose writer waits and so stops reading.
            if passedOn == 0, context.channel.isWritable, let endpoint = takes(head) {
                taking = (head, endpoint, context.channel.allocator.buffer(capacity: 0), ContinuousClock.now)
                return
            }
            passedOn += 1
        case .body(var chunk):
            if var request = taking {
                taking = nil
                if request.body.readableBytes + chunk.readableBytes <= server.options.maxBodyBytes {
                    request.body.writeBuffer(&chunk)
                    taking = request
                } else {
                    // Over the limit: the route answers 413 and closes, as for any request.
                    handOver(request, context: context)
                    break
                }
                return
            }
        case .end:
            if let request = taking {
                taking = nil
                answer(request, context: context)
                return
            }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), passedOn > 0 { passedOn -= 1 }
        context.write(data, promise: promise)
    }

    /// The endpoint when this path may answer the request.
    private func takes(_ head: HTTPRequest) -> ServerMetrics.Endpoint? {
        guard head.method == .post, let target = head.path else { return nil }
        let path = target.firstIndex(of: "?").map { target[..<$0] } ?? target[...]
        let endpoint: ServerMetrics.Endpoint
        switch path {
        case "/v1/authorize": endpoint = .authorize
        case "/v1/evaluate": endpoint = .evaluate
        default: return nil
        }
        let enforcer = server.enforcer
        guard enforcer.decidesWithoutWaiting, enforcer.policy.flags.budgetLeases == nil else { return nil }
        // A body announced over the limit goes to the route, which answers 413 at once.
        if let length = head.headerFields[.contentLength].flatMap({ Int($0) }), length > server.options.maxBodyBytes { return nil }
        return endpoint
    }

    private func answer(_ request: (head: HTTPRequest, endpoint: ServerMetrics.Endpoint, body: ByteBuffer, started: ContinuousClock.Instant),
                        context: ChannelHandlerContext)
    {
        let routes = Routes(server: server)
        let reserving = request.endpoint == .authorize
        let bytes = Array(request.body.readableBytesView)
        guard let caller = try? routes.authenticate(request.head.headerFields, path: request.head.path ?? "", needs: .decide),
              let decoded = try? routes.decisionRequest(bytes, caller: caller, reserving: reserving)
        else {
            handOver(request, context: context)
            context.fireChannelRead(wrapInboundOut(.end(nil)))
            return
        }
        let enforcer = server.enforcer
        let decision = reserving ? enforcer.authorizeNow(decoded) : enforcer.evaluateNow(decoded)
        let body = routes.answer(decision, to: decoded, caller: caller, reserving: reserving, allocator: context.channel.allocator)
        server.metrics.took(ContinuousClock.now - request.started, at: request.endpoint)
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        fields[.contentLength] = String(body.readableBytes)
        fields[.date] = date.now()
        context.write(wrapOutboundOut(.head(HTTPResponse(status: .ok, headerFields: fields))), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        // As Hummingbird's request loop does: a client that asked to close gets no more answers
        // (closed once the answer is out, not before).
        if request.head.headerFields[.connection]?.lowercased() == "close" {
            let channel = context.channel
            written.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    /// Passes a request read so far on to the route (its end, if read, is the caller's to pass).
    private func handOver(_ request: (head: HTTPRequest, endpoint: ServerMetrics.Endpoint, body: ByteBuffer, started: ContinuousClock.Instant),
                          context: ChannelHandlerContext)
    {
        passedOn += 1
        context.fireChannelRead(wrapInboundOut(.head(request.head)))
        if request.body.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(.body(request.body))) }
    }
}

/// Handlers live on their connection's event loop and are never shared between threads.
@available(*, unavailable)
extension DecisionFastPath: Sendable {}

/// The `Date` header's value (RFC 9110's IMF-fixdate), made once a second.
struct HTTPDate {
    private var second: Int64 = .min
    private var text = ""

    private static let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]  // 1970-01-01 was a Thursday
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Now, by the system's clock.
    mutating func now() -> String {
        let seconds = SystemClock().now().nanoseconds / 1_000_000_000
        if seconds != second {
            second = seconds
            text = Self.format(seconds)
        }
        return text
    }

    /// `Mon, 07 Dec 2026 20:21:34 GMT` for seconds since 1970.
    static func format(_ seconds: Int64) -> String {
        let days = Int(seconds.quotientAndRemainder(dividingBy: 86_400).quotient) - (seconds < 0 && seconds % 86_400 != 0 ? 1 : 0)
        let inDay = Int(seconds - Int64(days) * 86_400)
        let date = CivilDate(days: days)
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let weekday = weekdays[((days % 7) + 7) % 7]
        return "\(weekday), \(two(date.day)) \(months[date.month - 1]) \(date.year) \(two(inDay / 3600)):\(two(inDay / 60 % 60)):\(two(inDay % 60)) GMT"
    }
}
