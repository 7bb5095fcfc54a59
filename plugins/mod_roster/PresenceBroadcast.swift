import XMPPCore
import XMPPModuleAPI

/// Presence a user sends: subscription requests and answers (RFC 6121 §3), probes
/// (§4.3), and broadcast of available / unavailable to subscribers (§4.2, §4.4, §4.5).
extension ModRoster {
    func userSentPresence(_ presence: XMLElement, from session: JID) -> Hooks.Verdict {
        let type = presence[attribute: "type"]
        guard let to = presence[attribute: "to"] else {
            // Broadcast: the core still echoes it to the user's own resources.
            if type == nil || type == "unavailable" { broadcast(presence, of: session) }
            return .pass
        }
        guard let recipient = JID(to)?.bare, recipient != session.bare else { return .pass }
        if let subscriptionType = type.flatMap(SubscriptionType.init(rawValue:)) {
            subscription(subscriptionType, presence, from: session.bare, to: recipient)
            return .handled
        }
        if type == "probe" {
            probe(recipient, for: session)
            return .handled
        }
        // Directed presence: routed by the core, remembered for the unavailable.
        if let target = JID(to) { directed.sent(presence, from: session, to: target) }
        return .pass
    }

    /// §3.1.2 and friends: the stanza leaves stamped with the sender's bare JID.
    private func subscription(_ type: SubscriptionType, _ presence: XMLElement, from sender: JID, to recipient: JID) {
        var stanza = presence
        stanza[attribute: "from"] = sender.description
        stanza[attribute: "to"] = recipient.description
        let outbound = stanza
        store.change(owner: sender, contact: recipient, { pair, effects in
            SubscriptionMachine.process(type, stanza: outbound, &pair, &effects)
            return nil
        }, done: { [weak self] outcome in
            if case .changed(let effects) = outcome { self?.perform(effects) }
        })
    }

    /// §4.2.2, §4.4.2, §4.5.2: to every contact subscribed to the user's presence;
    /// unavailable also to those that got directed presence from the session (§4.6.3).
    private func broadcast(_ presence: XMLElement, of session: JID) {
        let directedTargets = presence[attribute: "type"] == "unavailable" ? directed.takeAll(of: session) : []
        store.contacts(of: session.bare, where: \.hasFrom) { [weak self] contacts in
            guard let self else { return }
            let subscribers = Set(contacts)
            let others = directedTargets.filter { !subscribers.contains($0.bare) }
            for target in contacts + others.sorted(by: { $0.description < $1.description }) {
                var copy = presence
                copy[attribute: "to"] = target.description
                self.host.route(copy)
            }
        }
    }

    /// Presence from a user of another server (s2s): subscription requests and answers
    /// change the local recipient's row (the inbound half of §3); probes are answered
    /// for contacts the recipient shares its presence with (§4.3.2).
    func remotePresence(_ presence: XMLElement, from sender: JID) -> Hooks.Verdict {
        guard let recipient = presence[attribute: "to"].flatMap(JID.init)?.bare else { return .pass }
        let type = presence[attribute: "type"]
        if let subscriptionType = type.flatMap(SubscriptionType.init(rawValue:)) {
            var stanza = presence
            stanza[attribute: "from"] = sender.bare.description
            stanza[attribute: "to"] = recipient.description
            let inbound = stanza
            store.change(owner: sender.bare, contact: recipient, { pair, effects in
                guard pair.recipientIsLocal else { return nil }
                SubscriptionMachine.processInbound(subscriptionType, stanza: inbound, &pair, &effects)
                return nil
            }, done: { [weak self] outcome in
                if case .changed(let effects) = outcome { self?.perform(effects) }
            })
            return .handled
        }
        if type == "probe" {
            store.subscription(of: recipient, to: sender.bare) { [weak self] subscription in
                guard subscription.hasFrom, let self else { return }
                self.perform([.presences(of: recipient, to: sender)])
            }
            return .handled
        }
        return .pass
    }

    /// §4.3: a client's own probe is answered when the user may see the contact.
    private func probe(_ contact: JID, for session: JID) {
        store.subscription(of: session.bare, to: contact) { [weak self] subscription in
            guard subscription.hasTo, let self else { return }
            self.perform([.presences(of: contact, to: session)])
        }
    }

    /// A session that ends without having been available still owes an unavailable
    /// to whoever got its directed presence (§4.6.3).
    func sessionClosed(_ session: JID) {
        for target in directed.takeAll(of: session) {
            host.route(XMLElement(name: "presence", namespace: XMPPNamespace.client, attributes: [
                "type": "unavailable", "from": session.description, "to": target.description]))
        }
    }

    /// Initial presence: the presence of every contact the user sees (the answers
    /// to the probes of §4.2.2: contacts on other servers get a real probe, from the
    /// user's bare JID), then the subscription requests left unanswered.
    func userBecameAvailable(_ session: JID) {
        store.login(of: session.bare) { [weak self] seen, pending in
            guard let self else { return }
            let hosts = Set(self.host.hosts)
            self.perform(seen.filter { hosts.contains($0.domain) }.map { .presences(of: $0, to: session) })
            for contact in seen where !hosts.contains(contact.domain) {
                self.host.route(XMLElement(name: "presence", namespace: XMPPNamespace.client, attributes: [
                    "type": "probe", "from": session.bare.description, "to": contact.description]))
            }
            for var request in pending {
                request[attribute: "to"] = session.description
                self.host.route(request)
            }
        }
    }
}
