import XMPPCore
import XMPPModuleAPI

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
        if env.hooks.runUserSendPacket(session.jid, stanza) == .handled { return }
        if stanza.name == "presence", recipient == nil {
            return broadcastOwnPresence(stanza, of: session)
        }
        // RFC 6120 §10.3.3: an iq without 'to', or to a bare JID of a served domain, is
        // answered by the server on behalf of that account; to the domain, by the server.
        if stanza.name == "iq", recipient == nil || (recipient!.resource == nil && env.hosts.contains(recipient!.domain)) {
            return handleServerIQ(stanza, from: session, to: recipient ?? session.jid.bare)
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
        if case .handedOver(let successor) = state { return successor.deliver(stanza) }
        guard case .established(let session) = state else { return }
        if env.hooks.runUserReceivePacket(session.jid, stanza) == .handled { return }
        if context == nil, let streamManagement {
            // Suspended (XEP-0198): kept for the client to get when it resumes.
            return countSent(stanza, by: streamManagement)
        }
        send(stanza)
    }

    /// A stanza routed in from another worker, as bytes. With no receive hook and
    /// no XEP-0198 queue to keep it in, nothing here needs the element: the bytes
    /// are already what this client is sent.
    func deliver(_ stanza: SerializedStanza) {
        if case .handedOver(let successor) = state { return successor.deliver(stanza) }
        guard case .established = state else { return }
        guard streamManagement == nil, context != nil, !env.hooks.hasUserReceivePacketHooks else {
            guard let element = stanza.element() else {
                return logger.error("dropped a routed stanza that does not parse")
            }
            return deliver(element)
        }
        let bytes = stanza.bytes
        guard bytes.storageCapacity > 2 * bytes.readableBytes, let context else { return writeStanza(bytes) }
        // A slice of the mesh connection's read buffer: written as is, it would keep
        // that whole buffer alive for as long as the stanza waits in this client's
        // queue (up to max_fsm_queue stanzas for a client that stops reading, each
        // pinning its own read buffer). A copy of its own is one small allocation.
        var copy = context.channel.allocator.buffer(capacity: bytes.readableBytes)
        copy.writeImmutableBuffer(bytes)
        writeStanza(copy)
    }

    private func handleServerIQ(_ iq: XMLElement, from session: SessionHandle, to: JID) {
        let type = iq[attribute: "type"]
        let target: IQTarget = to.local == nil ? .server : .account
        guard type == "get" || type == "set" else {
            // Results and errors to the server answer iqs that modules sent.
            if target == .server { env.modules.handleIQResponse(iq) }
            return
        }
        if type == "set", iq.child("session", namespace: XMPPNamespace.session) != nil {
            var reply = result(for: iq)
            reply[attribute: "to"] = iq[attribute: "from"]
            return send(reply)
        }
        env.modules.dispatchIQ(iq, from: session.jid, to: to, target: target) { response in session.deliver(response) }
    }

    // MARK: presence

    /// Initial / updated / unavailable presence without 'to' (RFC 6121 §4.2, §4.4, §4.5):
    /// recorded, and broadcast to the user's available resources. Subscribers come
    /// with the roster.
    private func broadcastOwnPresence(_ presence: XMLElement, of session: SessionHandle) {
        let type = presence[attribute: "type"]
        guard type == nil || type == "unavailable" else { return }
        let priority = presence.child("priority").flatMap { Int($0.text) } ?? 0
        let wasAvailable = session.isAvailable
        env.registry.setPresence(session, PresenceState(available: type == nil, priority: max(-128, min(127, priority)),
                                                        stanza: type == nil ? presence : nil))
        // RFC 6121 §4.2.2: available presence goes to every available resource of
        // the user, the sender included (clients take the echo as confirmation).
        for target in env.registry.availableSessions(of: session.jid.bare) where target !== session {
            var copy = presence
            copy[attribute: "to"] = target.jid.description
            target.deliver(copy)
        }
        guard type == nil else { return }
        // The sender's own copy waits until every worker has applied the presence:
        // a client holding its echo can be reached from every listener at once. And
        // modules read what waits for a user coming online (stored subscription
        // requests, offline messages) only then: a worker that had not heard yet may
        // have stored something for it a moment after a read made now.
        var echo = presence
        echo[attribute: "to"] = session.jid.description
        let hooks = env.hooks, jid = session.jid, cameOnline = !wasAvailable
        env.registry.afterPeersApplied { [echo] in
            session.deliver(echo)
            if cameOnline { hooks.runUserAvailable(jid) }
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
