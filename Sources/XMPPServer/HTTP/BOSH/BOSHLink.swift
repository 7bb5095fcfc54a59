import NIOCore

/// Our end of a BOSH session's socket pair: what the c2s connection writes goes to the
/// session; the session's writes go to the c2s connection.
final class BOSHLink: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let session: BOSHSession

    init(session: BOSHSession) { self.session = session }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        session.serverWrote(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        session.serverEnded()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
