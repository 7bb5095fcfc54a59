import NIOConcurrencyHelpers
import XMPPCore

/// The points where modules join the core's processing, named after MongooseIM's
/// hooks. Handlers are registered while a worker starts (module init) and run in
/// registration order; the core calls them from event loops, so they must be
/// thread-safe and must not block.
///
/// The two stanza hooks also take a priority, as MongooseIM's sequence numbers:
/// lower runs first, equal priorities run in registration order. Nearly every
/// module keeps the default; mod_blocking runs early, so that a stanza it stops
/// is never seen by the modules after it (roster state, carbons, archive).
public final class Hooks: @unchecked Sendable {
    public enum Verdict: Sendable { case pass, handled }

    public typealias StanzaHook = @Sendable (_ session: JID, _ stanza: XMLElement) -> Verdict
    public typealias SessionHook = @Sendable (_ session: JID) -> Void
    public typealias OfflineHook = @Sendable (_ stanza: XMLElement, _ recipient: JID) -> Bool
    public typealias ExportHook = @Sendable (_ session: JID) -> [XMLElement]
    public typealias ImportHook = @Sendable (_ session: JID, _ state: [XMLElement]) -> Void
    public typealias PendingWritesHook = @Sendable (_ committed: @escaping @Sendable () -> Void) -> Void
    public typealias RoomPacketFilter = @Sendable (_ room: JID, _ sender: JID, _ message: XMLElement) -> XMLElement
    /// Answers through `done` and returns true when the hook serves `room`'s domain.
    public typealias RoomAccessHook = @Sendable (_ room: JID, _ user: JID,
                                                 _ done: @escaping @Sendable (Bool) -> Void) -> Bool

    private let lock = NIOLock()
    /// Priority of a stanza hook registered without one.
    public static let defaultPriority = 50

    private var userSendPacket = PrioritizedHooks()
    private var userReceivePacket = PrioritizedHooks()
    private var s2sReceivePacket = PrioritizedHooks()
    private var sessionOpened: [SessionHook] = []
    private var sessionClosed: [SessionHook] = []
    private var userAvailable: [SessionHook] = []
    private var offlineMessage: [OfflineHook] = []
    private var sessionExport: [ExportHook] = []
    private var sessionImport: [ImportHook] = []
    private var pendingWrites: [PendingWritesHook] = []
    private var roomPacketFilters: [RoomPacketFilter] = []
    private var roomAccess: [RoomAccessHook] = []

    public init() {}

    /// A stanza a local user sent, `from` stamped, before routing. `.handled` stops it.
    public func onUserSendPacket(priority: Int = Hooks.defaultPriority, _ hook: @escaping StanzaHook) {
        lock.withLock { userSendPacket.insert(hook, priority: priority) }
    }
    /// A stanza about to be written to a local session. `.handled` drops it.
    public func onUserReceivePacket(priority: Int = Hooks.defaultPriority, _ hook: @escaping StanzaHook) {
        lock.withLock { userReceivePacket.insert(hook, priority: priority) }
    }
    /// A stanza from another server (s2s), for a served domain, before routing; the
    /// JID is its sender. `.handled` stops it.
    public func onS2SReceivePacket(priority: Int = Hooks.defaultPriority, _ hook: @escaping StanzaHook) {
        lock.withLock { s2sReceivePacket.insert(hook, priority: priority) }
    }
    /// A resource was bound.
    public func onSessionOpened(_ hook: @escaping SessionHook) { lock.withLock { sessionOpened.append(hook) } }
    /// A session ended (closed, replaced, shut down).
    public func onSessionClosed(_ hook: @escaping SessionHook) { lock.withLock { sessionClosed.append(hook) } }
    /// A session sent its initial presence (RFC 6121 §4.2): it became available. Run
    /// once every worker knows it (on any thread), so whatever another worker stored
    /// for the user before hearing of it is there to read.
    public func onUserAvailable(_ hook: @escaping SessionHook) { lock.withLock { userAvailable.append(hook) } }
    /// A message for a served user with no resource to take it. Return true when
    /// the hook took it (stored for later); otherwise the sender gets an error.
    public func onOfflineMessage(_ hook: @escaping OfflineHook) { lock.withLock { offlineMessage.append(hook) } }

    /// A session is resumed (XEP-0198) in another worker process: return the
    /// per-session state this module keeps (as elements in its own namespace) and
    /// forget it here. The session is neither closed nor opened by a move.
    public func onSessionExport(_ hook: @escaping ExportHook) { lock.withLock { sessionExport.append(hook) } }
    /// The receiving worker of a moved session: take back what the export gave
    /// (every module sees all elements; pick yours by namespace).
    public func onSessionImport(_ hook: @escaping ImportHook) { lock.withLock { sessionImport.append(hook) } }

