import Foundation
import NIOConcurrencyHelpers
import NIOCore
import XMPPCore
import XMPPModuleAPI

/// A `<resume/>` looking for its session: who asks, and how the session is handed on.
struct ResumeRequest {
    var resumptionID: String
    /// The bare JID the new stream authenticated as: only its own sessions resume.
    var user: JID
    var clientHandled: UInt32
    /// Called once, on the old session's event loop, with the session's state: binds
    /// the resumed session and returns its handle (late deliveries to the old
    /// connection are forwarded to it).
    var adopt: (SessionHandover) -> SessionHandle
    /// The session is not there (any more); `staleH` when `stale_h` remembers it.
    var fail: (_ staleH: UInt32?) -> Void
}

/// The resumable sessions of this worker (XEP-0198 §5), by resumption id, and the
/// way to take one over from another worker through the mesh.
///
/// A `<resume/>` is asked of this worker first, then of every other worker (there is
/// one per listener, so few): the one that holds the id hands the session over in
/// an `sm-handover` frame, the others answer `sm-failed`. Frames on one mesh
/// connection keep their order, so the holder's later `route` frames for the
/// session arrive after the handover and find it bound here.
public final class SessionResumption: @unchecked Sendable {
    /// Whose session it is, the connection checks when asked to hand it over.
    private struct Entry {
        var eventLoop: EventLoop
        /// Strong: a suspended session has no channel to keep its connection alive.
        var connection: C2SConnection
    }

    private struct Pending {
        var request: ResumeRequest
        var awaiting: Int
        var staleH: UInt32?
        var timeout: Scheduled<Void>?
    }

    private let lock = NIOLock()
    private var entries: [String: Entry] = [:]
    private var suspended: Set<String> = []
    private var staleH: [String: (h: UInt32, until: Date)] = [:]
    private var pending: [String: Pending] = [:]
    private var nextRequest = 0
    private weak var mesh: Mesh?
    private var hooks: Hooks?

    public init() {}

    /// How many sessions wait to be resumed, their connection gone.
    public var suspendedCount: Int { lock.withLock { suspended.count } }

    // MARK: this worker's sessions (called on the session's loop)

    func register(_ id: String, connection: C2SConnection, on loop: EventLoop) {
        lock.withLock { entries[id] = Entry(eventLoop: loop, connection: connection) }
    }

    /// The session's connection is gone; `remove` (resumed elsewhere or ended) clears it.
    func markSuspended(_ id: String) {
        _ = lock.withLock { suspended.insert(id) }
    }

    /// The session ended for good; with `stale_h`, its `h` is kept for late resumes.
    func remove(_ id: String, staleH h: UInt32?, keepFor seconds: Int) {
        lock.withLock {
            entries[id] = nil
            suspended.remove(id)
            if let h { staleH[id] = (h, Date().addingTimeInterval(Double(seconds))) }
            let now = Date()
            if staleH.count > 64 { staleH = staleH.filter { $0.value.until > now } }
        }
    }

    /// Ends every suspended session now (a worker that stops): their unacked
    /// messages are rerouted (offline storage) like at a resume timeout.
    public func expireAll() {
        let all = lock.withLock { suspended.compactMap { entries[$0] } }
        for entry in all { try? entry.eventLoop.submit { entry.connection.resumptionExpired() }.wait() }
    }

    // MARK: resuming

    func resume(_ request: ResumeRequest) {
        if let entry = lock.withLock({ entries[request.resumptionID] }) {
            entry.eventLoop.execute { entry.connection.handOver(to: request) }
            return
        }
        let peers = mesh?.peers ?? []
        guard let mesh, !peers.isEmpty else { return request.fail(localStaleH(request.resumptionID)) }
        let token: String = lock.withLock {
            nextRequest += 1
            let token = String(nextRequest)
            pending[token] = Pending(request: request, awaiting: peers.count, staleH: staleH[request.resumptionID]?.h)
            return token
        }
        let timeout = mesh.eventLoop.scheduleTask(in: .seconds(10)) { [weak self] () -> Void in
            // A handover arriving later finds no request: that session is lost.
            self?.finish(token, handover: nil)
        }
        lock.withLock { pending[token]?.timeout = timeout }
        let ask = XMLElement(name: "sm-takeover", namespace: MeshFrame.namespace, attributes: [
            "req": token, "id": request.resumptionID, "user": request.user.description,
            "h": String(request.clientHandled),
        ])
        for peer in peers where !mesh.send(ask, to: peer) { answered(token, staleH: nil) }
    }

    private func localStaleH(_ id: String) -> UInt32? {
        lock.withLock { staleH[id].flatMap { $0.until > Date() ? $0.h : nil } }
    }

    private func answered(_ token: String, staleH h: UInt32?) {
        let done: Bool = lock.withLock {
            guard var entry = pending[token] else { return false }
            entry.awaiting -= 1
            if let h { entry.staleH = h }
            pending[token] = entry
            return entry.awaiting <= 0
        }
        if done { finish(token, handover: nil) }
    }

    private func finish(_ token: String, handover: SessionHandover?) {
        guard let entry = lock.withLock({ pending.removeValue(forKey: token) }) else { return }
        entry.timeout?.cancel()
        if let handover {
            _ = entry.request.adopt(handover)
            hooks?.runSessionImport(handover.jid, handover.moduleState)
        } else {
            entry.request.fail(entry.staleH)
        }
    }

    // MARK: mesh

    func attach(to mesh: Mesh, hooks: Hooks) {
        self.mesh = mesh
        self.hooks = hooks
        // Another worker asks for a session: hand it over if it is here.
        mesh.addFrameHandler("sm-takeover") { [weak self, weak mesh] frame, peer, _ in
            guard let self, let mesh, let token = frame[attribute: "req"], let id = frame[attribute: "id"],
                  let user = frame[attribute: "user"].flatMap(JID.init),
                  let h = frame[attribute: "h"].flatMap(UInt32.init) else { return }
            let notHere = { (stale: UInt32?) in
                var failed = XMLElement(name: "sm-failed", namespace: MeshFrame.namespace, attributes: ["req": token])
                if let stale { failed[attribute: "h"] = String(stale) }
                mesh.send(failed, to: peer)
            }
            guard let entry = self.lock.withLock({ self.entries[id] }) else { return notHere(self.localStaleH(id)) }
            let request = ResumeRequest(
                resumptionID: id, user: user, clientHandled: h,
                adopt: { [hooks] handover in
                    var moving = handover
                    moving.moduleState = hooks.runSessionExport(handover.jid)
                    mesh.send(moving.frame(request: token), to: peer)
                    return mesh.remoteHandle(handover.jid, peer: peer, eventLoop: entry.eventLoop)
                },
                fail: { stale in notHere(stale) })
            entry.eventLoop.execute { entry.connection.handOver(to: request) }
        }
        mesh.addFrameHandler(SessionHandover.frameName) { [weak self] frame, _, _ in
            guard let self, let token = frame[attribute: "req"] else { return }
            guard let handover = SessionHandover(frame: frame) else { return self.answered(token, staleH: nil) }
            self.finish(token, handover: handover)
        }
        mesh.addFrameHandler("sm-failed") { [weak self] frame, _, _ in
            guard let self, let token = frame[attribute: "req"] else { return }
            self.answered(token, staleH: frame[attribute: "h"].flatMap(UInt32.init))
        }
    }
}
