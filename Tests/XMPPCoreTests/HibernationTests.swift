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

    /// Streams with the common header hand their expat parser on through the pool:
    /// two streams that hibernate and wake in turn each see only their own stanzas,
    /// in their own namespace context, with limits and restricted XML still enforced.
    func testPooledParsersPassBetweenStreamsCleanly() throws {
        let a = XMLStreamParser(maxStanzaSize: 200)
        let b = XMLStreamParser(maxStanzaSize: 200)
        XCTAssertEqual(try events(a, header).count, 1)
        XCTAssertEqual(try events(b, header).count, 1)
        for i in 0..<5 {
            XCTAssertTrue(a.hibernate())
            XCTAssertTrue(b.hibernate())
            let fromB = try events(b, "<message id='b\(i)'><body>to b</body></message>")
            let fromA = try events(a, "<iq id='a\(i)' type='get'><query xmlns='jabber:iq:version'/></iq>")
            guard case .element(let m)? = fromB.first, fromB.count == 1,
                  case .element(let iq)? = fromA.first, fromA.count == 1 else { return XCTFail("\(fromA) \(fromB)") }
            XCTAssertEqual(m[attribute: "id"], "b\(i)")
            XCTAssertEqual(m.namespace, "jabber:client")
            XCTAssertEqual(iq[attribute: "id"], "a\(i)")
            XCTAssertEqual(iq.elements.first?.namespace, "jabber:iq:version")
        }
        XCTAssertTrue(a.hibernate())
        XCTAssertThrowsError(try events(a, "<message><body>" + String(repeating: "x", count: 500))) { error in
            XCTAssertEqual((error as? XMLStreamError)?.condition, "policy-violation")
        }
        XCTAssertTrue(b.hibernate())
        XCTAssertThrowsError(try events(b, "<!-- no -->")) { error in
            XCTAssertEqual((error as? XMLStreamError)?.condition, "restricted-xml")
        }
        // A third stream gets a pooled parser or a new one: either way it works.
        let c = XMLStreamParser(maxStanzaSize: 200)
        XCTAssertEqual(try events(c, header).count, 1)
        XCTAssertTrue(c.hibernate())
        XCTAssertEqual(try events(c, "<presence/>").count, 1)
        XCTAssertTrue(c.hibernate())
        XCTAssertEqual(try events(c, "</stream:stream>"), [.streamClosed])
    }
}
