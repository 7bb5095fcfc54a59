import XMPPCore

/// RFC 6121 §2.1.2.5 subscription states, with the two directions as flags.
enum Subscription: String, Sendable {
    case none, to, from, both

    init(to: Bool, from: Bool) {
        switch (to, from) {
        case (false, false): self = .none
        case (true, false): self = .to
        case (false, true): self = .from
        case (true, true): self = .both
        }
    }

    /// The owner receives the contact's presence.
    var hasTo: Bool { self == .to || self == .both }
    /// The contact receives the owner's presence.
    var hasFrom: Bool { self == .from || self == .both }

    func with(to: Bool? = nil, from: Bool? = nil) -> Subscription {
        Subscription(to: to ?? hasTo, from: from ?? hasFrom)
    }
}

/// One row of roster_items: what `owner` knows of `contact`.
///
/// A row may exist without being in the owner's roster (`listed == false`): it then
/// only holds an inbound subscription request the owner has not answered (RFC 6121
/// §3.1.3 keeps those out of the roster).
struct RosterItem: Equatable, Sendable {
    var contact: JID
    var name: String?
    var subscription: Subscription = .none
    /// Pending out: the owner asked to see the contact's presence ('ask="subscribe"').
    var ask = false
    /// Pending in: the contact's subscribe stanza, kept until the owner answers and
    /// delivered at each of the owner's logins meanwhile.
    var pendingIn: String?
    /// RFC 6121 §3.4 pre-approval: a later subscribe from the contact is approved at once.
    var approved = false
    var groups: [String] = []
    var listed = false

    init(contact: JID, listed: Bool = false) {
        self.contact = contact
        self.listed = listed
    }

    /// Nothing worth keeping: the row can go.
    var isEmpty: Bool {
        !listed && subscription == .none && !ask && pendingIn == nil && !approved
    }

    /// The `<item/>` of roster results and pushes (nil when not in the roster).
    var element: XMLElement? {
        guard listed else { return nil }
        var attributes = ["jid": contact.description, "subscription": subscription.rawValue]
        if let name { attributes["name"] = name }
        if ask { attributes["ask"] = "subscribe" }
        if approved { attributes["approved"] = "true" }
        var item = XMLElement(name: "item", namespace: RosterNamespace.roster, attributes: attributes)
        for group in groups {
            item.append(XMLElement(name: "group", namespace: RosterNamespace.roster, text: group))
        }
        return item
    }

    static func removed(_ contact: JID) -> XMLElement {
        XMLElement(name: "item", namespace: RosterNamespace.roster,
                   attributes: ["jid": contact.description, "subscription": "remove"])
    }
}

enum RosterNamespace {
    static let roster = "jabber:iq:roster"
    static let rosterVersioning = "urn:xmpp:features:rosterver"
    static let preApproval = "urn:xmpp:features:pre-approval"
}
