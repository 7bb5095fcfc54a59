import Logging
import NIOCore
import XMPPCore
import XMPPTLS

/// `jabber:server:dialback` (XEP-0220) and its stream feature.
enum DialbackNamespace {
    static let dialback = "jabber:server:dialback"
    static let feature = "urn:xmpp:features:dialback"
}

/// What an inbound and an outgoing server-to-server stream share: bytes in through
/// the streaming parser, events to the subclass, counted writes, stream errors.
/// Every method runs on the channel's event loop.
class S2SStream: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let parser: XMLStreamParser
    let socket: StreamSocket
    private(set) var context: ChannelHandlerContext?
    var logger: Logger
    private(set) var isClosed = false
    /// STARTTLS done: the stream runs over TLS.
    private(set) var tlsActive = false
    /// The TLS handshake's outcome (the peer's certificate and whether it verified),
    /// known before the first stream header over TLS is read.
    private(set) var tlsHandshake: TLSHandshakeCompleted?
    /// Runs from connect until the stream is usable; ends it with connection-timeout.
    private var negotiationTimer: Scheduled<Void>?

    /// `maxQueuedStanzas`: general.max_fsm_queue (MongooseIM applies the general value
    /// to s2s, not a listener's).
    init(stats: WorkerStats, countsTransport: Bool, maxStanzaSize: Int?, maxQueuedStanzas: Int?, hibernateAfter: TimeAmount,
         logger: Logger) {
        parser = XMLStreamParser(maxStanzaSize: maxStanzaSize)
        socket = StreamSocket(stats: stats, maxQueuedStanzas: maxQueuedStanzas, hibernateAfter: hibernateAfter, parser: parser,
                              countsTransport: countsTransport)
        self.logger = logger
    }

    // MARK: for subclasses

    func started() {}
    func streamOpened(_ header: XMLStreamHeader) {}
    func received(_ element: XMLElement) {}
    /// The connection is gone, whichever side ended it.
    func ended() {}

    // MARK: channel events

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        if let remote = context.remoteAddress { logger[metadataKey: "peer"] = "\(remote)" }
        socket.activate(context, mailboxes: nil)
        started()
    }

    func channelInactive(context: ChannelHandlerContext) {
        negotiationTimer?.cancel()
        isClosed = true
        socket.deactivate()
        self.context = nil
        ended()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        socket.readStarted(bytes: buffer.readableBytes)
        guard !isClosed else { return }
        if let failure = StreamSocket.parse(buffer, with: parser, { event in self.handle(event) }) {
            logger.info("stream error from the peer's input: \(failure.reason)")
            failStream(failure.condition)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        socket.readCompleted()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        socket.writabilityChanged()
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.info("connection error: \(error)")
        close()
    }

    private func handle(_ event: XMLStreamEvent) {
        guard !isClosed else { return }
        switch event {
        case .streamOpened(let header):
            guard header.defaultNamespace == XMPPNamespace.server else {
                return failStream("invalid-namespace", text: "the default namespace must be \(XMPPNamespace.server)")
            }
            streamOpened(header)
        case .element(let element):
            received(element)
        case .streamClosed:
            send("</stream:stream>")
            close()
        }
    }

    // MARK: output

    func send(_ text: String) {
        socket.write(text)
    }

    /// A stanza of the rest of the server (jabber:client) as this stream's namespace.
    func send(stanza: XMLElement) {
        guard let context else { return }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256)
        stanza.movingNamespace(XMPPNamespace.client, to: XMPPNamespace.server)
            .serialize(into: &bytes, parentNamespace: XMPPNamespace.server)
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        guard socket.write(buffer, stanzas: 1) else {
            logger.info("the remote server is not reading: \(socket.queuedStanzas) stanzas queued; closing")
            return close()
        }
    }

    /// A dialback element (`name` is "result" or "verify"), in the `db` prefix both
    /// directions declare; `error` is a stanza error condition for type='error'.
    func sendDialback(_ name: String, from: String, to: String, id: String? = nil, type: String? = nil,
                      key: String? = nil, error: (condition: String, type: String)? = nil) {
        var out = "<db:\(name) from='\(XMLEscaping.escapeAttribute(from))' to='\(XMLEscaping.escapeAttribute(to))'"
        if let id { out += " id='\(XMLEscaping.escapeAttribute(id))'" }
        if let type { out += " type='\(type)'" }
        if let key {
            out += ">\(XMLEscaping.escapeText(key))</db:\(name)>"
        } else if let error {
            out += "><error type='\(error.type)'><\(error.condition) xmlns='\(XMPPNamespace.stanzas)'/></error></db:\(name)>"
        } else {
            out += "/>"
        }
        send(out)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let handshake = event as? TLSHandshakeCompleted { tlsHandshake = handshake }
        context.fireUserInboundEventTriggered(event)
    }

    /// The peer's certificate verified and names `domain`: SASL EXTERNAL may stand
    /// for dialback (XEP-0178 §3, RFC 6120 §13.7.1.2).
    func peerCertificateNames(_ domain: String) -> Bool {
        guard let handshake = tlsHandshake, handshake.peerCertificateVerified, let certificate = handshake.peerCertificate
        else { return false }
        return S2SCertificateIdentity.names(domain, in: certificate)
    }

    /// The stream header; both directions declare the dialback prefix.
    func streamHeader(from: String?, to: String?, id: String?, version: Bool) -> String {
        var header = "<?xml version='1.0'?><stream:stream xmlns='\(XMPPNamespace.server)' "
        header += "xmlns:stream='\(XMPPNamespace.stream)' xmlns:db='\(DialbackNamespace.dialback)'"
        if let from { header += " from='\(XMLEscaping.escapeAttribute(from))'" }
        if let to { header += " to='\(XMLEscaping.escapeAttribute(to))'" }
        if let id { header += " id='\(id)'" }
        if version { header += " version='1.0'" }
        return header + ">"
    }

    /// RFC 6120 §5.4.3.3: TLS under the stream from the next byte on, and a new
    /// stream over it. False when the handler cannot be added (the connection closes).
    func startTLS(_ tls: TLSContext, serverHostname: String? = nil) -> Bool {
        guard let context else { return false }
        context.flush()
        do {
            try context.pipeline.syncOperations.addHandler(OpenSSLHandler(context: tls, serverHostname: serverHostname),
                                                           position: .before(self))
        } catch {
            close()
            return false
        }
        tlsActive = true
        parser.reset()
        return true
    }

    func startNegotiationTimer(_ timeout: TimeAmount?) {
        guard let timeout, let context else { return }
        negotiationTimer = context.eventLoop.scheduleTask(in: timeout) { [weak self] in
            self?.negotiationTimedOut()
        }
    }

    func negotiationFinished() {
        negotiationTimer?.cancel()
        negotiationTimer = nil
    }

    func negotiationTimedOut() { failStream("connection-timeout") }

    /// Ends the stream with an RFC 6120 §4.9 stream error and closes the connection.
    func failStream(_ condition: String, text: String? = nil) {
        guard !isClosed, context != nil else { return }
        sendHeaderBeforeError()
        send(StanzaErrors.streamError(condition, text: text) + "</stream:stream>")
        close()
    }

    /// An inbound stream answers a header it has not answered yet before an error.
    func sendHeaderBeforeError() {}

    func close() {
        guard let context, !isClosed else { return }
        negotiationTimer?.cancel()
        isClosed = true
        context.flush()
        context.close(promise: nil)
    }
}
