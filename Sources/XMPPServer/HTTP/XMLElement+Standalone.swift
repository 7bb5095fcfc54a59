import XMPPCore

extension XMLElement {
    /// The element as a document of its own, for transports that carry one element per
    /// message (WebSocket, RFC 7395 §3.3.3) or per body (BOSH): stanzas with
    /// xmlns='jabber:client', stream elements (features, errors) with the `stream:` prefix
    /// declared on them.
    var standaloneXML: String {
        guard namespace == XMPPNamespace.stream else { return serialized(parentNamespace: nil) }
        var out = "<stream:\(name) xmlns:stream='\(XMPPNamespace.stream)'"
        for (name, value) in attributes { out += " \(name)='\(XMLEscaping.escapeAttribute(value))'" }
        out += ">"
        for child in children {
            switch child {
            case .element(let e): out += e.serialized(parentNamespace: nil)
            case .text(let text): out += XMLEscaping.escapeText(text)
            }
        }
        return out + "</stream:\(name)>"
    }
}
