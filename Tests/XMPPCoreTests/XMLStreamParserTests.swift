import XCTest
@testable import XMPPCore

final class XMLStreamParserTests: XCTestCase {
    let session = clientHeader + """
    <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>
    <auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGp1bGlldAByMG0zMG15cjBtMzA=</auth>
    <iq type='set' id='bind_1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>balcony</resource></bind></iq>
    <presence/>
    <message to='romeo@example.net' type='chat' xml:lang='en'><body>Wherefore art thou, Romeo? &amp; &lt;3 &#x263A;</body></message>
    <iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>
    </stream:stream>
    """

    func testWholeSession() throws {
        let (events, error) = parse(session)
        XCTAssertNil(error)
        XCTAssertEqual(events.count, 8)
        guard case .streamOpened(let h) = events.first else { return XCTFail("no header") }
        XCTAssertEqual(h.name, "stream")
        XCTAssertEqual(h.namespace, XMPPNamespace.stream)
        XCTAssertEqual(h.prefix, "stream")
        XCTAssertEqual(h.defaultNamespace, XMPPNamespace.client)
        XCTAssertEqual(h.attributes["to"], "example.com")
        XCTAssertEqual(h.attributes["version"], "1.0")
        XCTAssertEqual(h.attributes["xml:lang"], "en")
        XCTAssertEqual(h.namespaces["stream"], XMPPNamespace.stream)

        guard case .element(let starttls) = events[1] else { return XCTFail() }
        XCTAssertEqual(starttls.name, "starttls")
        XCTAssertEqual(starttls.namespace, XMPPNamespace.tls)

        guard case .element(let auth) = events[2] else { return XCTFail() }
        XCTAssertEqual(auth[attribute: "mechanism"], "PLAIN")
        XCTAssertEqual(auth.text, "AGp1bGlldAByMG0zMG15cjBtMzA=")

        guard case .element(let iq) = events[3] else { return XCTFail() }
        XCTAssertEqual(iq.namespace, XMPPNamespace.client)
        XCTAssertEqual(iq.child("bind", namespace: XMPPNamespace.bind)?.child("resource")?.text, "balcony")
        XCTAssertEqual(iq.child("bind")?.child("resource")?.namespace, XMPPNamespace.bind)

        guard case .element(let message) = events[5] else { return XCTFail() }
        XCTAssertEqual(message[attribute: "xml:lang"], "en")
        XCTAssertEqual(message.child("body")?.text, "Wherefore art thou, Romeo? & <3 \u{263A}")

        guard case .element(let rosterIQ) = events[6] else { return XCTFail() }
        XCTAssertEqual(rosterIQ.child("query")?.namespace, "jabber:iq:roster")
        XCTAssertEqual(events.last, .streamClosed)
    }

    func testOneByteAtATimeGivesSameEvents() {
        let whole = parse(session)
        let bytewise = parse(session, chunk: 1)
        XCTAssertNil(bytewise.error)
        XCTAssertEqual(whole.events, bytewise.events)
        // Text split by expat into many callbacks is still one text node.
        guard case .element(let auth) = bytewise.events[2] else { return XCTFail() }
        XCTAssertEqual(auth.children.count, 1)
    }

    func testSplitAtEveryOffset() {
        let input = clientHeader + "<message to='a@b'><body>hi &amp; bye</body></message> <presence/></stream:stream>"
        let bytes = Array(input.utf8)
        let reference = parse(input)
        XCTAssertNil(reference.error)
        XCTAssertEqual(reference.events.count, 4)
        for split in 0...bytes.count {
            let p = XMLStreamParser()
            var events: [XMLStreamEvent] = []
            XCTAssertNoThrow(try p.feed(Array(bytes[..<split])) { events.append($0) })
            XCTAssertNoThrow(try p.feed(Array(bytes[split...])) { events.append($0) })
            XCTAssertEqual(events, reference.events, "split at \(split)")
        }
    }

    func testWhitespaceKeepalivesIgnored() {
        let input = clientHeader + " \n\t\r\n <presence/>   \n  <presence/> "
        let (events, error) = parse(input, chunk: 3)
        XCTAssertNil(error)
        XCTAssertEqual(events.count, 3)
    }

    func testKeepalivesDoNotCountTowardStanza() {
        // 200 bytes of keepalives then a 60-byte stanza under a 100-byte limit.
        let p = XMLStreamParser(maxStanzaSize: 100)
        let input = clientHeader + String(repeating: " ", count: 200) + "<message to='x@y'><body>0123456789</body></message>"
        let (events, error) = parse(input, chunk: 7, parser: p)
        XCTAssertNil(error)
        XCTAssertEqual(events.count, 2)
    }

    func testTextAtStreamLevelIsBadFormat() {
        let (_, error) = parse(clientHeader + "hello")
        XCTAssertEqual(error?.condition, "bad-format")
    }

