import CExpat
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// expat wiring: handlers are non-capturing C functions, so each one recovers the
// parser object from the user-data pointer (unretained: the parser owns expat).

/// Separator expat puts between namespace URI, local name and prefix. 0x01 is not a
/// legal XML 1.0 character, so it can never occur inside a URI or name.
let expatNamespaceSeparator: UInt8 = 0x01

@inline(__always)
private func owner(_ userData: UnsafeMutableRawPointer?) -> XMLStreamParser {
    Unmanaged<XMLStreamParser>.fromOpaque(userData!).takeUnretainedValue()
}

extension XMLStreamParser {
    static let hashSalt: UInt = {
        var generator = SystemRandomNumberGenerator()
        return UInt(generator.next() as UInt64) | 1   // 0 would mean "draw one"
    }()

    func makeParser() {
        // "UTF-8" overrides any encoding declared in the document: XMPP is UTF-8 only.
        guard let p = XML_ParserCreateNS("UTF-8", CChar(bitPattern: expatNamespaceSeparator)) else {
            fatalError("XML_ParserCreateNS failed (out of memory)")
        }
        parser = p
        // A salt of our own: otherwise expat draws one from getrandom(2) for every new
        // parser, and a hibernating session (hibernate_after = 0) gets a new parser per
        // read. Random per process, so hash flooding still cannot be precomputed.
        XML_SetHashSalt(p, XMLStreamParser.hashSalt)
        XML_SetReturnNSTriplet(p, 1)   // prefixes are needed to keep `xml:lang` qualified
        XML_SetUserData(p, Unmanaged.passUnretained(self).toOpaque())
        XML_SetParamEntityParsing(p, XML_PARAM_ENTITY_PARSING_NEVER)

        XML_SetElementHandler(p, { ud, name, atts in
            owner(ud).startElement(name!, atts)
        }, { ud, _ in
            owner(ud).endElement()
        })
        XML_SetCharacterDataHandler(p, { ud, s, len in
            owner(ud).characters(s!, Int(len))
        })
        XML_SetNamespaceDeclHandler(p, { ud, prefix, uri in
            owner(ud).namespaceDeclared(prefix: prefix, uri: uri)
        }, nil)

        // RFC 6120 §11.1 restricted XML: each of these stops the parser immediately.
        XML_SetStartDoctypeDeclHandler(p, { ud, _, _, _, _ in
            owner(ud).restricted("DTD/DOCTYPE is not allowed")
        })
        XML_SetCommentHandler(p, { ud, _ in
            owner(ud).restricted("comments are not allowed")
        })
        XML_SetProcessingInstructionHandler(p, { ud, _, _ in
            owner(ud).restricted("processing instructions are not allowed")
        })
        XML_SetEntityDeclHandler(p, { ud, _, _, _, _, _, _, _, _ in
            owner(ud).restricted("entity declarations are not allowed")
        })
        XML_SetSkippedEntityHandler(p, { ud, _, _ in
            owner(ud).restricted("entity references are not allowed")
        })
    }

    func restricted(_ why: String) {
        if ignoringCallbacks { return }
        fail(.restrictedXML(why))
    }

    func namespaceDeclared(prefix: UnsafePointer<CChar>?, uri: UnsafePointer<CChar>?) {
        if ignoringCallbacks { return }
        pendingNamespaces.append((prefix: prefix.map { String(cString: $0) },
                                  uri: uri.map { internNamespace($0, strlen($0)) }))
    }

