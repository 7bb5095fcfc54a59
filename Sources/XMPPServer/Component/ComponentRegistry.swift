import Foundation
import NIOConcurrencyHelpers
import NIOCore
import XMPPConfig
import XMPPCore

/// What the rest of the server knows of one connected external component (XEP-0114):
/// where it lives and how to hand it a stanza. Like `SessionHandle`, delivery hops
/// onto the connection's own event loop; a component of another worker is reached
/// through the mesh.
public final class ComponentHandle: @unchecked Sendable {
    /// nil for a component of this worker; else the pid of the worker holding it.
    public let peer: Int32?
    private let eventLoop: EventLoop
    private let deliverOnLoop: (XMLElement) -> Void
    private let terminateOnLoop: (String) -> Void

    public init(eventLoop: EventLoop, peer: Int32? = nil,
                deliver: @escaping (XMLElement) -> Void,
                terminate: @escaping (_ streamErrorCondition: String) -> Void) {
        self.eventLoop = eventLoop
        self.peer = peer
        self.deliverOnLoop = deliver
        self.terminateOnLoop = terminate
    }

    /// Hands `stanza` (in jabber:client) to the component.
    public func deliver(_ stanza: XMLElement) {
        if eventLoop.inEventLoop { deliverOnLoop(stanza) } else { eventLoop.execute { self.deliverOnLoop(stanza) } }
    }

    /// Ends the component's stream with a stream error. Always asynchronous: callers
    /// may hold the registry lock, which the closing connection takes to unregister.
    public func terminate(condition: String) {
        eventLoop.execute { self.terminateOnLoop(condition) }
    }
}

/// Which component domains are connected, in this worker and in every other worker
/// of the mesh: MongooseIM's `external_component` table (mongoose_component.erl),
/// replicated like `SessionRegistry`: local changes are broadcast to peers inside
/// the lock (so a peer never sees them out of order, nor interleaved with the
/// snapshot a new peer gets), and peers' changes arrive through `remote…` calls.
///
/// Two registrations of one domain on two workers at the same moment both succeed
/// locally; every worker then settles the race the same way: of the two, the later
/// one wins if it was made with `conflict_behaviour = "kick_old"`, else the earlier
/// one (ties by pid). The worker whose component lost ends it with `<conflict/>`.
public final class ComponentRegistry: @unchecked Sendable {
    public struct Entry {
        public var handle: ComponentHandle
        /// nil for a component of this worker, else the pid of the worker holding it.
        public var peer: Int32?
        /// `hidden_components` of the listener it connected to.
        public var hidden: Bool
        /// Wall-clock registration time, and whether it was made with kick_old.
        var registeredAt: Double
        var kicksOld: Bool
        var pid: Int32
    }

    public enum Registration: Equatable {
        case registered
        /// The domain is taken (by a served host or by another component).
        case conflict(domain: String)
    }

    private let lock = NIOLock()
    private var byDomain: [String: Entry] = [:]
    private let hosts: Set<String>
    private let pid: Int32
    private weak var mesh: Mesh?

    public init(hosts: [String]) {
        self.hosts = Set(hosts)
        self.pid = getpid()
    }

    // MARK: local components

