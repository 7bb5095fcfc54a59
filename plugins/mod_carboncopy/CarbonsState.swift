import NIOConcurrencyHelpers
import XMPPCore

/// Which sessions of this worker enabled carbons. Each worker knows only its own
/// sessions, which is why carbons are filtered where they are delivered.
final class CarbonsState: @unchecked Sendable {
    private let lock = NIOLock()
    private var enabled: Set<JID> = []

    func set(_ session: JID, enabled on: Bool) {
        lock.withLock {
            if on { enabled.insert(session) } else { enabled.remove(session) }
        }
    }

    func isEnabled(_ session: JID) -> Bool { lock.withLock { enabled.contains(session) } }

    func forget(_ session: JID) { set(session, enabled: false) }
}
