import XMPPCore

/// Stanzas of an established session (RFC 6120 §8, RFC 6121).
extension C2SConnection {
    func handleStanza(_ incoming: XMLElement, from session: SessionHandle) {
        guard incoming.namespace == XMPPNamespace.client,
              ["message", "presence", "iq"].contains(incoming.name) else {
            return failStream("unsupported-stanza-type")
        }
        var stanza = incoming
        // RFC 6120 §8.1.2.1: the server stamps the full JID of the sender.
        stanza[attribute: "from"] = session.jid.description
        var recipient: JID?
        if let to = stanza[attribute: "to"] {
            guard let jid = JID(to) else {
                if let reply = StanzaErrors.reply(to: stanza, condition: "jid-malformed", type: "modify") { send(reply) }
                return
            }
            recipient = jid
        }
        if stanza.name == "presence", recipient == nil {
            return broadcastOwnPresence(stanza, of: session)
        }
        // Addressed to the server itself or to the user's own account.
        if stanza.name == "iq", recipient == nil || recipient == session.jid.bare || recipient!.local == nil {
            return handleServerIQ(stanza)
        }
        guard let recipient else {
            // A message without 'to' is addressed to the sender's bare JID (RFC 6120 §10.3.1).
            return routeAndBounce(stanza, to: session.jid.bare)
        }
        routeAndBounce(stanza, to: recipient)
    }

    private func routeAndBounce(_ stanza: XMLElement, to recipient: JID) {
        if case .bounce(let error) = env.router.route(stanza, to: recipient) { send(error) }
    }

    /// A stanza from elsewhere, delivered on this connection's event loop.
    func deliver(_ stanza: XMLElement) {
        guard case .established = state else { return }
        send(stanza)
    }

    private func handleServerIQ(_ iq: XMLElement) {
        let type = iq[attribute: "type"]
        guard type == "get" || type == "set" else { return } // results and errors end here
        if type == "set", iq.child("session", namespace: XMPPNamespace.session) != nil {
            var reply = result(for: iq)
            reply[attribute: "to"] = iq[attribute: "from"]
            return send(reply)
        }
        // RFC 6120 §8.4: an iq in a namespace nobody serves.
        if let error = StanzaErrors.reply(to: iq, condition: "service-unavailable") { send(error) }
    }

    // MARK: presence

    /// Initial / updated / unavailable presence without 'to' (RFC 6121 §4.2, §4.4, §4.5):
    /// recorded, and broadcast to the user's available resources. Subscribers come
    /// with the roster.
    private func broadcastOwnPresence(_ presence: XMLElement, of session: SessionHandle) {
        let type = presence[attribute: "type"]
        guard type == nil || type == "unavailable" else { return }
        let priority = presence.child("priority").flatMap { Int($0.text) } ?? 0
        env.registry.setPresence(session, available: type == nil, priority: max(-128, min(127, priority)))
        // RFC 6121 §4.2.2: available presence goes to every available resource of
        // the user, the sender included (clients take the echo as confirmation).
        var targets = env.registry.availableSessions(of: session.jid.bare)
        if type != nil { targets.removeAll { $0 === session } }
        for target in targets {
            var copy = presence
            copy[attribute: "to"] = target.jid.description
            target.deliver(copy)
        }
    }

    func broadcastUnavailable(of session: SessionHandle) {
        for other in env.registry.availableSessions(of: session.jid.bare) where other !== session {
            other.deliver(XMLElement(name: "presence", namespace: XMPPNamespace.client,
                                     attributes: ["from": session.jid.description, "to": other.jid.description,
                                                  "type": "unavailable"]))
        }
    }
}
