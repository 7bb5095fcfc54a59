import XMPPCore
import XMPPModuleAPI

/// `<blocklist/>` get, `<block/>` and `<unblock/>` set (XEP-0191 §3.2 – §3.5).
extension ModBlocking {
    func handle(_ request: IQRequest) {
        // The list is only its owner's business.
        guard request.to == request.from.bare else { return request.fail("forbidden", "auth") }
        guard let payload = request.payload else { return request.fail("bad-request", "modify") }
        switch (request.type, payload.name) {
        case ("get", "blocklist"): blocklist(request)
        case ("set", "block"): block(request, payload)
        case ("set", "unblock"): unblock(request, payload)
        default: request.fail("bad-request", "modify")
        }
    }

    private func blocklist(_ request: IQRequest) {
        store.items(of: request.to) { result in
            guard case .success(let jids) = result else { return request.fail("internal-server-error", "wait") }
            request.reply(Self.element("blocklist", jids))
        }
    }

    private func block(_ request: IQRequest, _ payload: XMLElement) {
        // §3.3: at least one item, else bad-request.
        guard let jids = Self.itemJIDs(payload, request) else { return }
        guard !jids.isEmpty else { return request.fail("bad-request", "modify") }
        let owner = request.to
        store.block(jids, for: owner) { [weak self] result in
            guard case .success(let added) = result else { return request.fail("internal-server-error", "wait") }
            request.reply(nil)
            guard let self else { return }
            self.push(Self.element("block", jids), to: owner)
            self.presenceOnChange(of: owner, added, blocked: true)
        }
    }

    private func unblock(_ request: IQRequest, _ payload: XMLElement) {
        guard let jids = Self.itemJIDs(payload, request) else { return }
        let owner = request.to
        // §3.5: no item unblocks everyone.
        store.unblock(jids.isEmpty ? nil : jids, for: owner) { [weak self] result in
            guard case .success(let removed) = result else { return request.fail("internal-server-error", "wait") }
            request.reply(nil)
            guard let self else { return }
            self.push(Self.element("unblock", jids), to: owner)
            self.presenceOnChange(of: owner, removed, blocked: false)
        }
    }

    /// §3.3: a newly blocked contact gets unavailable presence from the user's
    /// available resources; §3.4: a newly unblocked one the user's current presence.
    /// Both only when the contact may see the user's presence (a roster subscription).
    private func presenceOnChange(of owner: JID, _ changed: [String], blocked: Bool) {
        let contacts = changed.filter { JID($0)?.local != nil }
        guard !contacts.isEmpty else { return }
        store.presenceSubscribers(of: owner, among: contacts) { [host] allowed in
            for contact in allowed {
                if blocked {
                    for resource in host.availableResources(of: owner) {
                        host.route(XMLElement(name: "presence", namespace: XMPPNamespace.client, attributes: [
                            "type": "unavailable", "from": resource.description, "to": contact]))
                    }
                } else {
                    for var presence in host.availablePresences(of: owner) {
                        presence[attribute: "to"] = contact
                        host.route(presence)
                    }
                }
            }
        }
    }

    /// The items' JIDs, normalised and without duplicates; nil after failing the
    /// request for an item without a valid 'jid'.
    private static func itemJIDs(_ payload: XMLElement, _ request: IQRequest) -> [String]? {
        var jids: [String] = []
        for item in payload.elements {
            guard item.name == "item", item.namespace == namespace else {
                request.fail("bad-request", "modify")
                return nil
            }
            guard let jid = item[attribute: "jid"].flatMap(JID.init) else {
                request.fail("jid-malformed", "modify")
                return nil
            }
            if !jids.contains(jid.description) { jids.append(jid.description) }
        }
        return jids
    }

    static func element(_ name: String, _ jids: [String]) -> XMLElement {
        var element = XMLElement(name: name, namespace: namespace)
        for jid in jids { element.append(XMLElement(name: "item", namespace: namespace, attributes: ["jid": jid])) }
        return element
    }
}
