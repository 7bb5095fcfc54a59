import NIOConcurrencyHelpers
import XMPPCore

/// Which full JIDs are bound in this worker, and their presence.
/// One lock around a dictionary keyed by bare JID: lookups are short and the lock is
/// never held while delivering.
public final class SessionRegistry: @unchecked Sendable {
    private let lock = NIOLock()
    private var byBareJID: [JID: [String: SessionHandle]] = [:]

    public init() {}

    /// Binds `handle`; returns the session it replaces (same full JID), if any.
    public func bind(_ handle: SessionHandle) -> SessionHandle? {
        let bare = handle.jid.bare
        let resource = handle.jid.resource ?? ""
        return lock.withLock {
            let old = byBareJID[bare]?[resource]
            byBareJID[bare, default: [:]][resource] = handle
            return old
        }
    }

    public func unbind(_ handle: SessionHandle) {
        let bare = handle.jid.bare
        let resource = handle.jid.resource ?? ""
        lock.withLock {
            guard byBareJID[bare]?[resource] === handle else { return }
            byBareJID[bare]![resource] = nil
            if byBareJID[bare]!.isEmpty { byBareJID[bare] = nil }
        }
    }

    public func session(for fullJID: JID) -> SessionHandle? {
        lock.withLock { byBareJID[fullJID.bare]?[fullJID.resource ?? ""] }
    }

    public func sessions(of bareJID: JID) -> [SessionHandle] {
        lock.withLock { byBareJID[bareJID.bare].map { Array($0.values) } ?? [] }
    }

    /// RFC 6121 §8.5.2.1.1: a message to a bare JID goes to the available resources
    /// with the highest non-negative priority.
    public func messageRecipients(of bareJID: JID) -> [SessionHandle] {
        lock.withLock {
            guard let all = byBareJID[bareJID.bare]?.values else { return [] }
            let candidates = all.filter { $0.isAvailable && $0.priority >= 0 }
            guard let top = candidates.map(\.priority).max() else { return [] }
            return candidates.filter { $0.priority == top }
        }
    }

    /// Available resources of a user (targets of presence broadcast to self).
    public func availableSessions(of bareJID: JID) -> [SessionHandle] {
        lock.withLock { byBareJID[bareJID.bare]?.values.filter(\.isAvailable) ?? [] }
    }

    public func setPresence(_ handle: SessionHandle, available: Bool, priority: Int) {
        lock.withLock {
            handle.isAvailable = available
            handle.priority = priority
        }
    }

    public var count: Int { lock.withLock { byBareJID.values.reduce(0) { $0 + $1.count } } }
}
