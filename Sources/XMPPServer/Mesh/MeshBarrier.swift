import NIOConcurrencyHelpers
import NIOCore
import XMPPCore

/// "Have you applied everything I sent you so far?", asked of every peer at once.
///
/// A peer handles one connection's frames in order, so its answer to a `sync` frame
/// means every registry change sent before it is in the peer's registry. What a
/// peer decided before that, it decided without the change; so anything it wrote
/// then (a subscription request or a message stored for a user it thought offline)
/// is committed before this worker reads after the barrier.
final class MeshBarrier: @unchecked Sendable {
    /// A peer that does not answer (stuck, or gone without its socket closing yet)
    /// holds nobody up for longer than this.
    static let timeout = TimeAmount.seconds(2)
    /// In a worker's mesh header: it answers `sync`.
    static let headerAttribute = "sync"

    private let lock = NIOLock()
    private var lastID = 0
    private var waiting: [Int: (peers: Set<Int32>, body: @Sendable () -> Void)] = [:]

    func attach(to mesh: Mesh) {
        mesh.addFrameHandler("sync") { [weak mesh] frame, peer, _ in
            mesh?.send(XMLElement(name: "synced", attributes: ["id": frame[attribute: "id"] ?? ""]), to: peer)
        }
        mesh.addFrameHandler("synced") { [weak self] frame, peer, _ in
            guard let id = frame[attribute: "id"].flatMap(Int.init) else { return }
            self?.answered(id, by: peer)
        }
        mesh.addPeerGoneHandler { [weak self] peer in
            guard let self else { return }
            for id in lock.withLock({ Array(self.waiting.keys) }) { answered(id, by: peer) }
        }
    }

    /// Runs `body` (on a mesh loop, or here when there is no peer) once every peer
    /// connected now has answered, has gone, or `timeout` has passed.
    func afterPeersApplied(_ mesh: Mesh, _ body: @escaping @Sendable () -> Void) {
        let peers = Set(mesh.syncingPeers)
        guard !peers.isEmpty else { return body() }
        let id: Int = lock.withLock {
            lastID += 1
            waiting[lastID] = (peers, body)
            return lastID
        }
        // Behind the changes already queued for each peer: `send` keeps call order.
        let frame = XMLElement(name: "sync", attributes: ["id": String(id)])
        for peer in peers where !mesh.send(frame, to: peer) { answered(id, by: peer) }
        mesh.eventLoop.scheduleTask(in: Self.timeout) { [weak self] in self?.finish(id) }
    }

    private func answered(_ id: Int, by peer: Int32) {
        let done: Bool = lock.withLock {
            guard waiting[id] != nil else { return false }
            waiting[id]!.peers.remove(peer)
            return waiting[id]!.peers.isEmpty
        }
        if done { finish(id) }
    }

    private func finish(_ id: Int) {
        lock.withLock { waiting.removeValue(forKey: id) }?.body()
    }
}
