import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import XMPPCore

/// The routing mesh: every worker listens on `<state_dir>/mesh/<pid>.sock` and
/// keeps a connection to every other live worker, over which it replicates its
/// session registry and routes stanzas. The supervisor never carries a stanza.
///
/// A new worker binds its own socket first and then connects to every socket it
/// finds, so of two workers starting at once at least one sees the other (both may:
/// a peer can have two connections, and is gone only when the last one closes).
/// A draining worker keeps its socket and connections until it exits.
public final class Mesh: SessionReplicator, @unchecked Sendable {
    let directory: String
    public let pid: Int32
    let registry: SessionRegistry
    private let group: EventLoopGroup
    let logger: Logger
    private let lock = NIOLock()
    private var connections: [Int32: [MeshConnection]] = [:]
    private var serverChannel: Channel?
    /// Sessions of a worker that has gone (crashed or exited): the router tells
    /// their contacts they are unavailable.
    /// `announce` is true on one surviving worker only (the lowest pid this worker
    /// knows of): that one tells the users' contacts, so they hear it once.
    var peerGone: ((_ sessions: [JID], _ announce: Bool) -> Void)?
    /// A stanza a peer routed to a session or component of this worker that has
    /// ended meanwhile (the peer had not heard yet): routed again here, as to a
    /// resource that is not connected (RFC 6121 §8.5.3.2) or a domain nobody serves,
    /// so it reaches another resource, offline storage or an error back to its
    /// sender instead of vanishing.
    var recipientGone: ((_ stanza: XMLElement, _ to: JID) -> Void)?
    /// Other replicated tables (components, later s2s routes) extend the mesh
    /// with frames of their own instead of editing it.
    private var frameHandlers: [String: (XMLElement, Int32, EventLoop) -> Void] = [:]
    private var snapshotProviders: [(_ send: (XMLElement) -> Void) -> Void] = []
    private var peerGoneHandlers: [(Int32) -> Void] = []

    let mailboxes: LoopMailboxes
    private let barrier = MeshBarrier()

    init(directory: String, registry: SessionRegistry, group: EventLoopGroup, mailboxes: LoopMailboxes, logger: Logger) {
        self.mailboxes = mailboxes
        self.directory = directory
        self.pid = getpid()
        self.registry = registry
        self.group = group
        self.logger = logger
    }

    var socketPath: String { "\(directory)/\(pid).sock" }

