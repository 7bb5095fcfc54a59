import NIOCore
import NIOPosix
import COpenSSL
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

/// Echoes the first read, then closes (sending close_notify).
private final class EchoOnceAndClose: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let handshake: EventLoopPromise<TLSHandshakeCompleted>
    init(handshake: EventLoopPromise<TLSHandshakeCompleted>) { self.handshake = handshake }
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSHandshakeCompleted { handshake.succeed(event) }
    }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.writeAndFlush(data).whenComplete { _ in context.close(promise: nil) }
    }
    func errorCaught(context: ChannelHandlerContext, error: Error) { handshake.fail(error) }
}

/// Interoperability with another TLS implementation: the `openssl s_client` CLI.
final class OpenSSLCLIInteropTests: XCTestCase {
    func testSClientEchoAndSameTLSExporter() throws {
        let pki = try TestPKI()
        let context = try TLSContext.server(c2s: c2sOptions(pki))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        for version in ["-tls1_3", "-tls1_2"] {
            let handshake = group.next().makePromise(of: TLSHandshakeCompleted.self)
            let server = try ServerBootstrap(group: group)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers([OpenSSLHandler(context: context),
                                                                         EchoOnceAndClose(handshake: handshake)])
                    }
                }
                .bind(host: "127.0.0.1", port: 0).wait()
            defer { try? server.close().wait() }
            let port = server.localAddress!.port!
            let (status, out) = try Shell.run("""
                printf 'xmpp-ping\\n' | timeout 20 openssl s_client \(version) -connect 127.0.0.1:\(port) \
                  -CAfile ca.pem -verify_return_error -servername localhost -ign_eof \
                  -keymatexport EXPORTER-Channel-Binding -keymatexportlen 32
                """, in: pki.directory)
            XCTAssertEqual(status, 0, out)
            XCTAssertTrue(out.contains("xmpp-ping"), out)
            XCTAssertTrue(out.contains("Verify return code: 0 (ok)"), out)
            let event = try handshake.futureResult.wait()
            let hex = event.tlsExporter!.map { String(format: "%02X", $0) }.joined()
            XCTAssertTrue(out.contains("Keying material: \(hex)"), "\(version): \(hex)\n\(out)")
        }
    }
}

final class DHParameterTests: XCTestCase {
    /// DHE suites only work with DH parameters: without tls.dhfile the handshake finds no
    /// shared cipher, with it the DHE suite is chosen.
    func testDHFileEnablesDHESuites() throws {
        let pki = try TestPKI()
        var options = c2sOptions(pki)
        options.certfile = pki.path("rsa-server.pem")
        let client = try clientContext(pki, versions: [.tlsv1_2], ciphers: "DHE-RSA-AES128-GCM-SHA256")
        let without = try EmbeddedPair(server: try TLSContext.server(c2s: options), client: client)
        try without.connect()
        XCTAssertEqual(without.serverRecorder.handshakeError, "no shared cipher")
        options.dhfile = pki.path("dh.pem")
        let with = try EmbeddedPair(server: try TLSContext.server(c2s: options), client: client)
        try with.connect()
        XCTAssertEqual(with.serverRecorder.handshake?.cipher, "DHE-RSA-AES128-GCM-SHA256")
    }

    /// fast_tls and OpenSSL keep the session's buffers only while needed.
    func testContextReleasesIdleBuffers() throws {
        let pki = try TestPKI()
        let context = try TLSContext.server(c2s: c2sOptions(pki))
        let mode = SSL_CTX_ctrl(context.ctx, SSL_CTRL_MODE, 0, nil)
        XCTAssertEqual(mode & ContextSetup.modeReleaseBuffers, ContextSetup.modeReleaseBuffers)
    }
}