    /// Registers a component of this worker for `domains`, all or none.
    ///
    /// A served host is never given to a component: MongooseIM refuses a domain that
    /// already has a route or is a (dynamic) domain of the server with the same
    /// registration conflict (mongoose_component:is_already_registered/1 →
    /// `routes_already_exist`, answered with `<conflict/>` in
    /// mongoose_component_connection:do_disconnect_on_conflict/1), whatever the
    /// conflict_behaviour: the server's own domain cannot be kicked.
    public func register(_ handle: ComponentHandle, domains: [String], hidden: Bool,
                         behaviour: ConflictBehaviour, at registeredAt: Double = Date().timeIntervalSince1970) -> Registration {
        if let host = domains.first(where: { hosts.contains($0) }) { return .conflict(domain: host) }
        return lock.withLock {
            let taken = domains.filter { byDomain[$0] != nil && byDomain[$0]!.handle !== handle }
            if let first = taken.first {
                guard behaviour == .kickOld else { return .conflict(domain: first) }
                // Old components of this worker are ended here; those of other
                // workers by their own worker, when it sees our (later, kick_old)
                // registration win.
                var kicked: [ObjectIdentifier: ComponentHandle] = [:]
                for domain in taken {
                    let old = byDomain[domain]!
                    if old.peer == nil { kicked[ObjectIdentifier(old.handle)] = old.handle }
                }
                for old in kicked.values { old.terminate(condition: "conflict") }
            }
            for domain in domains {
                byDomain[domain] = Entry(handle: handle, peer: nil, hidden: hidden, registeredAt: registeredAt,
                                         kicksOld: behaviour == .kickOld, pid: pid)
                mesh?.broadcast(ComponentFrames.bound(domain, entry: byDomain[domain]!))
            }
            return .registered
        }
    }

    /// Forgets every domain still held by `handle` (none if it was replaced).
    public func unregister(_ handle: ComponentHandle) {
        lock.withLock {
            for (domain, entry) in byDomain where entry.handle === handle {
                byDomain[domain] = nil
                mesh?.broadcast(ComponentFrames.unbound(domain))
            }
        }
    }

    // MARK: lookups

    public func component(for domain: String) -> ComponentHandle? {
        lock.withLock { byDomain[domain]?.handle }
    }

    /// Every registered domain, with the worker holding it and its hidden flag
    /// (mod_disco leaves hidden ones out when configured to).
    public func domains(includeHidden: Bool = true) -> [(domain: String, peer: Int32?, hidden: Bool)] {
        lock.withLock {
            byDomain.filter { includeHidden || !$0.value.hidden }
                .map { (domain: $0.key, peer: $0.value.peer, hidden: $0.value.hidden) }
                .sorted { $0.domain < $1.domain }
        }
    }

    public func isHidden(_ domain: String) -> Bool? { lock.withLock { byDomain[domain]?.hidden } }

    // MARK: mesh

    /// Calls `body` once every worker has applied the registrations made so far (at
    /// once without a mesh).
    func afterPeersApplied(_ body: @escaping @Sendable () -> Void) {
        guard let mesh = lock.withLock({ mesh }) else { return body() }
        mesh.afterPeersApplied(body)
    }

    /// Joins the mesh: must run before `mesh.start()`, so peers' snapshots find
    /// their frame handlers.
    func attach(to mesh: Mesh) {
        self.mesh = mesh
        mesh.addFrameHandler(ComponentFrames.boundName) { [weak self, weak mesh] frame, peer, eventLoop in
            guard let self, let mesh, let domain = frame[attribute: "domain"] else { return }
            let loser = self.remoteBound(
                domain, peer: peer, hidden: frame[attribute: "hidden"] == "1",
                at: Double(frame[attribute: "at"] ?? "0") ?? 0, kicksOld: frame[attribute: "kick"] == "1",
                handle: { ComponentFrames.remoteHandle(domain: domain, peer: peer, mesh: mesh, eventLoop: eventLoop) })
            loser?.terminate(condition: "conflict")
        }
        mesh.addFrameHandler(ComponentFrames.unboundName) { [weak self] frame, peer, _ in
            guard let domain = frame[attribute: "domain"] else { return }
            self?.remoteUnbound(domain, peer: peer)
        }
        mesh.addFrameHandler(ComponentFrames.routeName) { [weak self, weak mesh] frame, _, _ in
            guard let self, let domain = frame[attribute: "domain"], let stanza = frame.elements.first else { return }
            // Only into a component of this worker: a stale entry must never bounce
            // a stanza around the mesh. A component gone everywhere is routed to as
            // to any unserved domain.
            guard let handle = self.component(for: domain) else {
                if let to = stanza[attribute: "to"].flatMap(JID.init) { mesh?.recipientGone?(stanza, to) }
                return
            }
            if handle.peer == nil { handle.deliver(stanza) }
        }
        mesh.addSnapshotProvider { [weak self] send in
            guard let self else { return }
            self.lock.withLock {
                for (domain, entry) in self.byDomain where entry.peer == nil {
                    send(ComponentFrames.bound(domain, entry: entry))
                }
            }
        }
        mesh.addFrameHandler(ComponentListing.requestName) { [weak self, weak mesh] _, peer, _ in
            guard let self, let mesh else { return }
            ComponentListing.answer(registry: self, mesh: mesh, peer: peer)
        }
        // Deferred: a mesh connection may close inside a write made by `broadcast`,
        // i.e. under this registry's lock, which removeAll takes.
        mesh.addPeerGoneHandler { [weak self] peer in
            guard let self else { return }
            DispatchQueue.global().async { self.removeAll(of: peer) }
        }
    }

