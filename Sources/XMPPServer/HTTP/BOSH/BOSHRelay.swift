import NIOConcurrencyHelpers
import NIOHTTP1
import XMPPCore

/// Carries BOSH requests to the worker that holds their session.
///
/// A BOSH session lives in the worker that created it, but each request comes on a new
/// HTTP connection, and after a reload or rolling restart those reach the listener's
/// new worker. The session id names the worker that created it (`SessionIDs`), so the
/// new worker sends such a request over the mesh to the old one, which is draining but
/// still serves its sessions, and relays the answer: a BOSH session then survives a
/// handover like a TCP or WebSocket one, until it ends or `drain_timeout` passes.
/// (MongooseIM keeps its BOSH sessions in a cluster-wide table for the same reason.)
final class BOSHRelay: @unchecked Sendable {
    static let requestName = "bosh-request"
    static let responseName = "bosh-response"

    private let mesh: Mesh
    private let lock = NIOLock()
    private var nextID = 0
    /// Requests sent to another worker, waiting for its answer.
    private var pending: [Int: (peer: Int32, reply: BOSHService.Reply)] = [:]

    /// Registers the relay's frames; `service` answers requests relayed to this worker.
    /// The mesh holds the service from now on: once a reload has closed the listening
    /// socket and the last HTTP connection, nothing else does, and its sessions must
    /// still be found.
    init(mesh: Mesh, service: BOSHService) {
        self.mesh = mesh
        mesh.addFrameHandler(Self.requestName) { [weak mesh] frame, peer, _ in
            guard let mesh, let id = frame[attribute: "id"], let body = frame.elements.first else { return }
            let answer: BOSHService.Reply = { status, text in mesh.send(Self.response(id: id, status: status, text: text), to: peer) }
            mesh.logger.debug("bosh: request \(id) relayed by worker \(peer)")
            service.handleRelayed(body, reply: answer)
        }
        mesh.addFrameHandler(Self.responseName) { [weak self] frame, _, _ in
            guard let self, let id = frame[attribute: "id"].flatMap(Int.init),
                  let waiting = lock.withLock({ self.pending.removeValue(forKey: id) }) else { return }
            let status = frame[attribute: "status"].flatMap(Int.init).map { HTTPResponseStatus(statusCode: $0) } ?? .ok
            waiting.reply(status, frame.text)
        }
        mesh.addPeerGoneHandler { [weak self] peer in
            // The worker holding the sessions is gone, and they with it.
            guard let self else { return }
            let lost = lock.withLock { () -> [BOSHService.Reply] in
                let ids = self.pending.filter { $0.value.peer == peer }.map(\.key)
                return ids.compactMap { self.pending.removeValue(forKey: $0)?.reply }
            }
            for reply in lost { reply(.ok, BOSHBody.terminate("item-not-found")) }
        }
    }

    /// Every worker answers relayed requests, BOSH listener or not: a client can put
    /// any pid at the end of a `sid`, and a worker without BOSH sessions must still
    /// answer (item-not-found) rather than leave the request hanging. A BOSH worker's
    /// relay replaces this handler with its own.
    static func answerUnknownSessions(on mesh: Mesh) {
        mesh.addFrameHandler(requestName) { [weak mesh] frame, peer, _ in
            guard let mesh, let id = frame[attribute: "id"] else { return }
            mesh.send(response(id: id, status: .ok, text: BOSHBody.terminate("item-not-found")), to: peer)
        }
    }

    private static func response(id: String, status: HTTPResponseStatus, text: String) -> XMLElement {
        XMLElement(name: responseName, namespace: MeshFrame.namespace,
                   attributes: ["id": id, "status": String(status.code)], children: [.text(text)])
    }

    /// Sends a request for a session of worker `holder`; `reply` gets its answer.
    func forward(_ body: XMLElement, to holder: Int32, reply: @escaping BOSHService.Reply) {
        let id: Int = lock.withLock {
            nextID += 1
            pending[nextID] = (holder, reply)
            return nextID
        }
        let frame = XMLElement(name: Self.requestName, namespace: MeshFrame.namespace,
                               attributes: ["id": String(id)], children: [.element(body)])
        mesh.logger.debug("bosh: relaying request \(id) to worker \(holder)")
        if !mesh.send(frame, to: holder), let unsent = lock.withLock({ self.pending.removeValue(forKey: id) }) {
            unsent.reply(.ok, BOSHBody.terminate("item-not-found"))
        }
    }
}
