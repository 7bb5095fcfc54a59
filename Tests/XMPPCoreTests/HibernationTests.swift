import XCTest
@testable import XMPPCore

/// `hibernate()` frees expat between stanzas; the next feed resumes in the stream's
/// namespace context, with limits and offsets intact.
final class HibernationTests: XCTestCase {
    private let header = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>"

    private func events(_ parser: XMLStreamParser, _ text: String) throws -> [XMLStreamEvent] {
        var out: [XMLStreamEvent] = []
        try parser.feed(Array(text.utf8)) { out.append($0) }
        return out
    }

    func testResumesInTheStreamNamespaceWithoutReportingTheHeaderAgain() throws {
        let parser = XMLStreamParser(maxStanzaSize: 1000)
        XCTAssertEqual(try events(parser, header).count, 1)
        XCTAssertTrue(parser.hibernate())
        XCTAssertTrue(parser.isHibernating)
        let after = try events(parser, "<message to='a@localhost'><body>hi</body></message>")
        guard case .element(let message)? = after.first, after.count == 1 else { return XCTFail("\(after)") }
        XCTAssertEqual(message.namespace, "jabber:client")
        XCTAssertEqual(message.child("body")?.text, "hi")
        // Again and again, and the stream close still parses.
        for i in 0..<3 {
            XCTAssertTrue(parser.hibernate())
            XCTAssertEqual(try events(parser, "<iq id='\(i)' type='get'/>").count, 1)
        }
        XCTAssertTrue(parser.hibernate())
        XCTAssertEqual(try events(parser, "</stream:stream>"), [.streamClosed])
    }

    /// The common opening tag is the shared process-wide copy, byte for byte what
    /// would have been built, and other headers still get their own.
    func testCommonOpeningTagIsSharedAndIdentical() throws {
        let common = XMLStreamHeader(defaultNamespace: "jabber:client", attributes: ["to": "localhost"],
                                     namespaces: ["": "jabber:client", "stream": XMPPNamespace.stream])
        XCTAssertEqual(XMLStreamParser.openingTag(of: common), XMLStreamParser.buildOpeningTag(of: common))
        XCTAssertTrue(XMLStreamParser.commonOpeningTags.contains(XMLStreamParser.openingTag(of: common)))
        let other = XMLStreamHeader(prefix: "s", defaultNamespace: "jabber:client", attributes: [:],
                                    namespaces: ["": "jabber:client", "s": XMPPNamespace.stream])
        XCTAssertEqual(String(decoding: XMLStreamParser.openingTag(of: other), as: UTF8.self),
                       "<s:stream xmlns='jabber:client' xmlns:s='http://etherx.jabber.org/streams'>")
        // A stream opened with another prefix still resumes after hibernation.
        let parser = XMLStreamParser(maxStanzaSize: 1000)
        _ = try events(parser, "<s:stream xmlns='jabber:client' xmlns:s='http://etherx.jabber.org/streams' to='localhost' version='1.0'>")
        XCTAssertTrue(parser.hibernate())
        let after = try events(parser, "<presence xmlns:x='urn:example:unusual'><x:y/></presence>")
        guard case .element(let presence)? = after.first else { return XCTFail("\(after)") }
        XCTAssertEqual(presence.namespace, "jabber:client")
        XCTAssertEqual(presence.elements.first?.namespace, "urn:example:unusual")
        XCTAssertEqual(try events(parser, "</s:stream>"), [.streamClosed])
    }

    func testDoesNotHibernateInsideAStanza() throws {
        let parser = XMLStreamParser(maxStanzaSize: 1000)
        _ = try events(parser, header + "<message><body>par")
        XCTAssertFalse(parser.hibernate())
        let rest = try events(parser, "tial</body></message>")
        XCTAssertEqual(rest.count, 1)
        XCTAssertTrue(parser.hibernate())
    }

    func testLimitsStillApplyAfterWaking() throws {
        let parser = XMLStreamParser(maxStanzaSize: 100)
        _ = try events(parser, header)
        XCTAssertTrue(parser.hibernate())
        XCTAssertThrowsError(try events(parser, "<message><body>" + String(repeating: "x", count: 500))) { error in
            XCTAssertEqual((error as? XMLStreamError)?.condition, "policy-violation")
        }
    }

    func testResetAfterHibernationStartsANewStream() throws {
        let parser = XMLStreamParser()
        _ = try events(parser, header)
        XCTAssertTrue(parser.hibernate())
        parser.reset()
        guard case .streamOpened? = try events(parser, header).first else { return XCTFail("no new header") }
    }
}
