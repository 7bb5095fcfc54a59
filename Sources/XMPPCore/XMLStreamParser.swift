import CExpat

/// Incremental parser for one direction of an XMPP stream (RFC 6120 §4, §11).
///
/// Feed it raw bytes in whatever chunks the network delivers; it reports the stream
/// header, each complete depth-1 element (stanza or nonza) and the stream close, in
/// order, synchronously from `feed`. It enforces restricted XML and bounds the bytes
/// a peer can make it buffer (see `feed`). Not thread-safe: one per connection.
public final class XMLStreamParser {
    /// Cap on one depth-1 element when no `maxStanzaSize` is configured, so a peer can
    /// never make us buffer without bound.
    public static let defaultHardLimit = 10 * 1024 * 1024
    /// Cap on everything up to and including the `<stream:stream ...>` opening tag.
    public static let maxHeaderSize = 64 * 1024
    /// Maximum element nesting, root included (deep nesting is a cheap CPU/stack attack).
    public static let maxDepth = 100

    public let maxStanzaSize: Int?
    /// Effective per-element byte limit.
    public let stanzaLimit: Int

    // expat state; recreated on reset() because a new stream is a new XML document.
    var parser: XML_Parser?

    // Delivery: the caller's closure, valid only during `feed`.
    var sink: ((XMLStreamEvent) -> Void)?
    var inFeed = false
    /// Set when reset() is called from inside an event handler: the absolute byte offset
    /// where the triggering event ended, so the remaining input goes to the new parser.
    var resetPendingAt: Int?
    /// Absolute end offset of the event being delivered (for a reset from its handler).
    var lastEventEnd = 0

    var failure: XMLStreamError?

    // Byte accounting, in absolute offsets of the current document (what expat's
    // XML_GetCurrentByteIndex uses). `mark` is where the unit now being received began:
    // 0 before the header; the '<' of the current depth-1 element; otherwise the end of
    // the last completed element or keepalive whitespace. `consumed - mark` is what a
    // peer has made us hold, and is never allowed past the limit.
    var consumed = 0
    var mark = 0
    var stanzaStart = 0

    var headerDone = false
    var depth = 0                        // open elements, root included
    var stack: [XMLElement] = []         // the depth-1 element being built and its open descendants
    var pendingText: [UInt8] = []        // text for stack.last, joined across expat's chunks
    var pendingNamespaces: [(prefix: String?, uri: String?)] = []   // decls for the next start tag
    var namespaceCache: [(bytes: [UInt8], string: String)] = []     // interned namespace URIs
    /// The stream's opening tag rebuilt from its namespace declarations: fed to a new
    /// expat parser to resume after `hibernate()`.
    var resumeHeader: [UInt8] = []
    /// Set while that tag is re-fed: the root is not reported again.
    var resuming = false

    public init(maxStanzaSize: Int? = nil) {
        self.maxStanzaSize = maxStanzaSize
        self.stanzaLimit = maxStanzaSize ?? XMLStreamParser.defaultHardLimit
        // expat is created by the first feed: a connection that never sends costs nothing.
    }

    deinit {
        if let p = parser { XML_ParserFree(p) }
    }

    /// Whether the root element has been opened.
    public var streamOpen: Bool { headerDone && depth > 0 }

    /// Starts a new stream on the same connection (after STARTTLS or SASL success).
    /// May be called from inside an event handler: bytes after that event in the chunk
    /// being fed are then parsed as the start of the new stream.
    public func reset() {
        if inFeed {
            if resetPendingAt == nil {
                resetPendingAt = lastEventEnd
                if let p = parser { XML_StopParser(p, XML_FALSE) }
            }
            return
        }
        recreate()
    }

    public func feed(_ bytes: [UInt8], _ onEvent: (XMLStreamEvent) -> Void) throws {
        try bytes.withUnsafeBytes { try feed($0, onEvent) }
    }

