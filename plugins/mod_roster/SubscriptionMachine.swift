import XMPPCore

/// The four presence types that change subscriptions (RFC 6121 §3).
enum SubscriptionType: String, Sendable {
    case subscribe, subscribed, unsubscribe, unsubscribed
}

/// What a roster change does besides writing rows, in order.
enum RosterEffect: Sendable {
    /// A roster push of `item` to every bound resource of `owner` (RFC 6121 §2.1.6).
    case push(owner: JID, item: XMLElement, version: Int)
    /// A stanza to route (`from` and `to` set).
    case route(XMLElement)
    /// The available presence of each available resource of `user`, sent to `to`.
    case presences(of: JID, to: JID)
    /// Unavailable presence from each available resource of `user`, sent to `to`.
    case unavailable(of: JID, to: JID)
}

/// Both rows a subscription presence touches: the sender's item for the recipient
/// and the recipient's item for the sender, each when its owner is a local account.
struct RosterPair: Sendable {
    let sender: JID
    let recipient: JID
    /// False for a presence from a user of another server (s2s): only the inbound
    /// half runs, on the recipient's row.
    let senderIsLocal: Bool
    /// The recipient is an account of a served domain: its row is processed here, in
    /// the same transaction (otherwise the stanza is only routed).
    let recipientIsLocal: Bool
    var senderItem: RosterItem?
    var recipientItem: RosterItem?
}

/// RFC 6121 §3 and Appendix A: outbound processing at the sender's server, then
/// inbound processing at the recipient's, as pure functions of the two rows.
enum SubscriptionMachine {
    static func presence(_ type: SubscriptionType, from: JID, to: JID) -> XMLElement {
        XMLElement(name: "presence", namespace: XMPPNamespace.client,
                   attributes: ["type": type.rawValue, "from": from.description, "to": to.description])
    }

    /// Processes `type` sent by `pair.sender` (the stanza already addressed from its
    /// bare JID to the recipient's bare JID).
    static func process(_ type: SubscriptionType, stanza: XMLElement, _ pair: inout RosterPair,
                        _ effects: inout [RosterEffect]) {
        switch type {
        case .subscribe:
            var item = pair.senderItem ?? RosterItem(contact: pair.recipient)
            if !item.subscription.hasTo { item.ask = true }
            item.listed = true
            pair.senderItem = item
            deliver(stanza, &pair, &effects) { inboundSubscribe(stanza, &$0, &$1) }

        case .subscribed:
            var item = pair.senderItem ?? RosterItem(contact: pair.recipient)
            if item.subscription.hasFrom { return } // already approved: nothing to say
            guard item.pendingIn != nil else {
                // §3.4 pre-approval: remembered, not routed.
                item.approved = true
                item.listed = true
                pair.senderItem = item
                return
            }
            item.subscription = item.subscription.with(from: true)
            item.pendingIn = nil
            item.approved = false
            item.listed = true
            pair.senderItem = item
            deliver(stanza, &pair, &effects) { inboundSubscribed(stanza, &$0, &$1) }
            // §3.1.5: the new subscriber gets the contact's current presence.
            effects.append(.presences(of: pair.sender, to: pair.recipient))

        case .unsubscribe:
            if var item = pair.senderItem {
                item.subscription = item.subscription.with(to: false)
                item.ask = false
                pair.senderItem = item
            }
            deliver(stanza, &pair, &effects) { inboundUnsubscribe(stanza, &$0, &$1) }

        case .unsubscribed:
            var hadFrom = false
            if var item = pair.senderItem {
                hadFrom = item.subscription.hasFrom
                item.subscription = item.subscription.with(from: false)
                item.pendingIn = nil
                item.approved = false
                pair.senderItem = item
            }
            deliver(stanza, &pair, &effects) { inboundUnsubscribed(stanza, &$0, &$1) }
            // §3.2.2: the former subscriber sees the contact go unavailable.
            if hadFrom { effects.append(.unavailable(of: pair.sender, to: pair.recipient)) }
        }
    }

    /// A subscription presence from a user of another server to a local account:
    /// the inbound processing alone (the outbound half ran at the sender's server).
    static func processInbound(_ type: SubscriptionType, stanza: XMLElement, _ pair: inout RosterPair,
                               _ effects: inout [RosterEffect]) {
        switch type {
        case .subscribe: inboundSubscribe(stanza, &pair, &effects)
        case .subscribed: inboundSubscribed(stanza, &pair, &effects)
        case .unsubscribe: inboundUnsubscribe(stanza, &pair, &effects)
        case .unsubscribed: inboundUnsubscribed(stanza, &pair, &effects)
        }
    }

