import Foundation
import NIOCore
import XMPPCore

/// One mesh connection to another worker, in either direction. Frames arrive on
/// the channel's event loop; deliveries to local sessions hop to theirs.
final class MeshConnection: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let mesh: Mesh
    private let parser = XMLStreamParser(maxStanzaSize: nil)
    private var channel: Channel?
    private var peer: Int32?
    private var mailbox: LoopMailbox?
    private var flushDeferred = false
    /// Frames of the current mailbox batch, not yet written (loop only).
    private var outgoing: ByteBuffer?
    private var splitter = MeshInputSplitter()
    /// The peer's stream header announced that it reads binary route frames. Set on
    /// the connection's loop before the connection is registered with the mesh
    /// (under its lock), so every sender that finds the connection sees it.
    private(set) var peerReadsRouteBytes = false
    /// The peer is a worker that answers `sync` frames (MeshBarrier); set as above.
    private(set) var peerAnswersSync = false

    /// Completed once the peer's header registered this connection (connections this
    /// worker opened, see Mesh.start); failed if it closes before.
    private var registered: EventLoopPromise<Void>?

    init(mesh: Mesh, registered: EventLoopPromise<Void>? = nil) {
        self.mesh = mesh
        self.registered = registered
    }

    func channelActive(context: ChannelHandlerContext) {
        channel = context.channel
        mailbox = mesh.mailboxes.mailbox(for: context.eventLoop)
        var buffer = context.channel.allocator.buffer(capacity: 160)
        buffer.writeString(MeshFrame.header(pid: mesh.pid))
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        // Asynchronously: a failed write closes the channel inside the writer's call,
        // and a writer may hold the registry lock that unregistering needs.
        if let peer { context.eventLoop.execute { [mesh] in mesh.unregister(self, peer: peer) } }
        peer = nil
        channel = nil
        registered?.fail(ChannelError.ioOnClosedChannel)
        registered = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        var failure: Error?
        mailbox?.pacer.noteRead()
        // One batch per read: deliveries to sessions of this loop happen in place, and
        // each connection written to is flushed once at the end.
        (mailbox ?? mesh.mailboxes.mailbox(for: context.eventLoop)).runBatch {
            do {
                try splitter.split(buffer, xml: { bytes in
                    try parser.feed(bytes) { event in self.handle(event, context: context) }
                }, frame: { body in
                    try self.handleBinaryFrame(body)
                })
            } catch {
                failure = error
            }
        }
        if let failure {
            mesh.logger.error("mesh: bad frame from worker \(peer.map(String.init) ?? "?"): \(failure)")
            context.close(promise: nil)
        }
    }

    func send(_ element: XMLElement) { send(bytes: MeshFrame.bytes(element)) }

    /// From any thread: frames are queued on the connection's loop in call order and
    /// gathered into one buffer per mailbox batch, written and flushed once: a batch
    /// of routed stanzas costs one trip through the channel pipeline and one
    /// syscall, not one write each.
    func send(bytes: [UInt8]) {
        guard let channel, let mailbox else { return }
        mailbox.post { [self] in
            if outgoing == nil {
                outgoing = channel.allocator.buffer(capacity: max(bytes.count, Self.batchBufferSize))
            }
            outgoing!.writeBytes(bytes)
            guard !flushDeferred else { return }
            if mailbox.deferFlush({ [self] in flushDeferred = false; writeOutgoing() }) {
                flushDeferred = true
            } else {
                writeOutgoing()
            }
        }
    }

    /// Calls `body` once every frame queued before this call is written (behind them in
    /// the mailbox, after the batch's own write).
    func afterQueuedWrites(_ body: @escaping () -> Void) {
        guard let mailbox else { return body() }
        mailbox.post { if !mailbox.deferFlush(body) { body() } }
    }

    /// Room for a batch of typical frames without growing.
    private static let batchBufferSize = 16 * 1024

    private func writeOutgoing() {
        guard let buffer = outgoing else { return }
        outgoing = nil
        channel?.writeAndFlush(buffer, promise: nil)
    }

    // MARK: incoming frames

    private func handle(_ event: XMLStreamEvent, context: ChannelHandlerContext) {
        switch event {
        case .streamOpened(let header):
            guard let pid = header.attributes["pid"].flatMap(Int32.init) else {
                context.close(promise: nil)
                return
            }
            peer = pid
            peerReadsRouteBytes = header.attributes[MeshRouteFrame.headerAttribute] == "1"
            peerAnswersSync = header.attributes[MeshBarrier.headerAttribute] == "1"
            mesh.register(self, peer: pid)
            registered?.succeed(())
            registered = nil
        case .streamClosed:
            context.close(promise: nil)
        case .element(let frame):
            guard let peer else { return }
            handle(frame, from: peer, eventLoop: context.eventLoop)
        }
    }

    enum FrameError: Error { case badBinaryFrame }

    /// A binary route frame: the stanza's bytes go to the session as they are.
    private func handleBinaryFrame(_ body: ByteBuffer) throws {
        guard let peer else { return }
        guard let route = MeshRouteFrame.decode(body) else { throw FrameError.badBinaryFrame }
        guard let to = JID(route.to) else { return }
        guard let session = mesh.registry.session(for: to) else {
            if let stanza = route.stanza.element() { mesh.recipientGone?(stanza, to) }
            return
        }
        if session.peer == nil {
            session.deliver(route.stanza)
        } else if !route.hop, let holder = session.peer, holder != peer {
            // Moved to another worker (XEP-0198 resumption), as for the XML frame.
            mesh.forward(route.stanza, to: to, holder: holder)
        }
    }

    private func handle(_ frame: XMLElement, from peer: Int32, eventLoop: EventLoop) {
        let registry = mesh.registry
        switch frame.name {
        case "route":
            guard let to = frame[attribute: "to"].flatMap(JID.init), let stanza = frame.elements.first else { return }
            guard let session = registry.session(for: to) else {
                mesh.recipientGone?(stanza, to)
                return
            }
            if session.peer == nil {
                session.deliver(stanza)
            } else if frame[attribute: "hop"] == nil, let holder = session.peer, holder != peer {
                // The session moved to another worker (XEP-0198 resumption) and the
                // sender has not heard yet: forward once. Never more than one hop,
                // so a stale entry cannot bounce a stanza around the mesh.
                var forwarded = frame
                forwarded[attribute: "hop"] = "1"
                mesh.send(forwarded, to: holder)
            }
        case "bound":
            guard let jid = frame[attribute: "jid"].flatMap(JID.init) else { return }
            let loser = registry.remoteBound(
                jid, peer: peer, presence: MeshFrame.presence(of: frame),
                boundAt: Double(frame[attribute: "at"] ?? "0") ?? 0,
                handle: { mesh.remoteHandle(jid, peer: peer, eventLoop: eventLoop) })
            loser?.terminate(condition: "conflict")
        case "unbound":
            guard let jid = frame[attribute: "jid"].flatMap(JID.init) else { return }
            registry.remoteUnbound(jid, peer: peer)
        case "presence":
            guard let jid = frame[attribute: "jid"].flatMap(JID.init) else { return }
            registry.remotePresence(jid, peer: peer, presence: MeshFrame.presence(of: frame))
        case "kick":
            guard let jid = frame[attribute: "jid"].flatMap(JID.init),
                  let session = registry.session(for: jid), session.peer == nil else { return }
            session.terminate(condition: frame[attribute: "condition"] ?? "conflict")
        default:
            if let handler = mesh.frameHandler(named: frame.name) {
                handler(frame, peer, eventLoop)
            } else {
                mesh.logger.warning("mesh: unknown frame \(frame.name) from worker \(peer)")
            }
        }
    }
}
