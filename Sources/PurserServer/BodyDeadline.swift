import NIOCore
import NIOHTTPTypes

/// Closes a connection whose request body does not arrive within `timeout` of its head, so
/// that a client trickling a body byte by byte cannot hold a connection, and the task serving
/// it, for ever (docs/api.md, "What the server does not trust").
///
/// It sits in the channel's pipeline after the HTTP decoder, on the connection's event loop:
/// a timer starts only when a read ends with a request still incomplete (a whole small request
/// in one read, the usual case, starts none) and is cancelled by the request's end.
final class BodyDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private let timeout: TimeAmount
    private var inRequest = false
    private var deadline: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            inRequest = true
        case .body:
            break
        case .end:
            inRequest = false
            deadline?.cancel()
            deadline = nil
        }
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if inRequest, deadline == nil {
            let channel = context.channel
            deadline = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        }
        context.fireChannelReadComplete()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }
}

/// Handlers live on their connection's event loop and are never shared between threads.
@available(*, unavailable)
extension BodyDeadline: Sendable {}
