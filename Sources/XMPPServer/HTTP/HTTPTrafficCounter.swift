import NIOCore

/// The http listener's share of `xmppctl listeners`: its TCP connections and the bytes
/// they carry (after TLS, as c2s counts), whatever runs on them — requests, BOSH,
/// WebSocket, server-sent events. The XMPP streams behind WebSocket and BOSH count
/// their stanzas and logins but not the connection or bytes again.
final class HTTPTrafficCounter: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let stats: WorkerStats

    init(stats: WorkerStats) { self.stats = stats }

    func channelActive(context: ChannelHandlerContext) {
        stats.connectionOpened()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stats.connectionClosed()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        stats.received(bytes: unwrapInboundIn(data).readableBytes)
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        stats.sent(bytes: unwrapOutboundIn(data).readableBytes, stanzas: 0)
        context.write(data, promise: promise)
    }
}
