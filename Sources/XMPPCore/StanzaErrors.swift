import XMPPCore

/// RFC 6120 §8.3 stanza errors and §4.9 stream errors, built as elements.
public enum StanzaErrors {
    /// The error reply to `stanza`: addresses swapped, type='error', the original
    /// payload kept (RFC 6120 §8.3.1 allows it and clients use it to match).
    /// Returns nil for a stanza that must never be answered with an error
    /// (an error itself, or an iq result).
    public static func reply(to stanza: XMLElement, condition: String, type: String = "cancel",
                             text: String? = nil) -> XMLElement? {
        let stanzaType = stanza[attribute: "type"]
        if stanzaType == "error" || (stanza.name == "iq" && stanzaType == "result") { return nil }
        var reply = stanza
        reply[attribute: "type"] = "error"
        reply[attribute: "to"] = stanza[attribute: "from"]
        reply[attribute: "from"] = stanza[attribute: "to"]
        var error = XMLElement(name: "error", namespace: XMPPNamespace.client, attributes: ["type": type])
        error.append(XMLElement(name: condition, namespace: XMPPNamespace.stanzas))
        if let text {
            var textElement = XMLElement(name: "text", namespace: XMPPNamespace.stanzas)
            textElement.append(text: text)
            error.append(textElement)
        }
        reply.append(error)
        return reply
    }

    /// `extra`: an application-specific condition (RFC 6120 §4.9.4).
    public static func streamError(_ condition: String, text: String? = nil, extra: XMLElement? = nil) -> String {
        var out = "<stream:error><\(condition) xmlns='\(XMPPNamespace.streams)'/>"
        if let text {
            out += "<text xmlns='\(XMPPNamespace.streams)'>\(XMLEscaping.escapeText(text))</text>"
        }
        if let extra { out += extra.serialized(parentNamespace: XMPPNamespace.stream) }
        return out + "</stream:error>"
    }
}
