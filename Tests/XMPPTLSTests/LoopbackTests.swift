import NIOCore
import NIOPosix
import XCTest
@testable import XMPPTLS

/// Real sockets: sends bytes back as they arrive.
private final class Echo: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    func channelRead(context: ChannelHandlerContext, data: NIOAny) { context.write(data, promise: nil) }
    func channelReadComplete(context: ChannelHandlerContext) { context.flush() }
}

/// Collects `expected` bytes, then fulfils its promise.
private final class Collector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let expected: Int
    let promise: EventLoopPromise<[UInt8]>
    var bytes: [UInt8] = []
    init(expected: Int, promise: EventLoopPromise<[UInt8]>) { self.expected = expected; self.promise = promise }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var b = unwrapInboundIn(data)
        bytes += b.readBytes(length: b.readableBytes)!
        if bytes.count >= expected { promise.succeed(bytes) }
    }
    func errorCaught(context: ChannelHandlerContext, error: Error) { promise.fail(error) }
    func channelInactive(context: ChannelHandlerContext) { promise.fail(ChannelError.eof) }
}

final class LoopbackTests: XCTestCase {
    func testOneMegabyteEchoedIntactAndHalfClose() throws {
        let pki = try TestPKI()
        let serverContext = try TLSContext.server(c2s: c2sOptions(pki))
        let clientContext = try clientContext(pki)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }

        let server = try ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([OpenSSLHandler(context: serverContext), Echo()])
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        defer { try? server.close().wait() }

        let size = 1 << 20
        let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) }
        let done = group.next().makePromise(of: [UInt8].self)
        let client = try ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        OpenSSLHandler(context: clientContext, serverHostname: "localhost"),
                        Collector(expected: size, promise: done),
                    ])
                }
            }
            .connect(to: server.localAddress!).wait()

        // The write promise completes once the ciphertext reached the socket.
        try client.writeAndFlush(ByteBuffer(bytes: payload)).wait()
        let echoed = try done.futureResult.wait()
        XCTAssertEqual(echoed.count, size)
        XCTAssertTrue(echoed == payload)

        // Half-close: our close_notify goes out, the server answers with its own and closes,
        // so the client side ends too.
        try client.close(mode: .output).wait()
        try client.closeFuture.wait()
    }
}
