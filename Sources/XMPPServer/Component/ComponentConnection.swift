import Foundation
import Logging
import NIOCore
import XMPPConfig
import XMPPCore
import XMPPSASL

/// Everything a component connection needs from its worker, shared by all of them.
struct ComponentEnvironment: Sendable {
    var hosts: [String]
    var options: ServiceOptions
    var registry: ComponentRegistry
    var router: StanzaRouter
    var stats: WorkerStats
    /// False behind the http listener (components over WebSocket).
    var countsTransport = true
    var connections: ConnectionTracker
    var maxStanzaSize: Int?
    /// `max_fsm_queue` and `hibernate_after`, as for c2s.
    var maxQueuedStanzas: Int?
    var hibernateAfter: TimeAmount
    /// Evaluates the listener's `access` rule.
    var access: AccessRules
    /// Time allowed from connect to a successful handshake (c2s_state_timeout, as
    /// MongooseIM's `state_timeout` applies to component connections too).
    var handshakeTimeout: TimeAmount
    var logger: Logger
}

/// One external component connection (XEP-0114, "Jabber Component Protocol"),
/// following MongooseIM's mongoose_component_connection.erl state by state:
/// stream header → handshake → established. Every method runs on the channel's
/// event loop.
final class ComponentConnection: ChannelInboundHandler, TrackedConnection, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum State {
        case awaitingStreamHeader
        case awaitingHandshake
        case established(ComponentHandle)
        case closed
    }

    let env: ComponentEnvironment
    private var state: State = .awaitingStreamHeader
    private let parser: XMLStreamParser
    private var context: ChannelHandlerContext?
    /// The `to` of the stream header: the component's name.
    private var name: String?
    /// Domains it is registered for: its name, plus `<name>.<host>` for every served
    /// host with is_subdomain.
    private var domains: [String] = []
    private var streamHeaderSent = false
    private let streamID = ComponentConnection.makeStreamID()
    private var handshakeTimer: Scheduled<Void>?
    private var logger: Logger
    private let socket: StreamSocket

    init(env: ComponentEnvironment) {
        self.env = env
        self.parser = XMLStreamParser(maxStanzaSize: env.maxStanzaSize)
        self.logger = env.logger
        self.socket = StreamSocket(stats: env.stats, maxQueuedStanzas: env.maxQueuedStanzas,
                                   hibernateAfter: env.hibernateAfter, parser: parser, countsTransport: env.countsTransport)
    }

    // MARK: channel events

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        if let remote = context.remoteAddress { logger[metadataKey: "peer"] = "\(remote)" }
        socket.activate(context, mailboxes: nil)
        env.connections.add(self, on: context.eventLoop)
        handshakeTimer = context.eventLoop.scheduleTask(in: env.handshakeTimeout) { [weak self] in
            self?.failStream("connection-timeout")
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshakeTimer?.cancel()
        if case .established(let handle) = state { ended(handle) }
        state = .closed
        env.connections.remove(self)
        socket.deactivate()
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        socket.readStarted(bytes: buffer.readableBytes)
        guard !isClosed else { return }
        if let failure = StreamSocket.parse(buffer, with: parser, { event in self.handle(event) }) {
            logger.info("stream error from component input: \(failure.reason)")
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
        logger.debug("connection error: \(error)")
        env.stats.errorSeen()
        context.close(promise: nil)
    }

    private var isClosed: Bool { if case .closed = state { return true } else { return false } }

    // MARK: the stream

    private func handle(_ event: XMLStreamEvent) {
        guard !isClosed else { return }
        switch event {
        case .streamOpened(let header):
            guard case .awaitingStreamHeader = state else {
                // mongoose_component_connection: a second stream start is a policy violation.
                return failStream("policy-violation")
            }
            streamOpened(header)
        case .element(let element):
            switch state {
            case .awaitingHandshake:
                if element.name == "handshake" { handshake(element) } else { failStream("not-authorized") }
            case .established(let handle):
                env.stats.stanzaReceived()
                stanzaFromComponent(element, handle: handle)
            case .awaitingStreamHeader, .closed:
                return
            }
        case .streamClosed:
            send("</stream:stream>")
            close()
        }
    }

    /// XEP-0114 §3.1: the component names itself in `to`; the server answers with a
    /// stream id. Missing or invalid `to` → host-unknown, another namespace →
    /// invalid-namespace (mongoose_component_connection:handle_stream_start/2).
    private func streamOpened(_ header: XMLStreamHeader) {
        guard header.defaultNamespace == ComponentNamespace.accept else {
            return failStream("invalid-namespace", text: "the default namespace must be \(ComponentNamespace.accept)")
        }
        guard let to = header.attributes["to"], let jid = JID(to), jid.local == nil, jid.resource == nil else {
            return failStream("host-unknown")
        }
        name = jid.domain
        logger[metadataKey: "component"] = "\(jid.domain)"
        // The spec's custom extension: MongooseIM registers the name itself and the
        // subdomain prefix "<name>." under every host type
        // (mongoose_component_connection:register_routes/1 with is_subdomain = true).
        if header.attributes["is_subdomain"] == "true" {
            domains = [jid.domain] + env.hosts.sorted().map { "\(jid.domain).\($0)" }
        } else {
            domains = [jid.domain]
        }
        state = .awaitingHandshake
        sendStreamHeader()
    }

    /// XEP-0114 §3.2: lowercase hex SHA-1 of stream id + shared secret.
    private func handshake(_ element: XMLElement) {
        let expected = Array(Self.hex(SASLCrypto.sha1(Array((streamID + env.options.password).utf8))).utf8)
        let received = Array(element.text.trimmingCharacters(in: .whitespacesAndNewlines).lowercased().utf8)
        guard SASLCrypto.constantTimeEqual(expected, received) else {
            env.stats.authFailed()
            logger.info("component handshake failed")
            return failStream("not-authorized", text: "Invalid handshake")
        }
        guard let context else { return }
        let handle = ComponentHandle(eventLoop: context.eventLoop,
                                     deliver: { [weak self] stanza in self?.deliver(stanza) },
                                     terminate: { [weak self] condition in self?.failStream(condition) })
        switch env.registry.register(handle, domains: domains, hidden: env.options.hiddenComponents,
                                     behaviour: env.options.conflictBehaviour) {
        case .registered:
            env.stats.authSucceeded()
            state = .established(handle)
            handshakeTimer?.cancel()
            handshakeTimer = nil
            logger.info("component connected for \(domains.joined(separator: ", "))")
            // Answered once every worker knows the component: one that holds its
            // handshake is reachable from every listener at once.
            let connection = NIOLoopBound(self, eventLoop: context.eventLoop)
            env.registry.afterPeersApplied {
                connection.eventLoop.execute { connection.value.send("<handshake/>") }
            }
        case .conflict(let domain):
            // Right secret, so not an authentication failure.
            logger.info("component refused: \(domain) is already registered")
            failStream("conflict")
        }
    }

    /// XEP-0114 §3.3: the component addresses stanzas with `from` and `to`; the
    /// `from` domain must be its own unless `check_from = false`. A stanza that fails
    /// either is answered with `<bad-request/>` and never routed, as MongooseIM does
    /// (mongoose_component_connection:handle_stream_established/2). xmppd accepts
    /// every domain the component is registered for (with is_subdomain, also
    /// `<name>.<host>`), where MongooseIM checks only the stream's `to`.
    private func stanzaFromComponent(_ incoming: XMLElement, handle: ComponentHandle) {
        guard ["message", "presence", "iq"].contains(incoming.name),
              incoming.namespace == ComponentNamespace.accept || incoming.namespace == XMPPNamespace.client else {
            return failStream("unsupported-stanza-type")
        }
        let stanza = incoming.movingNamespace(ComponentNamespace.accept, to: XMPPNamespace.client)
        let from = stanza[attribute: "from"].flatMap(JID.init)
        let to = stanza[attribute: "to"].flatMap(JID.init)
        let fromAllowed = !env.options.checkFrom || (from.map { domains.contains($0.domain) } ?? false)
        guard from != nil, let to, fromAllowed else {
            logger.info("stanza with a bad from or to: from=\(stanza[attribute: "from"] ?? "-") to=\(stanza[attribute: "to"] ?? "-")")
            if let reply = StanzaErrors.reply(to: stanza, condition: "bad-request", type: "modify") { deliver(reply) }
            return
        }
        if case .bounce(let error) = env.router.route(stanza, to: to) { deliver(error) }
    }

    /// A stanza (jabber:client) for the component, on this connection's event loop.
    func deliver(_ stanza: XMLElement) {
        guard case .established = state, let context else { return }
        // As MongooseIM (mongoose_component_connection:handle_route/3): the `access`
        // rule is matched against the sender of each stanza routed to the component;
        // a denied sender gets <not-allowed/>.
        if env.options.access != "all" {
            let from = stanza[attribute: "from"].flatMap(JID.init)
            guard let from, env.access.allows(env.options.access, local: from.local, domain: from.domain,
                                              resource: from.resource) else {
                if let error = StanzaErrors.reply(to: stanza, condition: "not-allowed"),
                   let sender = error[attribute: "to"].flatMap(JID.init) {
                    _ = env.router.route(error, to: sender)
                }
                return
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256)
        stanza.movingNamespace(XMPPNamespace.client, to: ComponentNamespace.accept)
            .serialize(into: &bytes, parentNamespace: ComponentNamespace.accept)
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        write(buffer, stanzas: 1)
    }

    // MARK: output

    private func send(_ text: String) {
        socket.write(text)
    }

    private func write(_ buffer: ByteBuffer, stanzas: Int) {
        guard socket.write(buffer, stanzas: stanzas) else {
            logger.info("component is not reading: \(socket.queuedStanzas) stanzas queued; closing")
            return failStream("resource-constraint")
        }
    }

    private func sendStreamHeader() {
        guard !streamHeaderSent else { return }
        streamHeaderSent = true
        var header = "<?xml version='1.0'?><stream:stream xmlns:stream='\(XMPPNamespace.stream)' "
        header += "xmlns='\(ComponentNamespace.accept)' id='\(streamID)'"
        if let name { header += " from='\(XMLEscaping.escapeAttribute(name))'" }
        send(header + ">")
    }

    /// Ends the stream with an RFC 6120 §4.9 stream error and closes the connection.
    func failStream(_ condition: String, text: String? = nil) {
        guard !isClosed, context != nil else { return }
        if condition != "system-shutdown" && condition != "conflict" { env.stats.errorSeen() }
        sendStreamHeader()
        send(StanzaErrors.streamError(condition, text: text) + "</stream:stream>")
        close()
    }

    private func close() {
        guard let context else { return }
        handshakeTimer?.cancel()
        if case .established(let handle) = state { ended(handle) }
        state = .closed
        context.flush()
        context.close(promise: nil)
    }

    private func ended(_ handle: ComponentHandle) {
        env.registry.unregister(handle)
        logger.info("component disconnected")
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func makeStreamID() -> String {
        ComponentConnection.hex(SASLCrypto.randomBytes(12))
    }
}

extension ComponentConnection {
    /// TrackedConnection: a component has no resumable session to keep.
    func terminate(_ condition: String, allowResumption: Bool) { failStream(condition) }
}
