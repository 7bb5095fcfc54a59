import NIOCore
import NIOPosix
import XMPPCore

/// A stanza as bytes, exactly as a client of this server receives it: UTF-8 XML
/// written with `jabber:client` as the default namespace in scope (so a stanza in
/// that namespace carries no `xmlns`, as on a client stream).
///
/// A stanza routed in from another worker arrives like this (MeshRouteFrame) and is
/// written to its client as is: parsing it back into an `XMLElement` (expat plus
/// building the tree, then serialising it again) is only paid when something needs
/// the element — a receive hook, stream management's unacked queue, a closure
/// endpoint — via `element()`.
public struct SerializedStanza: Sendable {
    public let bytes: ByteBuffer

    public init(bytes: ByteBuffer) { self.bytes = bytes }

    /// The stanza parsed back, as the element the bytes were written from; nil if
    /// the bytes are not one well-formed element (never the case for frames this
    /// server wrote).
    public func element() -> XMLElement? {
        let parser: StanzaBytesParser
        if let cached = StanzaBytesParser.perThread.currentValue {
            parser = cached
        } else {
            parser = StanzaBytesParser()
            StanzaBytesParser.perThread.currentValue = parser
        }
        return parser.parse(bytes)
    }
}

/// Parses single stanzas given as bytes (SerializedStanza) with one long-lived
/// expat parser per thread, positioned inside a `jabber:client` stream: creating an
/// expat parser and feeding a header for every stanza would cost more than the
/// stanza itself. Not thread-safe: one per thread.
final class StanzaBytesParser {
    static let perThread = ThreadSpecificVariable<StanzaBytesParser>()
    private static let header = Array(("<stream:stream xmlns='\(XMPPNamespace.client)' "
                                       + "xmlns:stream='\(XMPPNamespace.stream)'>").utf8)
    private var parser = StanzaBytesParser.opened()

    private static func opened() -> XMLStreamParser {
        let parser = XMLStreamParser(maxStanzaSize: nil)
        try? parser.feed(header) { _ in }
        return parser
    }

    func parse(_ bytes: ByteBuffer) -> XMLElement? {
        var result: XMLElement?
        var elements = 0
        do {
            try bytes.withUnsafeReadableBytes { raw in
                try parser.feed(raw) { event in
                    if case .element(let element) = event { result = element; elements += 1 }
                }
            }
        } catch {
            result = nil
        }
        // Anything but exactly one complete element leaves the parser mid-document:
        // start a fresh one so the next stanza is not read as part of this one.
        if result == nil || elements != 1 || !parser.atElementBoundary {
            parser = Self.opened()
            return elements == 1 ? result : nil
        }
        return result
    }
}
