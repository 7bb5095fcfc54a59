import NIOConcurrencyHelpers
import XMPPStore

/// This worker's cumulative counters. Connections update them from any event loop;
/// the control loop reads a snapshot once a second and sends it to the supervisor,
/// which alone writes SQLite (nothing on the per-stanza path touches the database).
public final class WorkerStats: @unchecked Sendable {
    private let box = NIOLockedValueBox(ListenerCounters())

    public init() {}

    public func update(_ change: (inout ListenerCounters) -> Void) {
        box.withLockedValue(change)
    }

    public var snapshot: ListenerCounters { box.withLockedValue { $0 } }

    func connectionOpened() { update { $0.connectionsAccepted += 1; $0.connectionsCurrent += 1 } }
    func connectionClosed() { update { $0.connectionsCurrent -= 1; $0.connectionsClosed += 1 } }
    func received(bytes: Int) { update { $0.bytesIn += bytes } }
    func sent(bytes: Int, stanzas: Int) { update { $0.bytesOut += bytes; $0.stanzasOut += stanzas } }
    func stanzaReceived() { update { $0.stanzasIn += 1 } }
    func authSucceeded() { update { $0.authSuccesses += 1 } }
    func authFailed() { update { $0.authFailures += 1 } }
    func errorSeen() { update { $0.errors += 1 } }
}
