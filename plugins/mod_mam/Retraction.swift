import XMPPCore

/// XEP-0424 Message Retraction as MongooseIM's mod_mam applies it to archives: a
/// retraction names the retracted message by its XEP-0359 `<origin-id/>`, and the most
/// recent message of the same sender to the same recipient with that origin id becomes
/// a tombstone in both parties' archives. Both forms are read: MongooseIM's
/// `<apply-to xmlns='urn:xmpp:fasten:0' id='…'><retract xmlns='urn:xmpp:message-retract:0'/>`
/// and the current `<retract xmlns='urn:xmpp:message-retract:1' id='…'/>`.
enum Retraction {
    static let fasten = "urn:xmpp:fasten:0"
    static let retract0 = "urn:xmpp:message-retract:0"
    static let retract1 = "urn:xmpp:message-retract:1"

    /// The origin id a message retracts, if it is a retraction.
    static func target(of message: XMLElement) -> String? {
        if let applyTo = message.child("apply-to", namespace: fasten), applyTo.child("retract", namespace: retract0) != nil,
           let id = applyTo[attribute: "id"], !id.isEmpty {
            return id
        }
        if let retract = message.child("retract", namespace: retract1), let id = retract[attribute: "id"], !id.isEmpty {
            return id
        }
        return nil
    }

    /// The message's own `<origin-id/>` (XEP-0359), which a later retraction names.
    static func originID(of message: XMLElement) -> String? {
        message.child("origin-id", namespace: ModMAM.stanzaIDs)?[attribute: "id"]
    }

    /// What the archive keeps instead of a retracted message: its attributes, and
    /// only `<retracted stamp><origin-id/></retracted>` inside.
    static func tombstone(of message: XMLElement, originID: String, at micros: Int64) -> XMLElement {
        var tombstone = XMLElement(name: message.name, namespace: message.namespace, orderedAttributes: message.attributes)
        var retracted = XMLElement(name: "retracted", namespace: retract0, attributes: ["stamp": Timestamps.format(micros)])
        retracted.append(XMLElement(name: "origin-id", namespace: ModMAM.stanzaIDs, attributes: ["id": originID]))
        tombstone.append(retracted)
        return tombstone
    }
}