    func startElement(_ qname: UnsafePointer<CChar>, _ atts: UnsafeMutablePointer<UnsafePointer<CChar>?>?) {
        if ignoringCallbacks { return }
        defer { pendingNamespaces.removeAll(keepingCapacity: true) }
        let (ns, local, prefix) = splitName(qname)

        if depth == 0 && resuming {
            depth = 1
            return
        }
        if depth == 0 {
            // Expat itself rejects a second root ("junk after document element").
            guard local == "stream", ns == XMPPNamespace.stream else {
                fail(.invalidNamespace("root element must be <stream> in \(XMPPNamespace.stream), got <\(local)> in \(ns ?? "no namespace")"))
                return
            }
            let end = currentEventEnd
            if end > XMLStreamParser.maxHeaderSize {
                fail(.policyViolation("stream header exceeds \(XMLStreamParser.maxHeaderSize) bytes"))
                return
            }
            var attributes: [String: String] = [:]
            forEachAttribute(atts) { name, value in attributes[name] = value }
            var namespaces: [String: String] = [:]
            var defaultNamespace: String?
            for d in pendingNamespaces {
                namespaces[d.prefix ?? ""] = d.uri ?? ""
                if d.prefix == nil { defaultNamespace = d.uri }
            }
            let header = XMLStreamHeader(name: local, namespace: XMPPNamespace.stream, prefix: prefix,
                                         defaultNamespace: defaultNamespace, attributes: attributes,
                                         namespaces: namespaces)
            headerDone = true
            depth = 1
            mark = end
            resumeHeader = XMLStreamParser.openingTag(of: header)
            emit(.streamOpened(header), endingAt: end)
            return
        }

        if depth >= XMLStreamParser.maxDepth {
            fail(.policyViolation("elements nested deeper than \(XMLStreamParser.maxDepth)"))
            return
        }
        if depth == 1 {
            stanzaStart = currentEventStart
            mark = stanzaStart
        } else {
            flushText()
        }

        var attributes: [(name: String, value: String)] = []
        let count = attributeCount(atts) + pendingNamespaces.count
        if count > 0 { attributes.reserveCapacity(count) }   // one allocation per element at most
        // Prefixed declarations are kept as attributes so prefixed attributes that use
        // them still serialise correctly; the default namespace lives in `namespace`.
        for d in pendingNamespaces {
            if let p = d.prefix { attributes.append((name: "xmlns:" + p, value: d.uri ?? "")) }
        }
        forEachAttribute(atts) { name, value in attributes.append((name: name, value: value)) }
        stack.append(XMLElement(name: local, namespace: ns, orderedAttributes: attributes))
        depth += 1
    }

    func endElement() {
        if ignoringCallbacks { return }
        depth -= 1
        if depth == 0 {
            let end = currentEventEnd
            mark = end
            emit(.streamClosed, endingAt: end)
            return
        }
        flushText()
        let element = stack.removeLast()
        if stack.isEmpty {
            let end = currentEventEnd
            if end - stanzaStart > stanzaLimit {
                fail(.policyViolation("element of \(end - stanzaStart) bytes exceeds \(stanzaLimit)"))
                return
            }
            mark = end
            emit(.element(element), endingAt: end)
        } else {
            stack[stack.count - 1].children.append(.element(element))
        }
    }

    func characters(_ s: UnsafePointer<CChar>, _ len: Int) {
        if ignoringCallbacks { return }
        let bytes = UnsafeRawBufferPointer(start: s, count: len)
        if stack.isEmpty {
            // Between depth-1 elements only whitespace (keepalives) may appear; it
            // completes a unit of its own so it never counts toward the next stanza.
            for b in bytes where !(b == 0x20 || b == 0x0A || b == 0x09 || b == 0x0D) {
                fail(.badFormat("character data at stream level"))
                return
            }
            mark = max(mark, currentEventEnd)
            return
        }
        pendingText.append(contentsOf: bytes)
    }

    /// Moves accumulated text into the innermost open element as one node.
    @inline(__always)
    func flushText() {
        guard !pendingText.isEmpty, !stack.isEmpty else { return }
        stack[stack.count - 1].children.append(.text(String(decoding: pendingText, as: UTF8.self)))
        pendingText.removeAll(keepingCapacity: true)
    }

