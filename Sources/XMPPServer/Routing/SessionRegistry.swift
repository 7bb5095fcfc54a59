import NIOConcurrencyHelpers
import XMPPCore

/// Which full JIDs are bound, in this worker and in every other worker of the mesh.
///
/// Each worker keeps a full replica: local changes are replicated to peers (inside
/// the lock, so a peer never sees them out of order), and peers' changes arrive
/// through `remote…` calls. Routing is then a local lookup with no round trip.
/// One lock around a dictionary keyed by bare JID, plus an index by full JID for the
/// lookup every routed stanza makes: never held while delivering.
public final class SessionRegistry: @unchecked Sendable {
    struct Entry {
        var handle: SessionHandle
        /// nil for a session of this worker, else the pid of the worker holding it.
        var peer: Int32?
        /// Wall-clock bind time: when two workers bind one full JID at once, the
        /// later bind wins everywhere (ties go to the higher pid).
        var boundAt: Double
    }

    private let lock = NIOLock()
    private var byBareJID: [JID: ResourceTable<Entry>] = [:]
    /// The same handles by full JID: one hash and no copy of a resource table per
    /// lookup (which cost a cross-worker message two of each), for about 80 bytes a
    /// session.
    private var byFullJID: [JID: SessionHandle] = [:]
    /// Told of every local change, under the lock.
    var replicator: SessionReplicator?

    public init() {}

    // MARK: local sessions

    /// Binds a local session; returns the session it replaces (same full JID, in
    /// this worker or another), which the caller terminates with `<conflict/>`.
    public func bind(_ handle: SessionHandle, at boundAt: Double) -> SessionHandle? {
        let resource = handle.jid.resource ?? ""
        return lock.withLock {
            let old = byBareJID[handle.jid.bare]?[resource]
            store(Entry(handle: handle, peer: nil, boundAt: boundAt), resource: resource)
            replicator?.replicate(.bound(handle.jid, handle.presence, boundAt: boundAt))
            return old?.handle
        }
    }

    public func unbind(_ handle: SessionHandle) {
        lock.withLock {
            guard removeEntry(handle.jid, where: { $0.handle === handle }) != nil else { return }
            replicator?.replicate(.unbound(handle.jid))
        }
    }

    public func setPresence(_ handle: SessionHandle, _ presence: PresenceState) {
        lock.withLock {
            handle.presence = presence
            guard byBareJID[handle.jid.bare]?[handle.jid.resource ?? ""]?.handle === handle else { return }
            replicator?.replicate(.presence(handle.jid, presence))
        }
    }

    public func presence(of handle: SessionHandle) -> PresenceState { lock.withLock { handle.presence } }

    /// Local sessions, handed to `body` under the lock (a new peer's snapshot must
    /// not interleave with changes).
    func withLocalSessions(_ body: ([(JID, PresenceState, Double)]) -> Void) {
        lock.withLock {
            var local: [(JID, PresenceState, Double)] = []
            for resources in byBareJID.values {
                for entry in resources where entry.peer == nil {
                    local.append((entry.handle.jid, entry.handle.presence, entry.boundAt))
                }
            }
            body(local)
        }
    }

    // MARK: sessions of other workers

    /// A peer bound `jid`. Returns a local session that lost the race for the same
    /// full JID and must be terminated with `<conflict/>`.
    func remoteBound(_ jid: JID, peer: Int32, presence: PresenceState, boundAt: Double,
                     handle makeHandle: () -> SessionHandle) -> SessionHandle? {
        let resource = jid.resource ?? ""
        return lock.withLock {
            if let existing = byBareJID[jid.bare]?[resource] {
                let existingWins = existing.boundAt > boundAt
                    || (existing.boundAt == boundAt && (existing.peer ?? Int32.max) > peer)
                if existingWins && existing.peer != peer { return nil }
            }
            let old = byBareJID[jid.bare]?[resource]
            let handle = makeHandle()
            handle.presence = presence
            store(Entry(handle: handle, peer: peer, boundAt: boundAt), resource: resource)
            if let old, old.peer == nil { return old.handle }
            return nil
        }
    }

    func remoteUnbound(_ jid: JID, peer: Int32) {
        lock.withLock { _ = removeEntry(jid, where: { $0.peer == peer }) }
    }

    func remotePresence(_ jid: JID, peer: Int32, presence: PresenceState) {
        lock.withLock {
            guard let entry = byBareJID[jid.bare]?[jid.resource ?? ""], entry.peer == peer else { return }
            entry.handle.presence = presence
        }
    }

    /// Forgets every session of a worker that has gone; returns those that were available.
    func removeAll(of peer: Int32) -> [JID] {
        lock.withLock {
            var gone: [JID] = []
            for (bare, resources) in byBareJID {
                for entry in resources where entry.peer == peer {
                    if entry.handle.isAvailable { gone.append(entry.handle.jid) }
                    byBareJID[bare]![entry.handle.jid.resource ?? ""] = nil
                    byFullJID[entry.handle.jid] = nil
                }
                if byBareJID[bare]!.isEmpty { byBareJID[bare] = nil }
            }
            return gone
        }
    }

    private func store(_ entry: Entry, resource: String) {
        byBareJID[entry.handle.jid.bare, default: ResourceTable()][resource] = entry
        byFullJID[entry.handle.jid] = entry.handle
    }

    private func removeEntry(_ jid: JID, where matches: (Entry) -> Bool) -> Entry? {
        let resource = jid.resource ?? ""
        guard let entry = byBareJID[jid.bare]?[resource], matches(entry) else { return nil }
        byBareJID[jid.bare]![resource] = nil
        byFullJID[entry.handle.jid] = nil
        if byBareJID[jid.bare]!.isEmpty { byBareJID[jid.bare] = nil }
        return entry
    }

