import XMPPCore
import XMPPModuleAPI

/// What a block does to stanzas (XEP-0191 §3.3), decided in the two stanza hooks.
///
/// Inbound (from a blocked contact to the user): presence and messages are dropped
/// without a word, iq get / set answered with `<service-unavailable/>` (so the user
/// looks offline), other iqs dropped. Outbound (from the user to a blocked contact):
/// messages and iq get / set are answered with `<not-acceptable/>` +
/// `<blocked xmlns='urn:xmpp:blocking:errors'/>`; presence, iq results and errors are
/// dropped without an error. The user's own server (a served domain) is never
/// blocked, nor are the user's own resources.
final class BlockingEnforcement: Sendable {
    private let store: BlocklistStore
    private let host: ModuleHost
    private let hosts: Set<String>

    init(store: BlocklistStore, host: ModuleHost) {
        self.store = store
        self.host = host
        self.hosts = Set(host.hosts)
    }

    /// On the sender's worker, before routing.
    func userSent(_ stanza: XMLElement, by session: JID) -> Hooks.Verdict {
        guard let recipient = stanza[attribute: "to"].flatMap(JID.init), isOther(recipient, than: session) else {
            return .pass
        }
        if store.isBlocked(recipient, by: session.bare) {
            refuseOutbound(stanza)
            return .handled
        }
        if isLocalUser(recipient), store.isBlocked(session, by: recipient.bare) {
            refuseInbound(stanza)
            return .handled
        }
        return .pass
    }

    /// On the recipient's worker, before `stanza` is written to `session`.
    func userReceives(_ stanza: XMLElement, at session: JID) -> Hooks.Verdict {
        guard let sender = stanza[attribute: "from"].flatMap(JID.init), isOther(sender, than: session) else {
            return .pass
        }
        let type = stanza[attribute: "type"]
        // The error refusing the user's own stanza to a blocked contact comes "from"
        // that contact: it is the one thing from there that gets through.
        let blockedError = type == "error"
            && stanza.child("error")?.child("blocked", namespace: ModBlocking.errors) != nil
        if !blockedError, store.isBlocked(sender, by: session.bare) {
            refuseInbound(stanza)
            return .handled
        }
        // The sender blocked this user: nothing of the sender's reaches them, except
        // errors (e.g. the service-unavailable above) and unavailable presence (§3.3).
        let exempt = type == "error" || (stanza.name == "presence" && type == "unavailable")
        if !exempt, isLocalUser(sender), store.isBlocked(session, by: sender.bare) {
            return .handled
        }
        return .pass
    }

    // MARK: helpers

    private func isOther(_ peer: JID, than session: JID) -> Bool {
        guard peer.bare != session.bare else { return false }
        return !(peer.local == nil && peer.resource == nil && hosts.contains(peer.domain))
    }

    private func isLocalUser(_ jid: JID) -> Bool { jid.local != nil && hosts.contains(jid.domain) }

    /// The user wrote to a contact they blocked.
    private func refuseOutbound(_ stanza: XMLElement) {
        let type = stanza[attribute: "type"]
        guard stanza.name == "message" || (stanza.name == "iq" && (type == "get" || type == "set")),
              type != "error" else { return }
        var error = XMLElement(name: "error", namespace: XMPPNamespace.client, attributes: ["type": "cancel"])
        error.append(XMLElement(name: "not-acceptable", namespace: XMPPNamespace.stanzas))
        error.append(XMLElement(name: "blocked", namespace: ModBlocking.errors))
        route(Self.errorReply(to: stanza, error))
    }

    /// A blocked contact wrote to the user.
    private func refuseInbound(_ stanza: XMLElement) {
        let type = stanza[attribute: "type"]
        guard stanza.name == "iq", type == "get" || type == "set" else { return }
        var error = XMLElement(name: "error", namespace: XMPPNamespace.client, attributes: ["type": "cancel"])
        error.append(XMLElement(name: "service-unavailable", namespace: XMPPNamespace.stanzas))
        route(Self.errorReply(to: stanza, error))
    }

    private func route(_ reply: XMLElement) {
        guard reply[attribute: "to"] != nil else { return }
        host.route(reply)
    }

    /// RFC 6120 §8.3.1: addresses swapped, the original payload kept.
    static func errorReply(to stanza: XMLElement, _ error: XMLElement) -> XMLElement {
        var reply = stanza
        reply[attribute: "type"] = "error"
        reply[attribute: "to"] = stanza[attribute: "from"]
        reply[attribute: "from"] = stanza[attribute: "to"]
        reply.append(error)
        return reply
    }
}