    /// Parses `bytes`, calling `onEvent` for each event before returning or throwing.
    ///
    /// Input is handed to expat in slices no larger than what the current limit still
    /// allows, and the limit is checked after each slice, so a peer sending one endless
    /// start tag, attribute or text run is refused after at most limit + 1 buffered bytes,
    /// before expat has reported anything. Once failed, every call throws the same error.
    public func feed(_ bytes: UnsafeRawBufferPointer, _ onEvent: (XMLStreamEvent) -> Void) throws {
        precondition(!inFeed, "XMLStreamParser.feed is not reentrant; call reset() from a handler instead")
        if let f = failure { throw f }
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        if parser == nil {
            if headerDone { wake() } else { makeParser() }
        }
        try withoutActuallyEscaping(onEvent) { handler in
            sink = handler
            inFeed = true
            defer { sink = nil; inFeed = false }
            var offset = 0
            while offset < bytes.count {
                let held = consumed - mark
                let allowance = max(1, currentLimit - held + 1)
                let n = min(bytes.count - offset, allowance, Int(Int32.max))
                let sliceStart = consumed
                let status = XML_Parse(parser, base.advanced(by: offset).assumingMemoryBound(to: CChar.self), Int32(n), 0)
                if let at = resetPendingAt {
                    // reset() from a handler: the rest of this slice belongs to the new stream.
                    let used = max(0, min(n, at - sliceStart))
                    recreate()
                    offset += used
                    continue
                }
                consumed += n
                offset += n
                if let f = failure { throw f }
                if status == XML_STATUS_ERROR {
                    let e = translateExpatError()
                    failure = e
                    throw e
                }
                if consumed - mark > currentLimit {
                    let e = XMLStreamError.policyViolation(headerDone
                        ? "element exceeds \(stanzaLimit) bytes"
                        : "stream header exceeds \(XMLStreamParser.maxHeaderSize) bytes")
                    fail(e)
                    throw e
                }
            }
        }
    }

    /// Frees expat's state between stanzas (the listeners' `hibernate_after`): an
    /// idle connection then holds no parser buffers. Only possible at a stanza
    /// boundary with nothing partial received; returns whether it hibernated. The
    /// next `feed` resumes transparently.
    @discardableResult
    public func hibernate() -> Bool {
        guard !inFeed, failure == nil, headerDone, depth == 1, stack.isEmpty, consumed == mark,
              !resumeHeader.isEmpty, let p = parser else { return false }
        if let header = commonHeaderIndex,
           ExpatParserPool.shared.put(ExpatParserPool.Idle(parser: p, consumed: consumed), header: header) {
            // Pooled: no callback can reach this object any more (nobody feeds it
            // until the next owner points the user data at itself).
        } else {
            XML_ParserFree(p)
        }
        parser = nil
        pendingText = []
        stack = []
        pendingNamespaces = []
        return true
    }

    public var isHibernating: Bool { parser == nil && headerDone }

    /// Inside the root with no depth-1 element partly received and no error: the
    /// next byte fed starts a new element.
    public var atElementBoundary: Bool {
        failure == nil && headerDone && depth == 1 && stack.isEmpty && consumed == mark
    }

