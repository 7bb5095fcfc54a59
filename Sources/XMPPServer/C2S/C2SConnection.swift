import Logging
import NIOCore
import XMPPCore
import XMPPTLS
import XMPPTransport

/// One client-to-server TCP connection: bytes in through the streaming parser,
/// events into the negotiation / session state machine (C2SNegotiation.swift,
/// C2SSessionStanzas.swift), bytes out. Every method runs on the channel's event loop.
final class C2SConnection: ChannelInboundHandler, TrackedConnection, SessionEndpoint, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum State {
        case awaitingStreamHeader
        case awaitingAuth
        case authenticating(SASLExchange)
        /// SASL succeeded: the client must open a new stream (RFC 6120 §6.4.6).
        case awaitingRestart(user: JID)
        case awaitingBind(user: JID)
        /// `<resume/>` sent: the session is being looked for (XEP-0198 §5).
        case resuming(user: JID)
        case established(SessionHandle)
        /// The session was resumed on another connection: late deliveries go there.
        case handedOver(SessionHandle)
        case closed
    }

    /// The listener's environment, shared: stored inline, the struct would cost
    /// every connection a copy of all its fields.
    private let sharedEnv: C2SEnvironment.Shared
    var env: C2SEnvironment { _read { yield sharedEnv.value } }
    var state: State = .awaitingStreamHeader
    let parser: XMLStreamParser
    var context: ChannelHandlerContext?
    /// The served domain the client asked for in its stream header.
    var domain: String?
    var streamHeaderSent = false
    /// TLS is on: from the first byte (`tls.mode = "tls"`) or after STARTTLS.
    var tlsActive: Bool
    /// Boxed: the struct is large and only TLS connections have one.
    var tlsInfo: TLSHandshakeCompleted? {
        get { tlsInfoBox?.value }
        set { tlsInfoBox = newValue.map(TLSInfoBox.init) }
    }
    private var tlsInfoBox: TLSInfoBox?
    /// XEP-0138 compression is on.
    var compressed = false
    /// The client's address: the socket's, or the one a PROXY header gave.
    var clientAddress: SocketAddress?
    /// The stream id's random bits; the id text is made when needed (it would be a
    /// heap string held by every idle session).
    private let streamIDBits = C2SConnection.makeStreamIDBits()
    var streamID: String { String(streamIDBits.0, radix: 36) + String(streamIDBits.1, radix: 36) }
    private var negotiationTimer: Scheduled<Void>?
    /// XEP-0198, once the client enabled it.
    var streamManagement: StreamManagementState?
    /// Runs while a resumable session has no connection.
    var suspendTimer: Scheduled<Void>?
    let socket: StreamSocket
    /// Per connection, the peer and the JID are added to the worker's logger only
    /// when something is logged: a stored copy with its own metadata would cost
    /// every idle session a dictionary.
    var logger: Logger {
        var logger = env.logger
        if let clientAddress { logger[metadataKey: "peer"] = "\(clientAddress)" }
        if case .established(let session) = state { logger[metadataKey: "jid"] = "\(session.jid)" }
        return logger
    }

    convenience init(env: C2SEnvironment) {
        self.init(env: C2SEnvironment.Shared(env))
    }

    init(env shared: C2SEnvironment.Shared) {
        self.sharedEnv = shared
        let env = shared.value
        self.parser = XMLStreamParser(maxStanzaSize: env.maxStanzaSize)
        self.socket = StreamSocket(stats: env.stats, maxQueuedStanzas: env.maxQueuedStanzas,
                                   hibernateAfter: env.hibernateAfter, parser: parser, countsTransport: env.countsTransport)
        self.tlsActive = env.transport.tlsMode == .tls && env.transport.tls != nil
    }

    // MARK: channel events

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        socket.activate(context, mailboxes: env.mailboxes)
        clientAddress = context.remoteAddress
        env.connections.add(self, on: context.eventLoop)
        negotiationTimer = context.eventLoop.scheduleTask(in: env.negotiationTimeout) { [weak self] in
            self?.failStream("connection-timeout")
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        negotiationTimer?.cancel()
        env.connections.remove(self)
        socket.deactivate()
        self.context = nil
        switch state {
        case .established(let session): connectionLost(session)
        case .handedOver: break
        default: state = .closed
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        socket.readStarted(bytes: buffer.readableBytes)
        guard !isClosed else { return }
        if let failure = StreamSocket.parse(buffer, with: parser, { event in self.handle(event) }) {
            logger.info("stream error from client input: \(failure.reason)")
            failStream(failure.condition)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        socket.readCompleted()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let header as ProxyProtocolHeader:
            // The client's address from the proxy is the address everywhere from now on.
            if let source = header.source { clientAddress = source }
        case let handshake as TLSHandshakeCompleted:
            tlsInfo = handshake
            logger.debug("TLS \(handshake.protocolVersion) \(handshake.cipher), records by \(handshake.compactRecordLayer ? "xmppd" : "OpenSSL")")
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        env.stats.errorSeen()
        switch error {
        case ZlibError.inflatedSizeLimitExceeded(let limit):
            // A zlib bomb, or a client ignoring the limit: a stream error, then close.
            logger.info("compressed input inflates past \(limit) bytes")
            failStream("policy-violation", text: "decompressed data exceeds \(limit) bytes")
        case let error as ZlibError:
            logger.info("compression: \(error)")
            failStream("bad-format")
        default:
            // TLS failures and bad PROXY headers: no XMPP stream to speak on. An
            // established session sees it as a lost connection (channelInactive).
            logger.info("connection error: \(error)")
            if case .established = state {} else { state = .closed }
            context.close(promise: nil)
        }
    }

    var isClosed: Bool {
        switch state {
        case .closed, .handedOver: return true
        default: return false
        }
    }

    // MARK: events from the parser

    private func handle(_ event: XMLStreamEvent) {
        guard !isClosed else { return }
        switch event {
        case .streamOpened(let header):
            streamOpened(header)
        case .element(let element):
            switch state {
            case .established(let session):
                if element.namespace == StreamManagementState.namespace {
                    return handleStreamManagement(element, session: session)
                }
                env.stats.stanzaReceived()
                if let sm = streamManagement { sm.handledInbound &+= 1 }
                handleStanza(element, from: session)
            case .closed, .handedOver:
                return
            default:
                negotiate(element)
            }
        case .streamClosed:
            // RFC 6120 §4.4: answer the close, then end the TCP connection.
            send("</stream:stream>")
            close()
        }
    }

    // MARK: output

    func send(_ text: String) {
        socket.write(text)
    }

    /// A stanza: counted for XEP-0198 once the session is established.
    func send(_ stanza: XMLElement) {
        guard let context else { return }
        write(stanza, on: context)
        if let streamManagement, case .established = state { countSent(stanza, by: streamManagement) }
    }

    /// A top-level element that is not a stanza (XEP-0198's own elements).
    func sendNonza(_ element: XMLElement) {
        guard let context else { return }
        write(element, on: context)
    }

    private func write(_ stanza: XMLElement, on context: ChannelHandlerContext) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256)
        stanza.serialize(into: &bytes, parentNamespace: XMPPNamespace.client)
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        writeStanza(buffer)
    }

    /// A serialised stanza, counted against `max_fsm_queue`.
    func writeStanza(_ buffer: ByteBuffer) {
        guard socket.write(buffer, stanzas: 1) else {
            // Like MongooseIM's max_fsm_queue: the session is ended rather than
            // letting its queue grow; RFC 6120's condition for it is resource-constraint.
            logger.info("client is not reading: \(socket.queuedStanzas) stanzas queued; closing")
            return failStream("resource-constraint")
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        socket.writabilityChanged()
        context.fireChannelWritabilityChanged()
    }

    func sendStreamHeader() {
        guard !streamHeaderSent else { return }
        streamHeaderSent = true
        var header = "<?xml version='1.0'?><stream:stream xmlns='\(XMPPNamespace.client)' "
        header += "xmlns:stream='\(XMPPNamespace.stream)' id='\(streamID)'"
        if let domain { header += " from='\(XMLEscaping.escapeAttribute(domain))'" }
        header += " version='1.0' xml:lang='en'>"
        send(header)
    }

    /// Ends the stream with an RFC 6120 §4.9 stream error and closes the connection.
    func failStream(_ condition: String, text: String? = nil, extra: XMLElement? = nil) {
        guard !isClosed else { return }
        // A suspended XEP-0198 session has no stream to speak on: replaced by a new
        // bind, or kicked, it just ends.
        guard context != nil else { return resumptionExpired() }
        if condition != "system-shutdown" && condition != "conflict" { env.stats.errorSeen() }
        sendStreamHeader()
        send(StanzaErrors.streamError(condition, text: text, extra: extra) + "</stream:stream>")
        close()
    }

    /// The worker ends this connection (drain deadline, shutdown). When the worker
    /// is replaced rather than stopped, a resumable session is only disconnected:
    /// its client resumes it on the new worker, which takes it over from this one.
    func terminate(_ condition: String, allowResumption: Bool) {
        if allowResumption, streamManagement?.resumptionID != nil, case .established = state, let context {
            logger.info("disconnecting a resumable session (\(condition))")
            context.close(promise: nil)
        } else {
            failStream(condition)
        }
    }

    func close() {
        guard let context else { return }
        negotiationTimer?.cancel()
        if case .established(let session) = state { sessionEnded(session) }
        state = .closed
        context.flush()
        context.close(promise: nil)
    }

    func negotiationFinished() {
        negotiationTimer?.cancel()
        negotiationTimer = nil
    }

    /// Called for a session that ends for whatever reason (close, error, replaced).
    func sessionEnded(_ session: SessionHandle) {
        defer { streamManagementEnded(session) }
        if session.isAvailable {
            // RFC 6121 §4.5.3.2: a session that ends while available goes unavailable
            // for everyone who saw it; modules (the roster) see it like a sent one.
            let unavailable = XMLElement(name: "presence", namespace: XMPPNamespace.client,
                                         attributes: ["from": session.jid.description, "type": "unavailable"])
            _ = env.hooks.runUserSendPacket(session.jid, unavailable)
        }
        env.registry.unbind(session)
        broadcastUnavailable(of: session)
        env.hooks.runSessionClosed(session.jid)
    }

    private static func makeStreamIDBits() -> (UInt64, UInt32) {
        var generator = SystemRandomNumberGenerator()
        return (generator.next() as UInt64, generator.next() as UInt32)
    }

    /// SessionEndpoint: a session handle ends its session with a stream error.
    func terminate(condition: String) { failStream(condition) }
}

private final class TLSInfoBox {
    let value: TLSHandshakeCompleted
    init(_ value: TLSHandshakeCompleted) { self.value = value }
}
