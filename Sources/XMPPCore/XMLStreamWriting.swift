// Helpers for the sending side of a stream: the opening tag can't be an XMLElement
// (it is never closed in the same write), and stream errors have a fixed shape.

extension XMLStreamHeader {
    /// `<?xml version='1.0'?><stream:stream xmlns='…' xmlns:stream='…' attr='…'>`.
    /// Attributes are written in sorted order so output is deterministic.
    public func openingTag(includeXMLDeclaration: Bool = true) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        if includeXMLDeclaration { XMLEscaping.appendRaw("<?xml version='1.0'?>", to: &out) }
        XMLEscaping.appendRaw("<stream:", to: &out)
        XMLEscaping.appendRaw(name, to: &out)
        if let d = defaultNamespace {
            XMLEscaping.appendRaw(" xmlns='", to: &out)
            XMLEscaping.appendAttribute(d, to: &out)
            out.append(UInt8(ascii: "'"))
        }
        XMLEscaping.appendRaw(" xmlns:stream='", to: &out)
        XMLEscaping.appendAttribute(namespace, to: &out)
        out.append(UInt8(ascii: "'"))
        for (prefix, uri) in namespaces.sorted(by: { $0.key < $1.key }) where prefix != "" && prefix != "stream" {
            XMLEscaping.appendRaw(" xmlns:" + prefix + "='", to: &out)
            XMLEscaping.appendAttribute(uri, to: &out)
            out.append(UInt8(ascii: "'"))
        }
        for (key, value) in attributes.sorted(by: { $0.key < $1.key }) {
            out.append(UInt8(ascii: " "))
            XMLEscaping.appendRaw(key, to: &out)
            XMLEscaping.appendRaw("='", to: &out)
            XMLEscaping.appendAttribute(value, to: &out)
            out.append(UInt8(ascii: "'"))
        }
        out.append(UInt8(ascii: ">"))
        return String(decoding: out, as: UTF8.self)
    }

    public static let closingTag = "</stream:stream>"
}

extension XMLStreamError {
    /// `<stream:error><condition xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`,
    /// optionally with a `<text/>` (RFC 6120 §4.9.2). Serialise it with the stream's
    /// default namespace as `parentNamespace`.
    public func streamErrorElement(includeText: Bool = false) -> XMLElement {
        XMLElement.streamError(condition: condition, text: includeText ? detail : nil)
    }
}

extension XMLElement {
    /// A `<stream:error/>` for any RFC 6120 §4.9.3 condition name.
    public static func streamError(condition: String, text: String? = nil) -> XMLElement {
        var e = XMLElement(name: "error", namespace: XMPPNamespace.stream)
        e.append(XMLElement(name: condition, namespace: XMPPNamespace.streams))
        if let text, !text.isEmpty {
            e.append(XMLElement(name: "text", namespace: XMPPNamespace.streams, text: text))
        }
        return e
    }
}