    @inline(__always)
    func attributeCount(_ atts: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> Int {
        guard let a = atts else { return 0 }
        var n = 0
        while a[2 * n] != nil { n += 1 }
        return n
    }

    /// Walks expat's NULL-terminated name/value array once, qualifying prefixed names.
    @inline(__always)
    func forEachAttribute(_ atts: UnsafeMutablePointer<UnsafePointer<CChar>?>?, _ body: (String, String) -> Void) {
        guard var a = atts else { return }
        while let n = a[0], let v = a[1] {
            let (_, local, prefix) = splitName(n)
            let name = prefix.map { $0 + ":" + local } ?? local
            body(name, String(cString: v))
            a += 2
        }
    }

    /// Splits expat's "uri SEP local [SEP prefix]" (or plain "local") name.
    func splitName(_ qname: UnsafePointer<CChar>) -> (namespace: String?, local: String, prefix: String?) {
        let len = strlen(qname)
        let raw = UnsafeRawPointer(qname).assumingMemoryBound(to: UInt8.self)
        var first = -1
        var second = -1
        var i = 0
        while i < len {
            if raw[i] == expatNamespaceSeparator {
                if first < 0 { first = i } else { second = i; break }
            }
            i += 1
        }
        if first < 0 {
            return (nil, String(decoding: UnsafeBufferPointer(start: raw, count: len), as: UTF8.self), nil)
        }
        let ns = internNamespace(qname, first)
        let localEnd = second < 0 ? len : second
        let local = String(decoding: UnsafeBufferPointer(start: raw + first + 1, count: localEnd - first - 1), as: UTF8.self)
        let prefix = second < 0 ? nil
            : String(decoding: UnsafeBufferPointer(start: raw + second + 1, count: len - second - 1), as: UTF8.self)
        return (ns, local, prefix)
    }

    /// Returns a shared String for a namespace URI: a stream uses a handful of URIs
    /// over and over, and most are too long for Swift's inline small strings, so
    /// reusing one instance saves an allocation per element.
    ///
    /// Namespaces every stream uses come from a process-wide table of string literals
    /// (no heap storage at all); only other URIs are cached per parser, so a connection
    /// that speaks only common namespaces holds no cache.
    func internNamespace(_ p: UnsafePointer<CChar>, _ len: Int) -> String {
        let bytes = UnsafeRawBufferPointer(start: p, count: len)
        for entry in wellKnownNamespaces where entry.bytes.count == len {
            if entry.bytes.withUnsafeBytes({ memcmp($0.baseAddress!, p, len) == 0 }) { return entry.string }
        }
        for entry in namespaceCache where entry.bytes.count == len {
            if entry.bytes.withUnsafeBytes({ memcmp($0.baseAddress!, p, len) == 0 }) { return entry.string }
        }
        let s = String(decoding: bytes, as: UTF8.self)
        if namespaceCache.count < 32 { namespaceCache.append((bytes: Array(bytes), string: s)) }
        return s
    }
}

/// Namespace URIs that most streams use, as string literals (immortal: sharing them
/// costs no allocation and no reference counting). Immutable once built.
let wellKnownNamespaces: [(bytes: [UInt8], string: String)] = [
    XMPPNamespace.client, XMPPNamespace.stream, XMPPNamespace.server, XMPPNamespace.streams,
    XMPPNamespace.stanzas, XMPPNamespace.sasl, XMPPNamespace.bind, XMPPNamespace.session,
    XMPPNamespace.tls, XMPPNamespace.xml, "jabber:component:accept",
    "urn:xmpp:sm:3", "urn:xmpp:sasl-cb:0", "http://jabber.org/protocol/compress",
    "jabber:iq:roster", "jabber:iq:private", "jabber:iq:register", "jabber:iq:version", "jabber:iq:last",
    "jabber:x:data", "jabber:x:oob", "vcard-temp", "vcard-temp:x:update",
    "urn:xmpp:ping", "urn:xmpp:time", "urn:xmpp:delay", "urn:xmpp:receipts", "urn:xmpp:carbons:2",
    "urn:xmpp:forward:0", "urn:xmpp:blocking", "urn:xmpp:hints", "urn:xmpp:sid:0", "urn:xmpp:csi:0",
    "urn:xmpp:mam:2", "urn:xmpp:chat-markers:0", "urn:xmpp:idle:1",
    "http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/disco#items",
    "http://jabber.org/protocol/caps", "http://jabber.org/protocol/chatstates",
    "http://jabber.org/protocol/muc", "http://jabber.org/protocol/muc#user",
    "http://jabber.org/protocol/pubsub", "http://jabber.org/protocol/pubsub#event",
].map { (bytes: Array($0.utf8), string: $0) }
