import COpenSSL
import NIOCore

/// TLS for one connection: an SSL* between two memory BIOs. Ciphertext from the network is
/// written into `networkIn`; OpenSSL's output is drained from `networkOut` and written to the
/// channel. Plaintext goes up as ByteBuffers; plaintext writes come back encrypted.
///
/// STARTTLS: add it at the front of the pipeline right after `<proceed/>` was written (the
/// client sends nothing until it has read `<proceed/>`). Direct TLS: add it in the initializer.
/// Fires `TLSHandshakeCompleted` on success, `TLSError.handshakeFailed(reason)` then close on failure.
///
/// A server context with `compactSessions` runs only the handshake in OpenSSL when TLS 1.3 is
/// negotiated with an AES-GCM or ChaCha20-Poly1305 suite: it then frees the SSL object and
/// protects records with `TLS13Session` (state `.compact`). To know the record sequence
/// numbers at that moment, the handshake is fed to OpenSSL one record at a time.
public final class OpenSSLHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    enum State { case idle, handshaking, active, compact, closed }

    private let tlsContext: TLSContext
    /// nil once the session is compact; the two BIOs belong to it and go with it.
    private var ssl: OpaquePointer?
    private var networkIn: OpaquePointer
    private var networkOut: OpaquePointer
    /// Server side with `compactSessions`, until the handshake ends.
    private var secretCapture: TrafficSecretCapture?
    private var handshakeRecords = RecordBoundary()
    /// The record layer after compaction.
    private var session: TLS13Session?
    private let isServer: Bool
    private var state = State.idle
    /// Writes made before the handshake finished; sent, in order, once it has.
    private var bufferedWrites: [(ByteBuffer, EventLoopPromise<Void>?)] = []
    private var flushRequested = false
    private var closeNotifySent = false
    /// Set when the handshake completes; also the last event fired.
    public private(set) var handshakeCompleted: TLSHandshakeCompleted?

    /// Largest plaintext OpenSSL returns per SSL_read (one record).
    private static let recordSize = 16_384

    /// - Parameters:
    ///   - context: a server context gives a server-side handler, a client context a client.
    ///   - serverHostname: client side: sent as SNI, and checked against the certificate when
    ///     the context verifies the peer.
    public init(context: TLSContext, serverHostname: String? = nil) {
        tlsContext = context
        isServer = context.configuration.role == .server
        // SSL_new / BIO_new only fail on allocation failure.
        let ssl = SSL_new(context.ctx)!
        self.ssl = ssl
        networkIn = BIO_new(BIO_s_mem())!
        networkOut = BIO_new(BIO_s_mem())!
        SSL_set_bio(ssl, networkIn, networkOut)   // ssl owns both BIOs now
        if isServer {
            SSL_set_accept_state(ssl)
            if context.compactSessions {
                let capture = TrafficSecretCapture()
                capture.attach(to: ssl)
                secretCapture = capture
            }
        } else {
            SSL_set_connect_state(ssl)
            if let host = serverHostname {
                _ = host.withCString { SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, Int(TLSEXT_NAMETYPE_host_name), UnsafeMutableRawPointer(mutating: $0)) }
                if context.configuration.verification != .none { _ = SSL_set1_host(ssl, host) }
            }
        }
    }

    deinit {
        if let ssl { SSL_free(ssl) }
        secretCapture?.clear()
    }

    /// RFC 9266 tls-exporter of this connection, nil before the handshake.
    public func tlsExporter() -> [UInt8]? { handshakeCompleted?.tlsExporter }

    /// RFC 5929 tls-server-end-point of this connection, nil before the handshake.
    public func tlsServerEndPoint() -> [UInt8]? { handshakeCompleted?.tlsServerEndPoint }

    /// True once OpenSSL's per-connection state is gone and `TLS13Session` protects the records.
    public var isCompact: Bool { session != nil }

    /// TLS 1.3 with OpenSSL: sends a KeyUpdate with the next write (asking the peer to update
    /// its sending key too when `requestingPeer`). The tests play such a client with it.
    func scheduleKeyUpdate(requestingPeer: Bool) -> Bool {
        guard let ssl, state == .active else { return false }
        return SSL_key_update(ssl, requestingPeer ? SSL_KEY_UPDATE_REQUESTED : SSL_KEY_UPDATE_NOT_REQUESTED) == 1
    }

    // MARK: lifecycle

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { startHandshake(context) }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        failBufferedWrites(ChannelError.ioOnClosedChannel)
    }

    public func channelActive(context: ChannelHandlerContext) {
        startHandshake(context)
        context.fireChannelActive()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        let wasHandshaking = state == .handshaking || state == .idle
        state = .closed
        failBufferedWrites(ChannelError.ioOnClosedChannel)
        if wasHandshaking && handshakeCompleted == nil { context.fireErrorCaught(TLSError.closedDuringHandshake) }
        context.fireChannelInactive()
    }

    private func startHandshake(_ context: ChannelHandlerContext) {
        guard state == .idle else { return }
        state = .handshaking
        doHandshake(context)   // a client sends its ClientHello now
    }

    // MARK: inbound

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        switch state {
        case .closed: return
        case .compact: receiveCompact(context, &buffer); return
        case .idle: state = .handshaking
        case .handshaking, .active: break
        }
        if state == .handshaking, secretCapture != nil {
            feedHandshakeRecords(context, &buffer)
            if state == .compact, buffer.readableBytes > 0 { receiveCompact(context, &buffer) }
            if state != .active { return }
        }
        // A memory BIO grows as needed: this write takes everything.
        if buffer.readableBytes > 0 {
            _ = buffer.withUnsafeReadableBytes { BIO_write(networkIn, $0.baseAddress, Int32($0.count)) }
        }
        if state == .handshaking { doHandshake(context) }
        // The handshake's last flight may carry application data right behind it.
        if state == .active { readPlaintext(context) }
        releaseGrownBIOs()
    }

    /// A memory BIO keeps the largest buffer it ever needed (a 16 KiB record, a
    /// handshake flight, or just the last read) after it is drained. An idle TLS
    /// session should hold no buffers (SSL_MODE_RELEASE_BUFFERS does that for
    /// OpenSSL's own), so a drained BIO that holds one is swapped for a new, empty one.
    private func releaseGrownBIOs() {
        guard state == .active, let ssl else { return }
        if BIO_ctrl_pending(networkIn) == 0, Self.allocated(networkIn) > 0, let fresh = BIO_new(BIO_s_mem()) {
            SSL_set0_rbio(ssl, fresh)   // frees the old one
            networkIn = fresh
        }
        if BIO_ctrl_pending(networkOut) == 0, Self.allocated(networkOut) > 0, let fresh = BIO_new(BIO_s_mem()) {
            SSL_set0_wbio(ssl, fresh)
            networkOut = fresh
        }
    }

    private static func allocated(_ bio: OpaquePointer) -> Int {
        var memory: UnsafeMutablePointer<BUF_MEM>?
        _ = BIO_ctrl(bio, BIO_C_GET_BUF_MEM_PTR, 0, &memory)
        return memory.map { Int($0.pointee.max) } ?? 0
    }

    /// Gives OpenSSL the handshake one record at a time, until it completes (or fails).
    private func feedHandshakeRecords(_ context: ChannelHandlerContext, _ buffer: inout ByteBuffer) {
        while buffer.readableBytes > 0, state == .handshaking {
            let (length, endsRecord) = handshakeRecords.advance(over: buffer)
            let piece = buffer.readSlice(length: length)!
            _ = piece.withUnsafeReadableBytes { BIO_write(networkIn, $0.baseAddress, Int32($0.count)) }
            if endsRecord { doHandshake(context) }
        }
    }

    private func doHandshake(_ context: ChannelHandlerContext) {
        guard let ssl else { return }
        let rc = SSL_do_handshake(ssl)
        if rc == 1 {
            var info = ConnectionInfo.handshakeCompleted(ssl, isServer: isServer)
            // This call's output is what the server sends after its handshake: session tickets.
            let output = drainNetworkOutput(context)
            if let compact = compactSession(ssl, recordsSent: output.map(RecordBoundary.count) ?? 0) {
                session = compact
                self.ssl = nil
                SSL_free(ssl)
                state = .compact
                info.compactRecordLayer = true
            } else {
                state = .active
            }
            handshakeCompleted = info
            if let output { context.write(wrapOutboundOut(output), promise: nil); context.flush() }
            releaseGrownBIOs()
            context.fireUserInboundEventTriggered(info)
            sendBufferedWrites(context)
            return
        }
        switch SSL_get_error(ssl, rc) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            OpenSSLErrors.clear()
            writeNetworkOutput(context, flush: true)
        default:
            let reason = OpenSSLErrors.drainReasons() ?? verifyFailureText() ?? "unexpected end of data"
            // Send our alert so the peer learns why, then give up.
            writeNetworkOutput(context, flush: true)
            state = .closed
            failBufferedWrites(TLSError.handshakeFailed(reason))
            context.fireErrorCaught(TLSError.handshakeFailed(reason))
            context.close(promise: nil)
        }
    }

    /// The record layer that replaces `ssl`, when this connection can be compacted: TLS 1.3,
    /// a suite `TLS13Session` implements, both secrets seen, and nothing left inside OpenSSL.
    /// The client's next record is its first under the application key (sequence 0); ours
    /// continues after the `recordsSent` records just written.
    private func compactSession(_ ssl: OpaquePointer, recordsSent: Int) -> TLS13Session? {
        guard let capture = secretCapture else { return nil }
        defer {
            _ = SSL_set_ex_data(ssl, 0, nil)
            capture.clear()
            secretCapture = nil
        }
        guard SSL_version(ssl) == TLS1_3_VERSION, let cipher = SSL_get_current_cipher(ssl),
              let suite = TLS13CipherSuite.named(code: SSL_CIPHER_get_protocol_id(cipher)),
              let client = capture.client, let server = capture.server,
              handshakeRecords.atBoundary, BIO_ctrl_pending(networkIn) == 0, SSL_pending(ssl) == 0 else { return nil }
        return TLS13Session(suite: suite, readSecret: client, writeSecret: server, writeSequence: UInt64(recordsSent))
    }

    /// Decrypts with `TLS13Session`; a bad record gets its alert, then the connection closes.
    private func receiveCompact(_ context: ChannelHandlerContext, _ buffer: inout ByteBuffer) {
        do {
            let received = try session!.receive(&buffer, allocator: context.channel.allocator)
            if let reply = received.reply { context.writeAndFlush(wrapOutboundOut(reply), promise: nil) }
            if let plaintext = received.plaintext { context.fireChannelRead(wrapInboundOut(plaintext)) }
            if received.closed, state == .compact {
                // As with OpenSSL: answer close_notify with ours and close.
                sendCloseNotify(context)
                state = .closed
                context.close(promise: nil)
            }
        } catch {
            let alert = error as? TLS13Alert ?? .decodeError("\(error)")
            if let code = alert.code {
                var out = context.channel.allocator.buffer(capacity: 32)
                session!.appendAlert(code, into: &out)
                context.writeAndFlush(wrapOutboundOut(out), promise: nil)
            }
            closeNotifySent = true
            state = .closed
            context.fireErrorCaught(TLSError.protocolError(alert.description))
            context.close(promise: nil)
        }
    }

    private func verifyFailureText() -> String? {
        guard let ssl else { return nil }
        let result = SSL_get_verify_result(ssl)
        return result == X509_V_OK ? nil : String(cString: X509_verify_cert_error_string(result))
    }

    /// Decrypts everything OpenSSL can into one buffer and passes it on: one allocation and one
    /// fireChannelRead per network read, however many records it held.
    private func readPlaintext(_ context: ChannelHandlerContext) {
        guard let ssl else { return }
        let pending = BIO_ctrl_pending(networkIn)
        var plaintext = context.channel.allocator.buffer(capacity: max(Self.recordSize, Int(pending)))
        var outcome: Int32 = SSL_ERROR_NONE
        while true {
            var rc: Int32 = 0
            plaintext.writeWithUnsafeMutableBytes(minimumWritableBytes: Self.recordSize) { ptr in
                rc = SSL_read(ssl, ptr.baseAddress, Int32(min(ptr.count, Int(Int32.max))))
                return max(Int(rc), 0)
            }
            if rc <= 0 { outcome = SSL_get_error(ssl, rc); break }
        }
        if plaintext.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(plaintext)) }
        switch outcome {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            OpenSSLErrors.clear()
            // TLS 1.3 session tickets or key-update replies may be waiting.
            writeNetworkOutput(context, flush: true)
        case SSL_ERROR_ZERO_RETURN:
            // The peer sent close_notify: answer it and close (XMPP has no use for a
            // half-open TLS stream; the stream end was already sent or never will be).
            sendCloseNotify(context)
            state = .closed
            context.close(promise: nil)
        default:
            let reason = OpenSSLErrors.drainReasons() ?? "unexpected end of data"
            writeNetworkOutput(context, flush: true)
            state = .closed
            context.fireErrorCaught(TLSError.protocolError(reason))
            context.close(promise: nil)
        }
    }

    // MARK: outbound

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let buffer = unwrapOutboundIn(data)
        switch state {
        case .idle, .handshaking: bufferedWrites.append((buffer, promise))
        case .active: encryptAndWrite(context, buffer, promise: promise)
        case .compact: sealAndWrite(context, buffer, promise: promise)
        case .closed: promise?.fail(ChannelError.ioOnClosedChannel)
        }
    }

    public func flush(context: ChannelHandlerContext) {
        switch state {
        case .idle, .handshaking: flushRequested = true
        case .active, .compact, .closed: context.flush()
        }
    }

    /// The promise completes when the ciphertext write does, so NIO's writability and the
    /// caller's back-pressure see the real socket.
    private func sealAndWrite(_ context: ChannelHandlerContext, _ buffer: ByteBuffer, promise: EventLoopPromise<Void>?) {
        guard buffer.readableBytes > 0 else { context.write(wrapOutboundOut(buffer), promise: promise); return }
        var out = context.channel.allocator.buffer(capacity: buffer.readableBytes + TLS13Session.overhead(for: buffer.readableBytes))
        session!.seal(buffer, into: &out)
        context.write(wrapOutboundOut(out), promise: promise)
    }

    private func encryptAndWrite(_ context: ChannelHandlerContext, _ buffer: ByteBuffer, promise: EventLoopPromise<Void>?) {
        if state == .compact { return sealAndWrite(context, buffer, promise: promise) }
        guard let ssl else { promise?.fail(ChannelError.ioOnClosedChannel); return }
        var buffer = buffer
        while buffer.readableBytes > 0 {
            let written = buffer.withUnsafeReadableBytes { ptr in
                SSL_write(ssl, ptr.baseAddress, Int32(min(ptr.count, Int(Int32.max))))
            }
            if written <= 0 {
                let reason = OpenSSLErrors.drainReasons() ?? "write failed"
                promise?.fail(TLSError.protocolError(reason))
                context.fireErrorCaught(TLSError.protocolError(reason))
                return
            }
            buffer.moveReaderIndex(forwardBy: Int(written))
        }
        let ciphertext = drainNetworkOutput(context) ?? context.channel.allocator.buffer(capacity: 0)
        context.write(wrapOutboundOut(ciphertext), promise: promise)
    }

    private func sendBufferedWrites(_ context: ChannelHandlerContext) {
        let writes = bufferedWrites
        bufferedWrites = []
        for (buffer, promise) in writes { encryptAndWrite(context, buffer, promise: promise) }
        if flushRequested { flushRequested = false; context.flush() }
    }

    private func failBufferedWrites(_ error: Error) {
        let writes = bufferedWrites
        bufferedWrites = []
        for (_, promise) in writes { promise?.fail(error) }
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        switch mode {
        case .input:
            context.close(mode: .input, promise: promise)
        case .output:
            // Half-close: our close_notify ends the TLS stream in this direction only.
            sendCloseNotify(context)
            context.close(mode: .output, promise: promise)
        case .all:
            sendCloseNotify(context)
            if state != .active && state != .compact { failBufferedWrites(ChannelError.ioOnClosedChannel) }
            state = .closed
            context.close(mode: .all, promise: promise)
        }
    }

    private func sendCloseNotify(_ context: ChannelHandlerContext) {
        guard !closeNotifySent else { return }
        if state == .compact {
            closeNotifySent = true
            var out = context.channel.allocator.buffer(capacity: 32)
            session!.appendAlert(0, into: &out)
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
            return
        }
        guard state == .active, let ssl else { return }
        closeNotifySent = true
        _ = SSL_shutdown(ssl)   // 0 = sent, peer's not yet seen: we do not wait for it
        OpenSSLErrors.clear()
        writeNetworkOutput(context, flush: true)
    }

    // MARK: network output

    private func drainNetworkOutput(_ context: ChannelHandlerContext) -> ByteBuffer? {
        let pending = Int(BIO_ctrl_pending(networkOut))
        guard pending > 0 else { return nil }
        var out = context.channel.allocator.buffer(capacity: pending)
        out.writeWithUnsafeMutableBytes(minimumWritableBytes: pending) { ptr in
            Int(max(BIO_read(networkOut, ptr.baseAddress, Int32(pending)), 0))
        }
        return out
    }

    private func writeNetworkOutput(_ context: ChannelHandlerContext, flush: Bool) {
        guard let out = drainNetworkOutput(context) else { return }
        context.write(wrapOutboundOut(out), promise: nil)
        if flush { context.flush() }
        releaseGrownBIOs()
    }
}
