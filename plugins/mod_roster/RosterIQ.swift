import XMPPCore
import XMPPModuleAPI

/// jabber:iq:roster get and set (RFC 6121 §2.1.3, §2.1.5, §2.3, §2.5).
extension ModRoster {
    /// MongooseIM's limit; RFC 6121 §2.3.3 lets the server refuse longer ones.
    static let maxNameLength = 1023

    func handleRosterIQ(_ request: IQRequest) {
        // §2.3.3: a roster is only the owner's business.
        guard request.to == request.from.bare else { return request.fail("forbidden", "auth") }
        guard let query = request.payload, query.name == "query" else { return request.fail("bad-request", "modify") }
        switch request.type {
        case "get": get(request, query)
        case "set": set(request, query)
        default: request.fail("bad-request", "modify")
        }
    }

    private func get(_ request: IQRequest, _ query: XMLElement) {
        let versioning = options.versioning
        store.roster(of: request.to) { items, version in
            // §2.6.3: a current version gets an empty result; changes come as pushes.
            if versioning, query[attribute: "ver"] == String(version) { return request.reply(nil) }
            var result = XMLElement(name: "query", namespace: RosterNamespace.roster)
            if versioning { result[attribute: "ver"] = String(version) }
            for item in items { if let element = item.element { result.append(element) } }
            request.reply(result)
        }
    }

    private func set(_ request: IQRequest, _ query: XMLElement) {
        let items = query.children("item", namespace: RosterNamespace.roster)
        guard items.count == 1, let item = items.first else { return request.fail("bad-request", "modify") }
        guard let jid = item[attribute: "jid"].flatMap(JID.init) else { return request.fail("jid-malformed", "modify") }
        let owner = request.to
        let contact = jid.bare
        if item[attribute: "subscription"] == "remove" {
            return change(request, owner: owner, contact: contact) { pair, effects in
                guard pair.senderItem?.listed == true else { return .refused(condition: "item-not-found", type: "cancel") }
                SubscriptionMachine.remove(&pair, &effects)
                return nil
            }
        }
        let name = item[attribute: "name"].flatMap { $0.isEmpty ? nil : $0 }
        if let name, name.count > Self.maxNameLength { return request.fail("not-acceptable", "modify") }
        let groups = item.children("group", namespace: RosterNamespace.roster).map(\.text)
        if groups.contains(where: { $0.isEmpty || $0.count > Self.maxNameLength }) {
            return request.fail("not-acceptable", "modify")
        }
        if Set(groups).count != groups.count { return request.fail("bad-request", "modify") }
        // 'subscription' other than "remove" and 'ask' are the server's to set (§2.1.2.5).
        change(request, owner: owner, contact: contact) { pair, _ in
            var updated = pair.senderItem ?? RosterItem(contact: contact)
            updated.name = name
            updated.groups = groups
            updated.listed = true
            pair.senderItem = updated
            return nil
        }
    }

    private func change(_ request: IQRequest, owner: JID, contact: JID,
                        _ body: @escaping @Sendable (inout RosterPair, inout [RosterEffect]) -> RosterStore.Outcome?) {
        store.change(owner: owner, contact: contact, body) { [weak self] outcome in
            switch outcome {
            case .changed(let effects):
                request.reply(nil)
                self?.perform(effects)
            case .refused(let condition, let type):
                request.fail(condition, type)
            case .failed:
                request.fail("internal-server-error", "wait")
            }
        }
    }
}
