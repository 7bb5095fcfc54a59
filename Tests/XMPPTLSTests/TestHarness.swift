import NIOCore
import NIOEmbedded
import XMPPConfig
import XCTest
@testable import XMPPTLS

/// Sits after the TLS handler and records what reaches the application.
final class Recorder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    var handshake: TLSHandshakeCompleted?
    var errors: [Error] = []
    var received: [UInt8] = []
    var reads = 0
    var inactive = false
    var echo = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        reads += 1
        if echo { context.writeAndFlush(data, promise: nil) }
        received += buffer.readBytes(length: buffer.readableBytes) ?? []
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSHandshakeCompleted { handshake = event }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) { errors.append(error) }

    func channelInactive(context: ChannelHandlerContext) { inactive = true }

    var handshakeError: String? {
        for case TLSError.handshakeFailed(let reason) in errors { return reason }
        return nil
    }
}

/// A client and a server EmbeddedChannel with TLS handlers; `shuttle` moves bytes between
/// them (optionally in small chunks) until neither has anything left to send.
final class EmbeddedPair {
    let client = EmbeddedChannel()
    let server = EmbeddedChannel()
    let clientRecorder = Recorder()
    let serverRecorder = Recorder()
    let clientTLS: OpenSSLHandler
    let serverTLS: OpenSSLHandler

    init(server serverContext: TLSContext, client clientContext: TLSContext,
         serverHostname: String? = "localhost") throws {
        serverTLS = OpenSSLHandler(context: serverContext)
        clientTLS = OpenSSLHandler(context: clientContext, serverHostname: serverHostname)
        try server.pipeline.syncOperations.addHandlers([serverTLS, serverRecorder])
        try client.pipeline.syncOperations.addHandlers([clientTLS, clientRecorder])
    }

    /// Activates both channels (the client then sends its ClientHello) and runs the handshake.
    func connect(chunkSize: Int? = nil) throws {
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 5222)
        try server.connect(to: address).wait()
        try client.connect(to: address).wait()
        try shuttle(chunkSize: chunkSize)
    }

    func shuttle(chunkSize: Int? = nil) throws {
        var moved = true
        while moved {
            moved = false
            if try move(from: client, to: server, chunkSize: chunkSize) { moved = true }
            if try move(from: server, to: client, chunkSize: chunkSize) { moved = true }
        }
    }

    private func move(from: EmbeddedChannel, to: EmbeddedChannel, chunkSize: Int?) throws -> Bool {
        var moved = false
        while var buffer = try from.readOutbound(as: ByteBuffer.self) {
            moved = true
            guard to.isActive else { continue }
            let size = chunkSize ?? max(buffer.readableBytes, 1)
            while buffer.readableBytes > 0, to.isActive {
                let chunk = buffer.readSlice(length: min(size, buffer.readableBytes))!
                try to.writeInbound(chunk)
            }
        }
        return moved
    }
}

/// C2S options (fast_tls defaults) pointing at the test PKI's server certificate.
func c2sOptions(_ pki: TestPKI, module: TLSModule = .fastTLS) -> C2STLSOptions {
    var o = C2STLSOptions()
    o.mode = .starttls
    o.module = module
    o.certfile = pki.path("server.pem")
    if module == .justTLS { o.protocolOptions = nil; o.ciphers = nil }
    return o
}

func clientContext(_ pki: TestPKI, cert: String? = nil, versions: [TLSVersion]? = nil,
                   ciphers: String? = nil) throws -> TLSContext {
    try TLSContext.client(verify: true, caFile: pki.path("ca.pem"),
                          certificateFile: cert.map { pki.path("\($0).crt") },
                          keyFile: cert.map { pki.path("\($0).key") },
                          versions: versions, cipherString: ciphers)
}