    func testResetStartsNewStream() throws {
        let p = XMLStreamParser()
        var events: [XMLStreamEvent] = []
        try p.feed(Array((clientHeader + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>").utf8)) { events.append($0) }
        XCTAssertEqual(events.count, 2)
        p.reset()
        // A second header, with an XML declaration again, is fine on the new parser.
        try p.feed(Array((clientHeader + "<presence/>").utf8)) { events.append($0) }
        XCTAssertEqual(events.count, 4)
        guard case .streamOpened(let h) = events[2] else { return XCTFail() }
        XCTAssertEqual(h.attributes["to"], "example.com")
    }

    func testResetFromInsideHandlerContinuesWithRemainingBytes() throws {
        let p = XMLStreamParser()
        var events: [XMLStreamEvent] = []
        let input = clientHeader + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>" + clientHeader + "<presence/>"
        try p.feed(Array(input.utf8)) { e in
            events.append(e)
            if case .element(let el) = e, el.name == "auth" { p.reset() }
        }
        XCTAssertEqual(events.count, 4)
        guard case .streamOpened = events[2], case .element(let pres) = events[3] else { return XCTFail("\(events)") }
        XCTAssertEqual(pres.name, "presence")
    }

    func testResetClearsFailure() throws {
        let p = XMLStreamParser()
        XCTAssertThrowsError(try p.feed(Array("<a></b>".utf8)) { _ in })
        p.reset()
        var events: [XMLStreamEvent] = []
        try p.feed(Array(clientHeader.utf8)) { events.append($0) }
        XCTAssertEqual(events.count, 1)
    }

    func testWrongRootNamespace() {
        let (_, e1) = parse("<stream:stream xmlns='jabber:client' xmlns:stream='urn:wrong'>")
        XCTAssertEqual(e1?.condition, "invalid-namespace")
        let (_, e2) = parse("<html xmlns='http://www.w3.org/1999/xhtml'>")
        XCTAssertEqual(e2?.condition, "invalid-namespace")
    }

    func testEventsBeforeErrorAreDelivered() {
        let (events, error) = parse(clientHeader + "<presence/><a></b>")
        XCTAssertEqual(events.count, 2)
        XCTAssertEqual(error?.condition, "not-well-formed")
    }

    func testStaysFailed() {
        let p = XMLStreamParser()
        var first: XMLStreamError?
        do { try p.feed(Array((clientHeader + "<a></b>").utf8)) { _ in } } catch { first = error as? XMLStreamError }
        XCTAssertNotNil(first)
        var count = 0
        XCTAssertThrowsError(try p.feed(Array("<presence/>".utf8)) { _ in count += 1 }) { e in
            XCTAssertEqual(e as? XMLStreamError, first)
        }
        XCTAssertEqual(count, 0)
    }

    func testSecondRootIsRefused() {
        let (events, error) = parse(clientHeader + "</stream:stream>" + clientHeader)
        XCTAssertEqual(events.last, .streamClosed)
        XCTAssertNotNil(error)
    }

    func testPrefixedAttributeNamespaceSurvivesRoundTrip() throws {
        let (events, error) = parse(clientHeader + "<message xmlns:x='urn:x' x:a='1'><body>b</body></message>")
        XCTAssertNil(error)
        guard case .element(let m) = events[1] else { return XCTFail() }
        XCTAssertEqual(m[attribute: "x:a"], "1")
        let again = parse(clientHeader + m.serialized(parentNamespace: XMPPNamespace.client))
        XCTAssertNil(again.error)
        XCTAssertEqual(again.events[1], .element(m))
    }
}

final class XMLStreamWritingTests: XCTestCase {
    func testOpeningTagParsesBack() {
        let h = XMLStreamHeader(defaultNamespace: XMPPNamespace.client,
                                attributes: ["from": "example.com", "id": "abc'\"", "version": "1.0", "xml:lang": "en"])
        let tag = h.openingTag()
        XCTAssertEqual(tag, "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='example.com' id='abc&apos;&quot;' version='1.0' xml:lang='en'>")
        let (events, error) = parse(tag + XMLStreamHeader.closingTag)
        XCTAssertNil(error)
        guard case .streamOpened(let back) = events.first else { return XCTFail() }
        XCTAssertEqual(back.attributes, h.attributes)
        XCTAssertEqual(back.defaultNamespace, XMPPNamespace.client)
    }

    func testStreamErrorElement() {
        let e = XMLStreamError.policyViolation("too big").streamErrorElement(includeText: true)
        XCTAssertEqual(e.serialized(parentNamespace: XMPPNamespace.client),
                       "<stream:error xmlns:stream='http://etherx.jabber.org/streams'><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>too big</text></stream:error>")
        XCTAssertEqual(XMLStreamError.restrictedXML("").condition, "restricted-xml")
        XCTAssertEqual(XMLStreamError.invalidNamespace("").condition, "invalid-namespace")
        XCTAssertEqual(XMLStreamError.badFormat("").condition, "bad-format")
        XCTAssertEqual(XMLStreamError.notWellFormed("").condition, "not-well-formed")
    }
}
