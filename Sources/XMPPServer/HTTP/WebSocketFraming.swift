import NIOCore
import NIOWebSocket
import XMPPCore

/// XMPP over WebSocket (RFC 7395) in front of an unchanged `C2SConnection`.
///
/// The c2s code speaks an XML stream; RFC 7395 sends one complete element per text
/// message and replaces the stream's open and close tags with `<open/>` and `<close/>`
/// in urn:ietf:params:xml:ns:xmpp-framing. This handler translates both ways:
///
/// - in: `<open/>` becomes a `<stream:stream>` header, `<close/>` becomes
///   `</stream:stream>`, every other message is passed on as it is (it carries its own
///   `xmlns`, RFC 7395 §3.3.3, which is fine inside a jabber:client stream);
/// - out: the server's stream is parsed back into its top-level elements, each sent
///   as one text message with its namespaces declared, the header as `<open/>` and the
///   stream end as `<close/>` followed by the WebSocket close.
///
/// It also answers pings, sends its own (`ping_rate`) and closes an idle connection
/// (`timeout`).
///
/// With `mod_websockets.service` the connection may be a component's instead: then
/// the handler behind this one is chosen by the first message. A jabber:component:accept
/// stream header starts a XEP-0114 stream carried as it is, one text message after the
/// other both ways (MongooseIM's "old-type" WebSocket connections); `<open/>` starts
/// c2s as above.
final class WebSocketFraming: ChannelDuplexHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = WebSocketFrame

    static let framingNamespace = "urn:ietf:params:xml:ns:xmpp-framing"

    private let pingInterval: TimeAmount?
    private let idleTimeout: TimeAmount?
    /// The server's side of the stream, parsed to find element boundaries.
    private let outbound = XMLStreamParser(maxStanzaSize: nil)
    private var lastInput = NIODeadline.now()
    private var timer: RepeatedTask?
    private var closeSent = false
    /// Set until the first message when the connection may be a component's: makes the
    /// handler behind this one (true: a component stream).
    private var chooseConnection: ((_ component: Bool) -> ChannelHandler)?
    private var firstMessageDeadline: Scheduled<Void>?
    /// A component's stream: messages go through unchanged both ways.
    private var rawStream = false

    init(pingInterval: TimeAmount?, idleTimeout: TimeAmount?) {
        self.pingInterval = pingInterval
        self.idleTimeout = idleTimeout
    }

    /// Called once the handlers after this one are in place on the upgraded channel:
    /// they see the connection start as if it had just been accepted.
    func activate(context: ChannelHandlerContext) {
        startTimer(context)
        context.fireChannelActive()
    }

    /// Pings and the idle check share one timer, at the shorter of the two periods.
    private func startTimer(_ context: ChannelHandlerContext) {
        guard let tick = [pingInterval, idleTimeout].compactMap({ $0 }).min() else { return }
        timer = context.eventLoop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { [weak self] _ in
            self?.tick(context)
        }
    }

    /// As `activate`, but the handler behind this one is made by `choose` once the first
    /// message shows what the connection is; one that sends none within
    /// `firstMessageTimeout` is closed.
    func activate(context: ChannelHandlerContext, firstMessageTimeout: TimeAmount,
                  choose: @escaping (_ component: Bool) -> ChannelHandler) {
        chooseConnection = choose
        firstMessageDeadline = context.eventLoop.scheduleTask(in: firstMessageTimeout) { [weak self] in
            guard let self, self.chooseConnection != nil else { return }
            self.sendClose(context, code: .policyViolation)
            context.close(promise: nil)
        }
        startTimer(context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        firstMessageDeadline?.cancel()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        context.fireChannelInactive()
    }

    private func tick(_ context: ChannelHandlerContext) {
        if let idleTimeout, NIODeadline.now() - lastInput >= idleTimeout {
            // MongooseIM's mod_websockets `timeout`: an inactive user is disconnected.
            sendClose(context, code: .normalClosure)
            context.close(promise: nil)
            return
        }
        if pingInterval != nil {
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .ping, data: ByteBuffer())), promise: nil)
        }
    }

    // MARK: inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        lastInput = .now()
        switch frame.opcode {
        case .text:
            receivedText(context, frame.unmaskedData)
        case .ping:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .pong:
            break
        case .connectionClose:
            // The client is gone: answer its close, and the c2s side sees the connection end.
            sendClose(context, code: .normalClosure)
            context.close(promise: nil)
        default:
            // RFC 7395 §3.2: XMPP goes in text messages only.
            sendClose(context, code: .unacceptableData)
            context.close(promise: nil)
        }
    }

    private func receivedText(_ context: ChannelHandlerContext, _ payload: ByteBuffer) {
        if let choose = chooseConnection {
            chooseConnection = nil
            firstMessageDeadline?.cancel()
            let first = payload.readableBytesView.drop(while: Self.isSpace)
            rawStream = (first.starts(with: Self.xmlDeclaration) || first.starts(with: Self.streamTag))
                && String(buffer: payload).contains("jabber:component:accept")
            do {
                try context.pipeline.syncOperations.addHandler(choose(rawStream), position: .after(self))
            } catch {
                return context.close(promise: nil)
            }
            context.fireChannelActive()
        }
        if rawStream { return context.fireChannelRead(wrapInboundOut(payload)) }
        // Only the two framing elements need a look (and a parse): stanzas, and anything
        // malformed (which the c2s parser reports), go on untouched.
        let start = payload.readableBytesView.drop(while: Self.isSpace)
        guard start.starts(with: Self.openTag) || start.starts(with: Self.closeTag) else {
            return context.fireChannelRead(wrapInboundOut(payload))
        }
        let text = String(buffer: payload)
        guard let element = XMLElement.parseStored(text).first,
              element.namespace == Self.framingNamespace else {
            return context.fireChannelRead(wrapInboundOut(payload))
        }
        switch element.name {
        case "open":
            var header = "<stream:stream xmlns='\(XMPPNamespace.client)' xmlns:stream='\(XMPPNamespace.stream)'"
            for name in ["to", "from", "version", "xml:lang", "id"] {
                if let value = element[attribute: name] { header += " \(name)='\(XMLEscaping.escapeAttribute(value))'" }
            }
            context.fireChannelRead(wrapInboundOut(ByteBuffer(string: header + ">")))
        case "close":
            context.fireChannelRead(wrapInboundOut(ByteBuffer(string: "</stream:stream>")))
        default:
            context.fireChannelRead(wrapInboundOut(payload))
        }
    }

    private static let openTag = Array("<open".utf8)
    private static let closeTag = Array("<close".utf8)
    private static let xmlDeclaration = Array("<?xml".utf8)
    private static let streamTag = Array("<stream:stream".utf8)

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 }

    // MARK: outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let buffer = unwrapOutboundIn(data)
        if rawStream {
            return context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: buffer)), promise: promise)
        }
        // A stream header starts a new stream (after SASL): the old one is over.
        let start = buffer.readableBytesView.drop(while: Self.isSpace)
        if start.starts(with: Self.xmlDeclaration) || start.starts(with: Self.streamTag) {
            outbound.reset()
        }
        var messages: [String] = []
        var streamEnded = false
        do {
            try buffer.withUnsafeReadableBytes { bytes in
                try outbound.feed(bytes) { event in
                    switch event {
                    case .streamOpened(let header): messages.append(Self.open(header))
                    case .element(let element): messages.append(element.standaloneXML)
                    case .streamClosed:
                        messages.append("<close xmlns='\(Self.framingNamespace)'/>")
                        streamEnded = true
                    }
                }
            }
        } catch {
            promise?.fail(error)
            return
        }
        // Between writes the parser holds nothing but expat's buffers: free them, so an
        // idle WebSocket session costs no more than a TCP one.
        outbound.hibernate()
        guard !messages.isEmpty else { promise?.succeed(()); return }
        for (i, message) in messages.enumerated() {
            let frame = WebSocketFrame(fin: true, opcode: .text, data: context.channel.allocator.buffer(string: message))
            context.write(wrapOutboundOut(frame), promise: i == messages.count - 1 ? promise : nil)
        }
        if streamEnded { sendClose(context, code: .normalClosure) }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .all { sendClose(context, code: .normalClosure) }
        context.close(mode: mode, promise: promise)
    }

    private func sendClose(_ context: ChannelHandlerContext, code: WebSocketErrorCode) {
        guard !closeSent, context.channel.isActive else { return }
        closeSent = true
        var data = context.channel.allocator.buffer(capacity: 2)
        data.write(webSocketErrorCode: code)
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)), promise: nil)
    }

    /// RFC 7395 §3.3.2: the server's `<open/>` carries the header's from, id, version, xml:lang.
    static func open(_ header: XMLStreamHeader) -> String {
        var open = "<open xmlns='\(framingNamespace)'"
        for name in ["from", "to", "id", "version", "xml:lang"] {
            if let value = header.attributes[name] { open += " \(name)='\(XMLEscaping.escapeAttribute(value))'" }
        }
        return open + "/>"
    }
}
