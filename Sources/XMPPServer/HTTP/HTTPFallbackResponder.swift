import NIOCore
import NIOHTTP1

/// Answers the HTTP requests of a `[[listen.http]]` listener that no handler takes:
/// 404 for unknown paths, 426 for a WebSocket path asked without a WebSocket upgrade or
/// without the "xmpp" subprotocol (RFC 7395 §3.1), then closes the connection. A
/// connection that sends no complete request within `HTTPListener.requestTimeout` is
/// closed, so idle sockets cannot pile up; an upgrade removes this handler and its timer.
final class HTTPFallbackResponder: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let routes: HTTPListener
    private var response: (HTTPResponseStatus, String)?
    private var timeout: Scheduled<Void>?

    init(routes: HTTPListener) { self.routes = routes }

    func handlerAdded(context: ChannelHandlerContext) {
        timeout = context.eventLoop.scheduleTask(in: HTTPListener.requestTimeout) { context.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) { timeout?.cancel() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            if routes.route(for: head) == nil {
                response = (.notFound, "no handler for \(head.uri)\n")
            } else {
                response = (.upgradeRequired, "this path serves XMPP over WebSocket (RFC 7395): "
                            + "ask for an upgrade with the \"xmpp\" subprotocol\n")
            }
        case .body:
            break
        case .end:
            guard let (status, text) = response else { return }
            response = nil
            var headers = HTTPHeaders([("Content-Type", "text/plain; charset=utf-8"), ("Connection", "close"),
                                       ("Content-Length", String(text.utf8.count))])
            if status == .upgradeRequired {
                headers.add(name: "Upgrade", value: "websocket")
                headers.add(name: "Sec-WebSocket-Protocol", value: "xmpp")
            }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: text)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
        }
    }
}
