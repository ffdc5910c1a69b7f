import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// Hummingbird's HTTP/1.1 connection (`HTTP1Channel`, the same decoder limits and
/// handlers), with `purser serve`'s own handlers in the places they need:
///
///     HTTP codec → BodyDeadline → HTTPConnectionStateHandler → DecisionFastPath → Hummingbird's routes
///
/// `DecisionFastPath` comes after the connection state handler, so that the requests it
/// answers count as activity for the idle timeout and for the graceful shutdown's drain, as
/// every other request does (docs/api.md, "How the server answers").
struct DecisionChannel: ServerChildChannel, HTTPChannelHandler {
    typealias Value = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>

    let responder: HTTPChannelHandler.Responder
    let readTimeout: TimeAmount
    let idleTimeout: TimeAmount
    /// A new fast path for each connection, or nil for none (a ledger that waits).
    let fastPath: @Sendable () -> DecisionFastPath?

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            // Hummingbird's defaults (HTTP1Channel.Configuration.DecoderConfiguration).
            var limits = NIOHTTPDecoderLimitConfiguration()
            limits.maxHeaderFieldSize = 80 * 1024
            limits.maxHeaderListSize = 80 * 1024
            limits.maxHeaderFieldCount = 1000
            let pipeline = channel.pipeline.syncOperations
            try pipeline.configureHTTPServerPipeline(withPipeliningAssistance: false, withErrorHandling: false,
                                                     withOutboundHeaderValidation: false, withEncoderConfiguration: .init(),
                                                     withDecoderLimitConfiguration: limits)
            try pipeline.addHandler(HTTP1ToHTTPServerCodec(secure: false))
            try pipeline.addHandler(BodyDeadline(timeout: readTimeout))
            try pipeline.addHandler(HTTPConnectionStateHandler(idleTimeout: .nanoseconds(idleTimeout.nanoseconds), logger: logger))
            if let fastPath = fastPath() { try pipeline.addHandler(fastPath) }
            return try NIOAsyncChannel(wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
        }
    }

    func handle(value asyncChannel: Value, logger: Logger) async {
        await handleHTTP(asyncChannel: asyncChannel, logger: logger)
    }
}
