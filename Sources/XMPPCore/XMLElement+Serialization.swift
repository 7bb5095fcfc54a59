extension XMLElement {
    /// Serialises to a String. `parentNamespace` is the default namespace already in
    /// scope where this element will be written (e.g. `jabber:client` for a stanza
    /// written at depth 1 of a client stream): `xmlns` is emitted only when it differs.
    public func serialized(parentNamespace: String? = nil) -> String {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(256)
        serialize(into: &buffer, parentNamespace: parentNamespace)
        return String(decoding: buffer, as: UTF8.self)
    }

    /// Appends the UTF-8 serialisation to `buffer` (the network path: no Strings).
    ///
    /// Elements in the stream namespace (`features`, `error`) are written with the
    /// conventional `stream:` prefix that many clients match literally; the prefix is
    /// declared on the element itself so the output is correct standalone too, and the
    /// default namespace seen by its children is unchanged.
    public func serialize(into buffer: inout [UInt8], parentNamespace: String?) {
        let streamPrefixed = namespace == XMPPNamespace.stream
        buffer.append(UInt8(ascii: "<"))
        if streamPrefixed { XMLEscaping.appendRaw("stream:", to: &buffer) }
        XMLEscaping.appendRaw(name, to: &buffer)

        var childDefault = parentNamespace
        if streamPrefixed {
            XMLEscaping.appendRaw(" xmlns:stream='", to: &buffer)
            XMLEscaping.appendAttribute(XMPPNamespace.stream, to: &buffer)
            buffer.append(UInt8(ascii: "'"))
        } else if let ns = namespace, ns != parentNamespace {
            XMLEscaping.appendRaw(" xmlns='", to: &buffer)
            XMLEscaping.appendAttribute(ns, to: &buffer)
            buffer.append(UInt8(ascii: "'"))
            childDefault = ns
        } else if let ns = namespace {
            childDefault = ns
        }

        for a in attributes {
            buffer.append(UInt8(ascii: " "))
            XMLEscaping.appendRaw(a.name, to: &buffer)
            buffer.append(UInt8(ascii: "="))
            buffer.append(UInt8(ascii: "'"))
            XMLEscaping.appendAttribute(a.value, to: &buffer)
            buffer.append(UInt8(ascii: "'"))
        }

        if children.isEmpty {
            buffer.append(UInt8(ascii: "/"))
            buffer.append(UInt8(ascii: ">"))
            return
        }
        buffer.append(UInt8(ascii: ">"))
        for child in children {
            switch child {
            case .text(let t): XMLEscaping.appendText(t, to: &buffer)
            case .element(let e): e.serialize(into: &buffer, parentNamespace: childDefault)
            }
        }
        buffer.append(UInt8(ascii: "<"))
        buffer.append(UInt8(ascii: "/"))
        if streamPrefixed { XMLEscaping.appendRaw("stream:", to: &buffer) }
        XMLEscaping.appendRaw(name, to: &buffer)
        buffer.append(UInt8(ascii: ">"))
    }

    /// Serialised size in bytes (used e.g. for outgoing limits).
    public func serializedByteCount(parentNamespace: String? = nil) -> Int {
        var buffer: [UInt8] = []
        serialize(into: &buffer, parentNamespace: parentNamespace)
        return buffer.count
    }
}

extension XMLNode {
    public func serialize(into buffer: inout [UInt8], parentNamespace: String?) {
        switch self {
        case .text(let t): XMLEscaping.appendText(t, to: &buffer)
        case .element(let e): e.serialize(into: &buffer, parentNamespace: parentNamespace)
        }
    }
}

extension XMLElement: CustomStringConvertible {
    public var description: String { serialized() }
}