    func start() throws {
        // A peer on the mesh routes stanzas with any `from`: only the server's user
        // may reach the sockets (whatever the umask, and for a directory an older
        // build made).
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        chmod(directory, 0o700)
        registry.replicator = self
        barrier.attach(to: self)
        serverChannel = try ServerBootstrap(group: group)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(MeshConnection(mesh: self))
                }
            }
            .bind(unixDomainSocketPath: socketPath, cleanupExistingSocketFile: true).wait()
        chmod(socketPath, 0o600)
        // Into the mesh before serving: the worker says `ready` (and its listener may
        // hand it connections) only once the workers already running have its header,
        // so a session or component it takes is known to them at once, not a moment
        // later (a message to it would meanwhile bounce). A peer that does not answer
        // in time is left to connect on its own.
        let joined = peerSocketPaths().map { connect(to: $0) }
        guard !joined.isEmpty else { return }
        let semaphore = DispatchSemaphore(value: 0)
        EventLoopFuture.whenAllComplete(joined, on: group.next()).whenComplete { _ in semaphore.signal() }
        _ = semaphore.wait(timeout: .now() + Self.joinTimeout)
    }

    /// How long `start` waits for the running workers to take the new one in.
    static let joinTimeout: DispatchTimeInterval = .seconds(2)

    private func peerSocketPaths() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".sock") && $0 != "\(pid).sock" }.map { "\(directory)/\($0)" }
    }

    /// Connects to a peer's socket; the future completes once the peer's header has
    /// registered the connection (or the connection failed).
    private func connect(to path: String) -> EventLoopFuture<Void> {
        let loop = group.next()
        let registered = loop.makePromise(of: Void.self)
        ClientBootstrap(group: loop)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(MeshConnection(mesh: self, registered: registered))
                }
            }
            .connect(unixDomainSocketPath: path)
            .whenFailure { [logger] error in
                // A socket left by a worker that died: the supervisor removes it.
                logger.debug("mesh: cannot reach \(path): \(error)")
                registered.fail(error)
            }
        return registered.futureResult
    }

    // MARK: peers

    /// A connection identified its peer: from now on it receives every change, and
    /// first a snapshot of our sessions, both under the registry lock so the peer
    /// sees them in order.
    func register(_ connection: MeshConnection, peer: Int32) {
        registry.withLocalSessions { sessions in
            lock.withLock { connections[peer, default: []].append(connection) }
            for (jid, presence, boundAt) in sessions {
                connection.send(MeshFrame.bound(jid, presence, boundAt: boundAt))
            }
        }
        for provider in lock.withLock({ snapshotProviders }) { provider { connection.send($0) } }
        logger.debug("mesh: connected to worker \(peer)")
    }

    func unregister(_ connection: MeshConnection, peer: Int32) {
        let last: Bool = lock.withLock {
            connections[peer]?.removeAll { $0 === connection }
            if connections[peer]?.isEmpty == true { connections[peer] = nil; return true }
            return false
        }
        guard last else { return }
        for handler in lock.withLock({ peerGoneHandlers }) { handler(peer) }
        let gone = registry.removeAll(of: peer)
        logger.info("mesh: worker \(peer) left; \(gone.count) of its sessions were available")
        let lowest = lock.withLock { connections.keys.allSatisfy { $0 > pid } }
        peerGone?(gone, lowest)
    }

    /// The workers this one is connected to.
    public var peers: [Int32] { lock.withLock { Array(connections.keys) } }

    /// The peers that answer `sync` frames: the workers, not a control tool asking
    /// a question (nor a worker of a build before the barrier).
    var syncingPeers: [Int32] {
        lock.withLock { connections.compactMap { $0.value.first?.peerAnswersSync == true ? $0.key : nil } }
    }

    /// A loop for the mesh's own timers.
    var eventLoop: EventLoop { group.next() }

    private func connection(to peer: Int32) -> MeshConnection? {
        lock.withLock { connections[peer]?.first }
    }

    // MARK: extensions

    /// Handles frames named `name` from peers (on the connection's event loop).
    public func addFrameHandler(_ name: String, _ handler: @escaping (_ frame: XMLElement, _ peer: Int32, EventLoop) -> Void) {
        lock.withLock { frameHandlers[name] = handler }
    }

    /// Called for every new peer connection with a `send` for the frames that bring
    /// the peer up to date. To keep order, a provider should hold the same lock
    /// around its snapshot as around its `broadcast` calls.
    public func addSnapshotProvider(_ provider: @escaping (_ send: (XMLElement) -> Void) -> Void) {
        lock.withLock { snapshotProviders.append(provider) }
    }

    public func addPeerGoneHandler(_ handler: @escaping (_ peer: Int32) -> Void) {
        lock.withLock { peerGoneHandlers.append(handler) }
    }

    func frameHandler(named name: String) -> ((XMLElement, Int32, EventLoop) -> Void)? {
        lock.withLock { frameHandlers[name] }
    }

    /// Sends a frame to every peer.
    public func broadcast(_ frame: XMLElement) {
        let all = lock.withLock { connections.values.compactMap(\.first) }
        guard !all.isEmpty else { return }
        let bytes = MeshFrame.bytes(frame)
        for connection in all { connection.send(bytes: bytes) }
    }

    /// Sends a frame to one peer; false if it is not connected.
    @discardableResult
    public func send(_ frame: XMLElement, to peer: Int32) -> Bool {
        guard let connection = connection(to: peer) else { return false }
        connection.send(frame)
        return true
    }

    // MARK: outgoing

    func replicate(_ change: RegistryChange) {
        broadcast(MeshFrame.element(for: change))
    }

    func afterReplicatedChangesWritten(_ body: @escaping @Sendable () -> Void) {
        let all = lock.withLock { connections.values.compactMap(\.first) }
        guard !all.isEmpty else { return body() }
        let left = NIOLockedValueBox(all.count)
        for connection in all {
            connection.afterQueuedWrites {
                if left.withLockedValue({ $0 -= 1; return $0 == 0 }) { body() }
            }
        }
    }

    func afterPeersApplied(_ body: @escaping @Sendable () -> Void) {
        barrier.afterPeersApplied(self, body)
    }

    /// A handle for a session held by `peer`: delivering sends it over the mesh.
    func remoteHandle(_ jid: JID, peer: Int32, eventLoop: EventLoop) -> SessionHandle {
        let prefixes = RoutePrefixes(jid)
        return SessionHandle(remote: jid, eventLoop: eventLoop, peer: peer,
                      deliver: { [weak self] stanza in
                          guard let connection = self?.connection(to: peer) else { return }
                          connection.send(bytes: connection.peerReadsRouteBytes
                                          ? MeshRouteFrame.bytes(stanza, prefix: prefixes.binary)
                                          : MeshFrame.routeBytes(stanza, prefix: prefixes.xml))
                      },
                      deliverSerialized: { [weak self] stanza in
                          self?.send(stanza, prefixes: prefixes, hop: false, to: peer)
                      },
                      terminate: { [weak self] condition in
                          self?.connection(to: peer)?.send(MeshFrame.kick(jid, condition: condition))
                      })
    }

    /// A stanza that came in as bytes for a session that has moved to `holder`:
    /// sent on once, marked so that it is never forwarded again.
    func forward(_ stanza: SerializedStanza, to jid: JID, holder: Int32) {
        send(stanza, prefixes: RoutePrefixes(jid), hop: true, to: holder)
    }

    private func send(_ stanza: SerializedStanza, prefixes: RoutePrefixes, hop: Bool, to peer: Int32) {
        guard let connection = connection(to: peer) else { return }
        if connection.peerReadsRouteBytes {
            connection.send(bytes: MeshRouteFrame.bytes(stanza, prefix: prefixes.binary, hop: hop))
        } else if let element = stanza.element() {
            var frame = MeshFrame.route(element, to: prefixes.jid)
            if hop { frame[attribute: "hop"] = "1" }
            connection.send(frame)
        }
    }

    func stop() {
        try? serverChannel?.close().wait()
        unlink(socketPath)
    }
}

/// The constant start of every route frame to one remote session, in both forms.
private struct RoutePrefixes: Sendable {
    let jid: JID
    let xml: [UInt8]
    let binary: [UInt8]
    init(_ jid: JID) {
        self.jid = jid
        xml = MeshFrame.routePrefix(to: jid)
        binary = MeshRouteFrame.prefix(to: jid)
    }
}
