import NIOConcurrencyHelpers
import XMPPCore

/// RFC 6121 §4.6: who each session sent directed available presence to, so that its
/// unavailable presence reaches them too (§4.6.3). A session's stanzas all pass through
/// the worker holding it, so memory of this worker is enough.
final class DirectedPresence: Sendable {
    private let targets = NIOLockedValueBox<[JID: Set<JID>]>([:])

    /// A presence with `to` from `session` (before routing).
    func sent(_ presence: XMLElement, from session: JID, to recipient: JID) {
        switch presence[attribute: "type"] {
        case nil:
            targets.withLockedValue { _ = $0[session, default: []].insert(recipient) }
        case "unavailable":
            targets.withLockedValue { _ = $0[session]?.remove(recipient) }
        default:
            break
        }
    }

    /// The session went unavailable: whom it must still tell, forgotten.
    func takeAll(of session: JID) -> Set<JID> {
        targets.withLockedValue { $0.removeValue(forKey: session) ?? [] }
    }
}