    // MARK: lookups

    public func session(for fullJID: JID) -> SessionHandle? {
        lock.withLock { byFullJID[fullJID] }
    }

    public func sessions(of bareJID: JID) -> [SessionHandle] {
        lock.withLock { byBareJID[bareJID.bare].map { $0.map(\.handle) } ?? [] }
    }

    /// RFC 6121 §8.5.2.1.1: a message to a bare JID goes to the available resources
    /// with the highest non-negative priority.
    public func messageRecipients(of bareJID: JID) -> [SessionHandle] {
        lock.withLock {
            guard let all = byBareJID[bareJID.bare] else { return [] }
            let candidates = all.map(\.handle).filter { $0.isAvailable && $0.priority >= 0 }
            guard let top = candidates.map(\.priority).max() else { return [] }
            return candidates.filter { $0.priority == top }
        }
    }

    /// Available resources of a user (targets of presence broadcast to self).
    public func availableSessions(of bareJID: JID) -> [SessionHandle] {
        lock.withLock { byBareJID[bareJID.bare]?.map(\.handle).filter(\.isAvailable) ?? [] }
    }

    /// Calls `body` once the other workers' sockets have every change made so far (at
    /// once without a mesh): what a peer reads after that, it reads after them.
    func afterReplication(_ body: @escaping @Sendable () -> Void) {
        guard let replicator = lock.withLock({ replicator }) else { return body() }
        replicator.afterReplicatedChangesWritten(body)
    }

    /// Calls `body` once the other workers have applied every change made so far
    /// (at once without a mesh): whatever they decide after that, they decide with
    /// them, and whatever they stored before, `body` can read.
    func afterPeersApplied(_ body: @escaping @Sendable () -> Void) {
        guard let replicator = lock.withLock({ replicator }) else { return body() }
        replicator.afterPeersApplied(body)
    }

    /// Every bound session, on this worker and the others: JID, holding worker (nil:
    /// this one) and presence.
    func allSessions() -> [(jid: JID, peer: Int32?, available: Bool, priority: Int)] {
        lock.withLock {
            byBareJID.values.flatMap { $0.map { ($0.handle.jid, $0.peer, $0.handle.isAvailable, $0.handle.priority) } }
        }
    }

    public func localSessionJIDs() -> [JID] {
        lock.withLock { byBareJID.values.flatMap { $0.filter { $0.peer == nil }.map(\.handle.jid) } }
    }

    /// The last available presence of each available resource of a user (for probes).
    public func availablePresences(of bareJID: JID) -> [XMLElement] {
        lock.withLock {
            byBareJID[bareJID.bare]?.compactMap { $0.handle.isAvailable ? $0.handle.presence.stanza : nil } ?? []
        }
    }

    public var count: Int { lock.withLock { byBareJID.values.reduce(0) { $0 + $1.count } } }
}

/// A change to this worker's own sessions, as replicated to the other workers.
enum RegistryChange {
    case bound(JID, PresenceState, boundAt: Double)
    case unbound(JID)
    case presence(JID, PresenceState)
}

protocol SessionReplicator: AnyObject {
    /// Called under the registry lock: must only enqueue, never block or re-enter.
    func replicate(_ change: RegistryChange)
    /// Calls `body` once every change replicated so far is written to the peers.
    func afterReplicatedChangesWritten(_ body: @escaping @Sendable () -> Void)
    /// Calls `body` once every peer has applied the changes replicated so far.
    func afterPeersApplied(_ body: @escaping @Sendable () -> Void)
}

/// The sessions of one bare JID by resource. Nearly every user has one session, and
/// a dictionary per user would cost each of them a separate hash table: one entry
/// is stored inline, a dictionary only from the second resource on.
struct ResourceTable<Value>: Sequence {
    private enum Storage {
        case empty
        case one(String, Value)
        case many([String: Value])
    }

    private var storage = Storage.empty

    init() {}

    var isEmpty: Bool {
        switch storage {
        case .empty: return true
        case .one: return false
        case .many(let all): return all.isEmpty
        }
    }

    var count: Int {
        switch storage {
        case .empty: return 0
        case .one: return 1
        case .many(let all): return all.count
        }
    }

    subscript(resource: String) -> Value? {
        get {
            switch storage {
            case .empty: return nil
            case .one(let key, let value): return key == resource ? value : nil
            case .many(let all): return all[resource]
            }
        }
        set {
            switch (storage, newValue) {
            case (.empty, nil):
                return
            case (.empty, let value?):
                storage = .one(resource, value)
            case (.one(let key, _), nil):
                if key == resource { storage = .empty }
            case (.one(let key, let old), let value?):
                storage = key == resource ? .one(key, value) : .many([key: old, resource: value])
            case (.many(var all), _):
                storage = .empty   // keep the dictionary uniquely referenced while it changes
                all[resource] = newValue
                if all.count == 1, let (key, value) = all.first {
                    storage = .one(key, value)
                } else {
                    storage = all.isEmpty ? .empty : .many(all)
                }
            }
        }
    }

    func makeIterator() -> Iterator {
        switch storage {
        case .empty: return Iterator(base: .one(nil))
        case .one(_, let value): return Iterator(base: .one(value))
        case .many(let all): return Iterator(base: .many(all.values.makeIterator()))
        }
    }

    struct Iterator: IteratorProtocol {
        fileprivate enum Base {
            case one(Value?)
            case many(Dictionary<String, Value>.Values.Iterator)
        }

        fileprivate var base: Base

        mutating func next() -> Value? {
            switch base {
            case .one(let value):
                base = .one(nil)
                return value
            case .many(var iterator):
                let value = iterator.next()
                base = .many(iterator)
                return value
            }
        }
    }
}
