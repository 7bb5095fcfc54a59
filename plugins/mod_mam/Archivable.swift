import XMPPCore

/// Which messages go into the archive (XEP-0313 §5.1.1, as MongooseIM decides):
/// chat messages and normal ones with a body (chat markers if configured), not
/// errors, headlines or groupchat, not carbons or archive results, and not those
/// a client asked not to store (XEP-0334 hints).
enum Archivable {
    static let hints = "urn:xmpp:hints"
    static let carbons = "urn:xmpp:carbons:2"
    static let markers = "urn:xmpp:chat-markers:0"

    static func check(_ message: XMLElement, archiveChatMarkers: Bool) -> Bool {
        let type = message[attribute: "type"] ?? "normal"
        guard type == "chat" || type == "normal" else { return false }
        if hintsNoStore(message) { return false }
        if message.child("sent", namespace: carbons) != nil || message.child("received", namespace: carbons) != nil
            || message.child("result", namespace: ModMAM.namespace) != nil {
            return false
        }
        // Retractions are archived whatever they carry (MongooseIM's rule).
        if message.child("body") != nil || Retraction.target(of: message) != nil { return true }
        return archiveChatMarkers && hasChatMarker(message)
    }

    /// A room's groupchat message (MongooseIM's mod_mam_muc): one with a body (or a chat
    /// marker, if configured), unless a hint asks not to store it.
    static func checkRoomMessage(_ message: XMLElement, archiveChatMarkers: Bool) -> Bool {
        guard message[attribute: "type"] == "groupchat", !hintsNoStore(message) else { return false }
        if message.child("body") != nil || Retraction.target(of: message) != nil { return true }
        return archiveChatMarkers && hasChatMarker(message)
    }

    private static func hintsNoStore(_ message: XMLElement) -> Bool {
        message.child("no-store", namespace: hints) != nil || message.child("no-permanent-store", namespace: hints) != nil
    }

    private static func hasChatMarker(_ message: XMLElement) -> Bool {
        message.elements.contains { $0.namespace == markers && ["received", "displayed", "acknowledged"].contains($0.name) }
    }

    /// The message as both archives keep it: without stanza ids that claim to come
    /// from either party's archive (XEP-0359 §5: a client must not forge them).
    static func cleaned(_ message: XMLElement, parties: [JID]) -> XMLElement {
        var copy = message
        let owners = Set(parties.map(\.bare.description))
        copy.children.removeAll {
            guard case .element(let e) = $0, e.name == "stanza-id", e.namespace == ModMAM.stanzaIDs else { return false }
            return owners.contains(e[attribute: "by"] ?? "")
        }
        return copy
    }
}
