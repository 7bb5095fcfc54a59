import Foundation
import NIOConcurrencyHelpers
import NIOCore
import XMPPCore

/// An iq a REST request sends on a user's behalf to a service served elsewhere in the
/// server (MUC Light's rooms): routed like the user's own client would send it, from a
/// short-lived session of its own (`user/client-api-…`) that waits for the answer and
/// is unbound once it is in, or after `timeout`.
struct ServiceRequest {
    let registry: SessionRegistry
    let router: StanzaRouter
    let eventLoop: EventLoop

    /// `done` gets the answering iq (result or error), or nil when none came in time.
    func send(_ type: String, _ payload: XMLElement, to: JID, as user: JID, timeout: TimeAmount = .seconds(10),
              _ done: @escaping @Sendable (XMLElement?) -> Void) {
        let collector = JID(local: user.local, domain: user.domain, resource: "client-api-\(UUID().uuidString)")
        let id = UUID().uuidString
        let finished = NIOLockedValueBox(false)
        let sessionBox = NIOLockedValueBox<SessionHandle?>(nil)
        let registry = self.registry
        let finish: @Sendable (XMLElement?) -> Void = { answer in
            guard !finished.withLockedValue({ was in defer { was = true }; return was }) else { return }
            if let session = sessionBox.withLockedValue({ $0 }) { registry.unbind(session) }
            sessionBox.withLockedValue { $0 = nil }
            done(answer)
        }
        let session = SessionHandle(jid: collector, eventLoop: eventLoop, deliver: { stanza in
            if stanza.name == "iq", stanza[attribute: "id"] == id { finish(stanza) }
        }, terminate: { _ in finish(nil) })
        sessionBox.withLockedValue { $0 = session }
        _ = registry.bind(session, at: Date().timeIntervalSince1970)
        eventLoop.scheduleTask(in: timeout) { finish(nil) }
        let iq = XMLElement(name: "iq", namespace: XMPPNamespace.client,
                            attributes: ["type": type, "id": id, "from": collector.description, "to": to.description],
                            children: [.element(payload)])
        eventLoop.execute { [router] in
            if case .bounce(let error) = router.route(iq, to: to) { finish(error) }
        }
    }
}