    /// A new expat parser in the namespace context of the stream, as if it had just
    /// read the opening tag.
    func wake() {
        if let header = commonHeaderIndex, let pooled = ExpatParserPool.shared.take(header: header) {
            // Already inside the same opening tag: nothing to re-feed.
            parser = pooled.parser
            XML_SetUserData(pooled.parser, Unmanaged.passUnretained(self).toOpaque())
            depth = 1
            consumed = pooled.consumed
            mark = consumed
            lastEventEnd = consumed
            return
        }
        makeParser()
        depth = 0 // the re-fed root brings it back to 1
        resuming = true
        let status = resumeHeader.withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { XML_Parse(parser, $0.baseAddress, Int32($0.count), 0) }
        }
        resuming = false
        precondition(status != XML_STATUS_ERROR, "the rebuilt stream header must parse")
        consumed = resumeHeader.count
        mark = consumed
        lastEventEnd = consumed
    }

    /// Which of `commonOpeningTags` this stream's header is, if any: its expat
    /// parser can then go to (and come from) ExpatParserPool.
    var commonHeaderIndex: Int? {
        guard !resumeHeader.isEmpty else { return nil }
        return XMLStreamParser.commonOpeningTags.firstIndex(of: resumeHeader)
    }

    /// `<prefix:stream xmlns:prefix='…' xmlns='…' …>` from the header's declarations.
    /// The result is shared with every other stream that opened the same way (the
    /// common c2s, s2s and component headers): a resumable stream then holds no copy.
    static func openingTag(of header: XMLStreamHeader) -> [UInt8] {
        let tag = buildOpeningTag(of: header)
        return commonOpeningTags.first(where: { $0 == tag }) ?? tag
    }

    /// The opening tags of most streams, built once per process.
    static let commonOpeningTags: [[UInt8]] = ["jabber:client", "jabber:server", "jabber:component:accept"].map {
        Array("<stream:stream xmlns='\($0)' xmlns:stream='\(XMPPNamespace.stream)'>".utf8)
    }

    static func buildOpeningTag(of header: XMLStreamHeader) -> [UInt8] {
        var out: [UInt8] = []
        let name = header.prefix.map { "\($0):\(header.name)" } ?? header.name
        XMLEscaping.appendRaw("<" + name, to: &out)
        for (prefix, uri) in header.namespaces.sorted(by: { $0.key < $1.key }) {
            XMLEscaping.appendRaw(prefix.isEmpty ? " xmlns='" : " xmlns:\(prefix)='", to: &out)
            XMLEscaping.appendAttribute(uri, to: &out)
            XMLEscaping.appendRaw("'", to: &out)
        }
        XMLEscaping.appendRaw(">", to: &out)
        return out
    }

    // MARK: - internals

    var currentLimit: Int { headerDone ? stanzaLimit : XMLStreamParser.maxHeaderSize }

    func recreate() {
        if let p = parser { XML_ParserFree(p) }
        parser = nil
        resetPendingAt = nil
        failure = nil
        consumed = 0
        mark = 0
        stanzaStart = 0
        lastEventEnd = 0
        headerDone = false
        depth = 0
        stack.removeAll(keepingCapacity: true)
        pendingText.removeAll(keepingCapacity: true)
        pendingNamespaces.removeAll(keepingCapacity: true)
        resumeHeader = []
        makeParser()
    }

    /// Records the error and stops expat at once (no further callbacks do anything).
    func fail(_ e: XMLStreamError) {
        guard failure == nil else { return }
        failure = e
        if let p = parser { XML_StopParser(p, XML_FALSE) }
    }

    /// Callbacks are ignored once failed or once a reset is pending (expat may still
    /// deliver a few after XML_StopParser).
    var ignoringCallbacks: Bool { failure != nil || resetPendingAt != nil }

    func emit(_ event: XMLStreamEvent, endingAt end: Int) {
        lastEventEnd = end
        sink?(event)
    }

    /// Absolute offset just past the event expat is reporting.
    var currentEventEnd: Int {
        guard let p = parser else { return consumed }
        return Int(XML_GetCurrentByteIndex(p)) + Int(XML_GetCurrentByteCount(p))
    }

    var currentEventStart: Int {
        guard let p = parser else { return consumed }
        return Int(XML_GetCurrentByteIndex(p))
    }

    func translateExpatError() -> XMLStreamError {
        guard let p = parser else { return .notWellFormed("no parser") }
        let code = XML_GetErrorCode(p)
        let message = XML_ErrorString(code).map { String(cString: $0) } ?? "error \(code.rawValue)"
        let detail = "\(message) at byte \(XML_GetCurrentByteIndex(p)) (line \(XML_GetCurrentLineNumber(p)), column \(XML_GetCurrentColumnNumber(p)))"
        switch code {
        case XML_ERROR_UNDEFINED_ENTITY, XML_ERROR_RECURSIVE_ENTITY_REF, XML_ERROR_BINARY_ENTITY_REF,
             XML_ERROR_ATTRIBUTE_EXTERNAL_ENTITY_REF, XML_ERROR_EXTERNAL_ENTITY_HANDLING,
             XML_ERROR_ENTITY_DECLARED_IN_PE, XML_ERROR_NOT_STANDALONE:
            // Only the five predefined entities and character references are allowed.
            return .restrictedXML(detail)
        default:
            return .notWellFormed(detail)
        }
    }
}
