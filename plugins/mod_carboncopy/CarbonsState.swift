import NIOConcurrencyHelpers
import XMPPCore

/// Which sessions of this worker enabled carbons. Each worker knows only its own
/// sessions, which is why carbons are filtered where they are delivered.
///
/// Sessions are known by full JID only, and a bind that replaces a session of the
/// same worker opens the new one before the old one's close is reported: so a
/// bind starts with carbons off, and the state goes when the last session with
/// that JID closes.
final class CarbonsState: @unchecked Sendable {
    private let lock = NIOLock()
    private var enabled: Set<JID> = []
    private var open: [JID: Int] = [:]

    func set(_ session: JID, enabled on: Bool) {
        lock.withLock {
            if on { enabled.insert(session) } else { enabled.remove(session) }
        }
    }

    func isEnabled(_ session: JID) -> Bool { lock.withLock { enabled.contains(session) } }

    func opened(_ session: JID) {
        lock.withLock {
            open[session, default: 0] += 1
            enabled.remove(session)
        }
    }

    func closed(_ session: JID) {
        lock.withLock {
            let remaining = (open[session] ?? 1) - 1
            if remaining > 0 {
                open[session] = remaining
            } else {
                open[session] = nil
                enabled.remove(session)
            }
        }
    }
}
