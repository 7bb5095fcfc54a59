import XMPPCore

/// The `<body/>` wrapper of XEP-0124, both ways.
enum BOSHBody {
    static let namespace = "http://jabber.org/protocol/httpbind"
    static let xbosh = "urn:xmpp:xbosh"

    /// A request body, or nil when it is not one `<body/>` in the httpbind namespace.
    static func parse(_ text: String) -> XMLElement? {
        let elements = XMLElement.parseStored(text)
        guard elements.count == 1, let body = elements.first, body.name == "body", body.namespace == namespace else { return nil }
        return body
    }

    /// The payload a request carries, as the c2s stream expects it: XEP-0206 stanzas are
    /// qualified by jabber:client, but clients that leave the namespace out inherit
    /// httpbind's from `<body/>`; those are taken as jabber:client (as ejabberd does).
    static func payload(of body: XMLElement) -> String {
        var out = ""
        for child in body.elements {
            var child = child
            if child.namespace == namespace { child.namespace = XMPPNamespace.client }
            out += child.serialized(parentNamespace: XMPPNamespace.client)
        }
        return out
    }

    /// A response: `attributes` on `<body/>`, then `payload` (elements as standalone XML).
    static func response(_ attributes: [(String, String)], payload: [String] = []) -> String {
        var out = "<body xmlns='\(namespace)' xmlns:xmpp='\(xbosh)' xmlns:stream='\(XMPPNamespace.stream)'"
        for (name, value) in attributes { out += " \(name)='\(XMLEscaping.escapeAttribute(value))'" }
        if payload.isEmpty { return out + "/>" }
        return out + ">" + payload.joined() + "</body>"
    }

    /// A terminal binding condition (XEP-0124 §17.2).
    static func terminate(_ condition: String? = nil, payload: [String] = []) -> String {
        var attributes = [("type", "terminate")]
        if let condition { attributes.append(("condition", condition)) }
        return response(attributes, payload: payload)
    }
}