    /// A peer registered `domain`. Returns a component of this worker that lost it
    /// and must be ended with `<conflict/>`.
    func remoteBound(_ domain: String, peer: Int32, hidden: Bool, at registeredAt: Double, kicksOld: Bool,
                     handle makeHandle: () -> ComponentHandle) -> ComponentHandle? {
        lock.withLock {
            let incoming = Entry(handle: makeHandle(), peer: peer, hidden: hidden, registeredAt: registeredAt,
                                 kicksOld: kicksOld, pid: peer)
            guard let existing = byDomain[domain], existing.peer != peer else {
                byDomain[domain] = incoming
                return nil
            }
            guard Self.incomingWins(existing: existing, incoming: incoming) else { return nil }
            byDomain[domain] = incoming
            return existing.peer == nil ? existing.handle : nil
        }
    }

    /// The race rule (see the type's doc): the later registration wins only with kick_old.
    static func incomingWins(existing: Entry, incoming: Entry) -> Bool {
        let incomingIsLater = incoming.registeredAt > existing.registeredAt
            || (incoming.registeredAt == existing.registeredAt && incoming.pid > existing.pid)
        return incomingIsLater ? incoming.kicksOld : !existing.kicksOld
    }

    func remoteUnbound(_ domain: String, peer: Int32) {
        lock.withLock {
            if byDomain[domain]?.peer == peer { byDomain[domain] = nil }
        }
    }

    func removeAll(of peer: Int32) {
        lock.withLock {
            for (domain, entry) in byDomain where entry.peer == peer { byDomain[domain] = nil }
        }
    }
}

/// The mesh frames of the component table (MeshFrame's namespace, names of their own):
///
///     <component-bound domain='echo.localhost' at='1732500000.1' kick='0' hidden='0'/>
///     <component-unbound domain='echo.localhost'/>
///     <component-route domain='echo.localhost'><message xmlns='jabber:client' …/></component-route>
enum ComponentFrames {
    static let boundName = "component-bound"
    static let unboundName = "component-unbound"
    static let routeName = "component-route"

    static func bound(_ domain: String, entry: ComponentRegistry.Entry) -> XMLElement {
        XMLElement(name: boundName, namespace: MeshFrame.namespace, attributes: [
            "domain": domain, "at": String(entry.registeredAt), "kick": entry.kicksOld ? "1" : "0",
            "hidden": entry.hidden ? "1" : "0"])
    }

    static func unbound(_ domain: String) -> XMLElement {
        XMLElement(name: unboundName, namespace: MeshFrame.namespace, attributes: ["domain": domain])
    }

    static func route(_ stanza: XMLElement, domain: String) -> XMLElement {
        XMLElement(name: routeName, namespace: MeshFrame.namespace, attributes: ["domain": domain],
                   children: [.element(stanza)])
    }

    /// A handle for a component held by `peer`: delivering sends it over the mesh;
    /// ending it is that worker's business (it sees the registration that wins).
    static func remoteHandle(domain: String, peer: Int32, mesh: Mesh, eventLoop: EventLoop) -> ComponentHandle {
        ComponentHandle(eventLoop: eventLoop, peer: peer,
                        deliver: { [weak mesh] stanza in mesh?.send(route(stanza, domain: domain), to: peer) },
                        terminate: { _ in })
    }
}
