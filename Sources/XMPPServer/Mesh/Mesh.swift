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
final class Mesh: SessionReplicator, @unchecked Sendable {
    let directory: String
    let pid: Int32
    let registry: SessionRegistry
    private let group: EventLoopGroup
    let logger: Logger
    private let lock = NIOLock()
    private var connections: [Int32: [MeshConnection]] = [:]
    private var serverChannel: Channel?
    /// Sessions of a worker that has gone (crashed or exited): the router tells
    /// their contacts they are unavailable.
    var peerGone: (([JID]) -> Void)?

    init(directory: String, registry: SessionRegistry, group: EventLoopGroup, logger: Logger) {
        self.directory = directory
        self.pid = getpid()
        self.registry = registry
        self.group = group
        self.logger = logger
    }

    var socketPath: String { "\(directory)/\(pid).sock" }

    func start() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        registry.replicator = self
        serverChannel = try ServerBootstrap(group: group)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(MeshConnection(mesh: self))
                }
            }
            .bind(unixDomainSocketPath: socketPath, cleanupExistingSocketFile: true).wait()
        for peerPath in peerSocketPaths() { connect(to: peerPath) }
    }

    private func peerSocketPaths() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".sock") && $0 != "\(pid).sock" }.map { "\(directory)/\($0)" }
    }

    private func connect(to path: String) {
        ClientBootstrap(group: group)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(MeshConnection(mesh: self))
                }
            }
            .connect(unixDomainSocketPath: path)
            .whenFailure { [logger] error in
                // A socket left by a worker that died: the supervisor removes it.
                logger.debug("mesh: cannot reach \(path): \(error)")
            }
    }

    // MARK: peers

    /// A connection identified its peer: from now on it receives every change, and
    /// first a snapshot of our sessions, both under the registry lock so the peer
    /// sees them in order.
    func register(_ connection: MeshConnection, peer: Int32) {
        registry.withLocalSessions { sessions in
            lock.withLock { connections[peer, default: []].append(connection) }
            for (jid, available, priority, boundAt) in sessions {
                connection.send(MeshFrame.bound(jid, available: available, priority: priority, boundAt: boundAt))
            }
        }
        logger.debug("mesh: connected to worker \(peer)")
    }

    func unregister(_ connection: MeshConnection, peer: Int32) {
        let last: Bool = lock.withLock {
            connections[peer]?.removeAll { $0 === connection }
            if connections[peer]?.isEmpty == true { connections[peer] = nil; return true }
            return false
        }
        guard last else { return }
        let gone = registry.removeAll(of: peer)
        logger.info("mesh: worker \(peer) left; \(gone.count) of its sessions were available")
        peerGone?(gone)
    }

    private func connection(to peer: Int32) -> MeshConnection? {
        lock.withLock { connections[peer]?.first }
    }

    // MARK: outgoing

    func replicate(_ change: RegistryChange) {
        let all = lock.withLock { connections.values.compactMap(\.first) }
        guard !all.isEmpty else { return }
        let bytes = MeshFrame.bytes(MeshFrame.element(for: change))
        for connection in all { connection.send(bytes: bytes) }
    }

    /// A handle for a session held by `peer`: delivering sends it over the mesh.
    func remoteHandle(_ jid: JID, peer: Int32, eventLoop: EventLoop) -> SessionHandle {
        SessionHandle(jid: jid, eventLoop: eventLoop, peer: peer,
                      deliver: { [weak self] stanza in
                          self?.connection(to: peer)?.send(MeshFrame.route(stanza, to: jid))
                      },
                      terminate: { [weak self] condition in
                          self?.connection(to: peer)?.send(MeshFrame.kick(jid, condition: condition))
                      })
    }

    func stop() {
        try? serverChannel?.close().wait()
        unlink(socketPath)
    }
}