    /// A module that stores stanzas it accepted (offline storage, the archive) on a
    /// queue of its own: call `committed` once everything it took so far is on disk.
    /// The core waits for this before it acknowledges stanzas (XEP-0198 `<a/>`), so an
    /// acknowledged stanza survives a kill -9 of the worker.
    public func onPendingWrites(_ hook: @escaping PendingWritesHook) { lock.withLock { pendingWrites.append(hook) } }

    /// MongooseIM's filter_room_packet: a groupchat message a room is about to send
    /// to its occupants (`from` already the room's `room/<sender>`), once, before the
    /// copies; each filter may change it (the archive adds its `<stanza-id/>`).
    public func onFilterRoomPacket(_ hook: @escaping RoomPacketFilter) { lock.withLock { roomPacketFilters.append(hook) } }
    /// MongooseIM's can_access_room: may `user` read `room`'s history? Asked by the
    /// archive, answered by the module that keeps the room's occupants.
    public func onCanAccessRoom(_ hook: @escaping RoomAccessHook) { lock.withLock { roomAccess.append(hook) } }

    // MARK: run by the core (and by modules that serve rooms)

    public func runFilterRoomPacket(room: JID, sender: JID, _ message: XMLElement) -> XMLElement {
        lock.withLock({ roomPacketFilters }).reduce(message) { $1(room, sender, $0) }
    }

    /// `done(false)` when no module serves the room's domain.
    public func runCanAccessRoom(_ room: JID, user: JID, _ done: @escaping @Sendable (Bool) -> Void) {
        for hook in lock.withLock({ roomAccess }) where hook(room, user, done) { return }
        done(false)
    }

    public func runUserSendPacket(_ session: JID, _ stanza: XMLElement) -> Verdict {
        run(lock.withLock { userSendPacket.hooks }, session, stanza)
    }

    public func runUserReceivePacket(_ session: JID, _ stanza: XMLElement) -> Verdict {
        run(lock.withLock { userReceivePacket.hooks }, session, stanza)
    }

    public func runS2SReceivePacket(_ sender: JID, _ stanza: XMLElement) -> Verdict {
        run(lock.withLock { s2sReceivePacket.hooks }, sender, stanza)
    }

    public func runSessionOpened(_ session: JID) { for hook in lock.withLock({ sessionOpened }) { hook(session) } }
    public func runSessionClosed(_ session: JID) { for hook in lock.withLock({ sessionClosed }) { hook(session) } }
    public func runUserAvailable(_ session: JID) { for hook in lock.withLock({ userAvailable }) { hook(session) } }

    public func runOfflineMessage(_ stanza: XMLElement, _ recipient: JID) -> Bool {
        for hook in lock.withLock({ offlineMessage }) where hook(stanza, recipient) { return true }
        return false
    }

    public func runSessionExport(_ session: JID) -> [XMLElement] {
        lock.withLock({ sessionExport }).flatMap { $0(session) }
    }

    public func runSessionImport(_ session: JID, _ state: [XMLElement]) {
        for hook in lock.withLock({ sessionImport }) { hook(session, state) }
    }

    /// Calls `committed` once every module's writes accepted before this call are on disk:
    /// at once (on the caller's thread) when no module stores anything, otherwise on
    /// whichever module queue finishes last.
    public func runAfterPendingWrites(_ committed: @escaping @Sendable () -> Void) {
        let hooks = lock.withLock { pendingWrites }
        guard !hooks.isEmpty else { return committed() }
        let remaining = NIOLockedValueBox(hooks.count)
        for hook in hooks {
            hook {
                if remaining.withLockedValue({ $0 -= 1; return $0 == 0 }) { committed() }
            }
        }
    }

    public var hasUserReceivePacketHooks: Bool { lock.withLock { !userReceivePacket.hooks.isEmpty } }

    private func run(_ hooks: [StanzaHook], _ session: JID, _ stanza: XMLElement) -> Verdict {
        for hook in hooks where hook(session, stanza) == .handled { return .handled }
        return .pass
    }
}

/// Stanza hooks in running order: by priority, then by registration.
private struct PrioritizedHooks {
    private(set) var hooks: [Hooks.StanzaHook] = []
    private var priorities: [Int] = []

    mutating func insert(_ hook: @escaping Hooks.StanzaHook, priority: Int) {
        let index = priorities.firstIndex { $0 > priority } ?? priorities.count
        hooks.insert(hook, at: index)
        priorities.insert(priority, at: index)
    }
}
