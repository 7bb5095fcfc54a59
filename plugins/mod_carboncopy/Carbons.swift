import XMPPCore
import XMPPModuleAPI

/// What gets carbon-copied and what a carbon looks like (XEP-0280 §6, §7, §8).
enum Carbons {
    static let namespace = "urn:xmpp:carbons:2"
    static let forward = "urn:xmpp:forward:0"
    static let hints = "urn:xmpp:hints"
    static let delay = "urn:xmpp:delay"

    /// Chat messages, and normal ones with a body; not marked private or no-copy.
    static func isEligible(_ message: XMLElement) -> Bool {
        let type = message[attribute: "type"] ?? "normal"
        guard type == "chat" || (type == "normal" && message.child("body") != nil) else { return false }
        if message.child("private", namespace: namespace) != nil { return false }
        if message.child("no-copy", namespace: hints) != nil { return false }
        return !isCarbon(message)
    }

    static func isCarbon(_ message: XMLElement) -> Bool {
        message.child("sent", namespace: namespace) != nil || message.child("received", namespace: namespace) != nil
    }

    /// A stored message handed out at login (mod_offline stamps a delay from the
    /// server): the other resources were not there to miss it, so no carbons.
    static func isOfflineDelivery(_ message: XMLElement, to session: JID) -> Bool {
        message.children("delay", namespace: delay).contains { $0[attribute: "from"] == session.domain }
    }

    /// `<message from='bare' to='resource'><sent|received><forwarded><message/>`.
    static func wrap(_ message: XMLElement, as kind: String, for resource: JID) -> XMLElement {
        var attributes = ["from": resource.bare.description, "to": resource.description]
        if let type = message[attribute: "type"] { attributes["type"] = type }
        var forwarded = XMLElement(name: "forwarded", namespace: forward)
        forwarded.append(message)
        var wrapper = XMLElement(name: kind, namespace: namespace)
        wrapper.append(forwarded)
        var carbon = XMLElement(name: "message", namespace: XMPPNamespace.client, attributes: attributes)
        carbon.append(wrapper)
        return carbon
    }

    /// The resources the router gave `message` to, as the router chose them: the
    /// addressed resource if it exists, else the available resources of highest
    /// non-negative priority (RFC 6121 §8.5.2.1). Always includes `session`.
    static func deliveredResources(of message: XMLElement, at session: JID, host: ModuleHost) -> Set<JID> {
        if let to = message[attribute: "to"].flatMap(JID.init), to.resource != nil, to == session {
            return [session]
        }
        var byPriority: [(jid: JID, priority: Int)] = []
        for presence in host.availablePresences(of: session.bare) {
            guard let jid = presence[attribute: "from"].flatMap(JID.init) else { continue }
            let priority = presence.child("priority").flatMap { Int($0.text.trimmingWhitespace) } ?? 0
            if priority >= 0 { byPriority.append((jid, priority)) }
        }
        var chosen: Set<JID> = [session]
        if let top = byPriority.map(\.priority).max() {
            for entry in byPriority where entry.priority == top { chosen.insert(entry.jid) }
        }
        return chosen
    }
}

extension String {
    var trimmingWhitespace: Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
        guard let start = firstIndex(where: { !isSpace($0) }) else { return "" }
        let end = lastIndex(where: { !isSpace($0) })!
        return self[start...end]
    }
}
