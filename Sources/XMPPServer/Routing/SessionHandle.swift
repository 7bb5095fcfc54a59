import NIOCore
import XMPPCore

/// What the rest of the server knows of one bound session: its full JID, where it
/// lives, and its presence. Delivery always hops onto the session's own event loop,
/// so a connection's state is only ever touched from one thread.
///
/// Later transports (BOSH, WebSocket) and other workers plug in behind this same
/// `deliver` / `terminate` pair: the router never assumes a TCP connection.
public final class SessionHandle: @unchecked Sendable {
    public let jid: JID
    public let eventLoop: EventLoop
    /// nil for a session of this worker; else the pid of the worker holding it.
    public let peer: Int32?
    /// Where deliveries go: a connection, held weakly (no closure contexts per
    /// session), or a wrapper of the closures given to the closure initialiser.
    private weak var connection: SessionEndpoint?
    private let closures: ClosureEndpoint?

    /// Guarded by the SessionRegistry lock.
    var presence = PresenceState()
    var isAvailable: Bool { presence.available }
    var priority: Int { presence.priority }

    /// Deliveries to a local session go through its loop's mailbox (batched).
    private let mailbox: LoopMailbox?
    /// The closures may be called from any thread (a remote session's).
    private let callsFromAnyThread: Bool

    public init(jid: JID, eventLoop: EventLoop, mailbox: LoopMailbox? = nil, peer: Int32? = nil,
                deliver: @escaping (XMLElement) -> Void,
                terminate: @escaping (_ streamErrorCondition: String) -> Void) {
        self.jid = jid
        self.eventLoop = eventLoop
        self.mailbox = mailbox
        self.peer = peer
        self.closures = ClosureEndpoint(deliver: deliver, deliverSerialized: nil, terminate: terminate)
        self.callsFromAnyThread = false
    }

    /// A session of another worker: its closures only queue frames on a mesh
    /// connection (thread-safe and in call order), so they are called on the
    /// caller's thread. A hop to `eventLoop` first would cost every message routed
    /// from another loop one more task and wake-up.
    init(remote jid: JID, eventLoop: EventLoop, peer: Int32,
         deliver: @escaping @Sendable (XMLElement) -> Void,
         deliverSerialized: @escaping @Sendable (SerializedStanza) -> Void,
         terminate: @escaping @Sendable (_ streamErrorCondition: String) -> Void) {
        self.jid = jid
        self.eventLoop = eventLoop
        self.mailbox = nil
        self.peer = peer
        self.closures = ClosureEndpoint(deliver: deliver, deliverSerialized: deliverSerialized, terminate: terminate)
        self.callsFromAnyThread = true
    }

    /// A session of a local connection: deliveries and terminations go to `connection`
    /// while it exists (it is held weakly), and are dropped after.
    init(jid: JID, eventLoop: EventLoop, mailbox: LoopMailbox?, connection: SessionEndpoint) {
        self.jid = jid
        self.eventLoop = eventLoop
        self.mailbox = mailbox
        self.peer = nil
        self.connection = connection
        self.closures = nil
        self.callsFromAnyThread = false
    }

    private func deliverOnLoop(_ stanza: XMLElement) {
        if let closures { closures.deliver(stanza) } else { connection?.deliver(stanza) }
    }

    private func terminateOnLoop(_ condition: String) {
        if let closures { closures.terminate(condition: condition) } else { connection?.terminate(condition: condition) }
    }

    public func deliver(_ stanza: XMLElement) {
        if callsFromAnyThread {
            deliverOnLoop(stanza)
        } else if let mailbox {
            mailbox.post { self.deliverOnLoop(stanza) }
        } else if eventLoop.inEventLoop {
            deliverOnLoop(stanza)
        } else {
            eventLoop.execute { self.deliverOnLoop(stanza) }
        }
    }

    /// A stanza that is already bytes (routed in from another worker): written as
    /// is where nothing needs the element, else parsed back first.
    public func deliver(_ stanza: SerializedStanza) {
        if let closures {
            if let deliverSerialized = closures.deliverSerialized {
                if callsFromAnyThread || eventLoop.inEventLoop {
                    deliverSerialized(stanza)
                } else {
                    eventLoop.execute { deliverSerialized(stanza) }
                }
            } else if let element = stanza.element() {
                deliver(element)
            }
        } else if let mailbox {
            if mailbox.runsInPlace { connection?.deliver(stanza) } else { mailbox.post { self.connection?.deliver(stanza) } }
        } else if eventLoop.inEventLoop {
            connection?.deliver(stanza)
        } else {
            eventLoop.execute { self.connection?.deliver(stanza) }
        }
    }

    /// Ends the session with a stream error (e.g. "conflict" when replaced).
    public func terminate(condition: String) {
        if callsFromAnyThread {
            terminateOnLoop(condition)
        } else if eventLoop.inEventLoop { terminateOnLoop(condition) } else { eventLoop.execute { self.terminateOnLoop(condition) } }
    }
}

/// The local end of a session: called on the session's event loop.
protocol SessionEndpoint: AnyObject {
    func deliver(_ stanza: XMLElement)
    /// The same stanza as bytes a client receives (see SerializedStanza).
    func deliver(_ stanza: SerializedStanza)
    /// Ends the session with this stream error condition.
    func terminate(condition: String)
}

private final class ClosureEndpoint {
    let deliverBody: (XMLElement) -> Void
    let deliverSerialized: ((SerializedStanza) -> Void)?
    let terminateBody: (String) -> Void
    init(deliver: @escaping (XMLElement) -> Void, deliverSerialized: ((SerializedStanza) -> Void)?,
         terminate: @escaping (String) -> Void) {
        deliverBody = deliver
        self.deliverSerialized = deliverSerialized
        terminateBody = terminate
    }
    func deliver(_ stanza: XMLElement) { deliverBody(stanza) }
    func terminate(condition: String) { terminateBody(condition) }
}

/// What the server knows of a session's presence (RFC 6121 §4): whether it is
/// available, its priority, and the last available presence it broadcast (sent to
/// contacts that probe, and replicated to the other workers with it).
public struct PresenceState: Sendable {
    public var available = false
    public var priority = 0
    /// The stanza as broadcast. A stored presence usually ends with the `from` the
    /// server stamped on it: that attribute is kept as a JID (whose short parts need
    /// no heap storage) and put back when the stanza is read, so an idle session's
    /// presence often holds no attribute array or address string at all.
    public var stanza: XMLElement? {
        get {
            guard var stanza = storedStanza else { return nil }
            if let strippedFrom { stanza.attributes.append((name: "from", value: strippedFrom.description)) }
            return stanza
        }
        set {
            strippedFrom = nil
            storedStanza = newValue
            guard var stanza = newValue, let last = stanza.attributes.last, last.name == "from",
                  let jid = JID(last.value), jid.description == last.value else { return }
            stanza.attributes.removeLast()
            if stanza.attributes.isEmpty { stanza.attributes = [] }   // frees the array
            storedStanza = stanza
            strippedFrom = jid
        }
    }

    private var storedStanza: XMLElement?
    private var strippedFrom: JID?

    public init(available: Bool = false, priority: Int = 0, stanza: XMLElement? = nil) {
        self.available = available
        self.priority = priority
        self.stanza = stanza
    }
}