    /// Roster removal (§2.5.2): cancels both directions, then forgets the item.
    static func remove(_ pair: inout RosterPair, _ effects: inout [RosterEffect]) {
        guard let item = pair.senderItem else { return }
        if item.subscription.hasTo || item.ask {
            process(.unsubscribe, stanza: presence(.unsubscribe, from: pair.sender, to: pair.recipient), &pair, &effects)
        }
        if item.subscription.hasFrom || item.pendingIn != nil {
            process(.unsubscribed, stanza: presence(.unsubscribed, from: pair.sender, to: pair.recipient), &pair, &effects)
        }
        pair.senderItem = nil
    }

    /// Inbound processing when the recipient is local; plain routing otherwise.
    private static func deliver(_ stanza: XMLElement, _ pair: inout RosterPair, _ effects: inout [RosterEffect],
                                inbound: (inout RosterPair, inout [RosterEffect]) -> Void) {
        if pair.recipientIsLocal {
            inbound(&pair, &effects)
        } else {
            effects.append(.route(stanza))
        }
    }

    // MARK: inbound, at the recipient's server

    /// §3.1.3: auto-approved when the recipient already shares its presence or
    /// pre-approved it; otherwise kept as pending and delivered.
    private static func inboundSubscribe(_ stanza: XMLElement, _ pair: inout RosterPair, _ effects: inout [RosterEffect]) {
        var item = pair.recipientItem ?? RosterItem(contact: pair.sender)
        if item.subscription.hasFrom || item.approved {
            item.subscription = item.subscription.with(from: true)
            item.approved = false
            pair.recipientItem = item
            // The recipient's server answers for it: the sender's side sees `subscribed`.
            approveOnBehalf(&pair, &effects)
            return
        }
        // A repeated request replaces the stored one but is not delivered again
        // (Appendix A.3.1: "None + Pending In" does not deliver); logins still do.
        let alreadyPending = item.pendingIn != nil
        item.pendingIn = stanza.serialized(parentNamespace: XMPPNamespace.client)
        pair.recipientItem = item
        if !alreadyPending { effects.append(.route(stanza)) }
    }

    private static func approveOnBehalf(_ pair: inout RosterPair, _ effects: inout [RosterEffect]) {
        let subscribed = presence(.subscribed, from: pair.recipient, to: pair.sender)
        if !pair.senderIsLocal {
            // The sender's server updates its row when this reaches it.
            effects.append(.route(subscribed))
        } else if var item = pair.senderItem, item.ask, !item.subscription.hasTo {
            item.subscription = item.subscription.with(to: true)
            item.ask = false
            pair.senderItem = item
            effects.append(.route(subscribed))
        }
        effects.append(.presences(of: pair.recipient, to: pair.sender))
    }

    /// §3.1.6: only an outstanding request becomes a subscription.
    private static func inboundSubscribed(_ stanza: XMLElement, _ pair: inout RosterPair, _ effects: inout [RosterEffect]) {
        guard var item = pair.recipientItem, item.ask, !item.subscription.hasTo else { return }
        item.subscription = item.subscription.with(to: true)
        item.ask = false
        pair.recipientItem = item
        effects.append(.route(stanza))
    }

    /// §3.3.3: the recipient stops sending its presence to the sender.
    private static func inboundUnsubscribe(_ stanza: XMLElement, _ pair: inout RosterPair, _ effects: inout [RosterEffect]) {
        guard var item = pair.recipientItem else { return }
        let hadFrom = item.subscription.hasFrom
        guard hadFrom || item.pendingIn != nil else { return }
        item.subscription = item.subscription.with(from: false)
        item.pendingIn = nil
        pair.recipientItem = item
        effects.append(.route(stanza))
        if hadFrom { effects.append(.unavailable(of: pair.recipient, to: pair.sender)) }
    }

    /// §3.2.3: the recipient's subscription to the sender (or its request) ends.
    private static func inboundUnsubscribed(_ stanza: XMLElement, _ pair: inout RosterPair, _ effects: inout [RosterEffect]) {
        guard var item = pair.recipientItem, item.subscription.hasTo || item.ask else { return }
        item.subscription = item.subscription.with(to: false)
        item.ask = false
        pair.recipientItem = item
        effects.append(.route(stanza))
    }
}
