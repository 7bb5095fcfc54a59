import XCTest
@testable import XMPPCore

final class XMLElementTests: XCTestCase {
    func testEscaping() {
        XCTAssertEqual(XMLEscaping.escapeText("a&b<c>d\"e'f"), "a&amp;b&lt;c&gt;d\"e'f")
        XCTAssertEqual(XMLEscaping.escapeAttribute("a&b<c>d\"e'f"), "a&amp;b&lt;c&gt;d&quot;e&apos;f")
        XCTAssertEqual(XMLEscaping.escapeText("héllo ☺"), "héllo ☺")
        let e = XMLElement(name: "body", attributes: ["a": "'\"&<>"], children: [.text("]]> & <x>")])
        XCTAssertEqual(e.serialized(), "<body a='&apos;&quot;&amp;&lt;&gt;'>]]&gt; &amp; &lt;x&gt;</body>")
    }

    func testWhitespaceInAttributesAndCRInTextSurviveRoundTrip() {
        let e = XMLElement(name: "message", attributes: ["a": "x\ty\nz\r"], children: [.text("l1\r\nl2\n")])
        let out = e.serialized(parentNamespace: XMPPNamespace.client)
        XCTAssertEqual(out, "<message a='x&#9;y&#10;z&#13;'>l1&#13;\nl2\n</message>")
        let (events, error) = parse(clientHeader + out)
        XCTAssertNil(error)
        guard case .element(let back) = events[1] else { return XCTFail() }
        XCTAssertEqual(back[attribute: "a"], "x\ty\nz\r")
        XCTAssertEqual(back.text, "l1\r\nl2\n")
    }

    func testNamespaceEmittedOnlyWhenDifferent() {
        var iq = XMLElement(name: "iq", namespace: XMPPNamespace.client, attributes: ["type": "get", "id": "1"])
        iq.append(XMLElement(name: "query", namespace: "jabber:iq:roster"))
        XCTAssertEqual(iq.serialized(parentNamespace: XMPPNamespace.client), "<iq id='1' type='get'><query xmlns='jabber:iq:roster'/></iq>")
        XCTAssertEqual(iq.serialized(), "<iq xmlns='jabber:client' id='1' type='get'><query xmlns='jabber:iq:roster'/></iq>")
        // nil namespace inherits.
        let msg = XMLElement(name: "message") { XMLElement(name: "body", text: "hi") }
        XCTAssertEqual(msg.serialized(parentNamespace: XMPPNamespace.client), "<message><body>hi</body></message>")
    }

    func testStreamNamespaceUsesPrefix() {
        let features = XMLElement(name: "features", namespace: XMPPNamespace.stream) {
            XMLElement(name: "starttls", namespace: XMPPNamespace.tls) { XMLElement(name: "required") }
        }
        XCTAssertEqual(features.serialized(parentNamespace: XMPPNamespace.client),
                       "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>")
        // And it parses back to the same element.
        let (events, error) = parse(clientHeader + features.serialized(parentNamespace: XMPPNamespace.client))
        XCTAssertNil(error)
        guard case .element(let back) = events[1] else { return XCTFail() }
        XCTAssertEqual(back.name, "features")
        XCTAssertEqual(back.namespace, XMPPNamespace.stream)
        XCTAssertEqual(back.child("starttls")?.child("required")?.namespace, XMPPNamespace.tls)
    }

    func testRoundTripNestedNamespaces() throws {
        let stanzas = [
            "<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>",
            "<message to='romeo@example.net' xml:lang='en' type='chat'><body>a &amp; b &lt; c</body><active xmlns='http://jabber.org/protocol/chatstates'/><x xmlns='jabber:x:data' type='form'><field var='a'><value>1</value></field></x></message>",
            "<iq type='error' id='e'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>gone &apos;</text></error></iq>",
        ]
        for s in stanzas {
            let (events, error) = parse(clientHeader + s)
            XCTAssertNil(error)
            guard case .element(let e) = events[1] else { return XCTFail() }
            let out = e.serialized(parentNamespace: XMPPNamespace.client)
            let (again, error2) = parse(clientHeader + out)
            XCTAssertNil(error2)
            XCTAssertEqual(again[1], .element(e), out)
            // Byte-fast path agrees with the String one.
            var buf: [UInt8] = []
            e.serialize(into: &buf, parentNamespace: XMPPNamespace.client)
            XCTAssertEqual(String(decoding: buf, as: UTF8.self), out)
        }
        let (events, _) = parse(clientHeader + stanzas[0])
        guard case .element(let iq) = events[1] else { return XCTFail() }
        XCTAssertEqual(iq.serialized(parentNamespace: XMPPNamespace.client), stanzas[0])
    }

    func testAccessors() {
        var e = XMLElement(name: "message", namespace: XMPPNamespace.client, attributes: ["to": "a@b"])
        XCTAssertEqual(e[attribute: "to"], "a@b")
        e[attribute: "from"] = "c@d"
        e[attribute: "to"] = "x@y"
        XCTAssertEqual(e.attributes.map(\.name), ["to", "from"])
        e[attribute: "to"] = nil
        XCTAssertNil(e[attribute: "to"])
        e.append(text: "a")
        e.append(text: "b")
        e.append(XMLElement(name: "body", namespace: XMPPNamespace.client, text: "hi"))
        e.append(text: "c")
        XCTAssertEqual(e.text, "abc")
        XCTAssertEqual(e.elements.count, 1)
        XCTAssertNotNil(e.child("body"))
        XCTAssertNotNil(e.child("body", namespace: XMPPNamespace.client))
        XCTAssertNil(e.child("body", namespace: "urn:other"))
        XCTAssertEqual(e.setting("id", to: "1")[attribute: "id"], "1")
    }

    func testEqualityIgnoresAttributeOrder() {
        let a = XMLElement(name: "x", namespace: nil, orderedAttributes: [(name: "a", value: "1"), (name: "b", value: "2")])
        let b = XMLElement(name: "x", namespace: nil, orderedAttributes: [(name: "b", value: "2"), (name: "a", value: "1")])
        let c = XMLElement(name: "x", namespace: nil, orderedAttributes: [(name: "b", value: "2"), (name: "a", value: "3")])
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
    }

    func testBuilderConditionalsAndLoops() {
        let items = ["a", "b"]
        let flag = false
        let q = XMLElement(name: "query", namespace: "jabber:iq:roster") {
            for i in items { XMLElement(name: "item", attributes: ["jid": i]) }
            if flag { XMLElement(name: "never") }
        }
        XCTAssertEqual(q.serialized(), "<query xmlns='jabber:iq:roster'><item jid='a'/><item jid='b'/></query>")
    }
}
