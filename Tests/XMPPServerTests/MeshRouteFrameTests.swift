import NIOCore
import XCTest
import XMPPCore
@testable import XMPPServer

/// Binary route frames: what the sender writes is split out of the mesh's XML stream
/// however reads cut it, carries the stanza's bytes as its client receives them, and
/// parses back into the same element when something needs it.
final class MeshRouteFrameTests: XCTestCase {
    private let jid = JID("b@localhost/r")!

    private func message(_ body: String) -> XMLElement {
        var m = XMLElement(name: "message", namespace: XMPPNamespace.client,
                           attributes: ["from": "a@localhost/r", "to": "b@localhost/r", "type": "chat"])
        var b = XMLElement(name: "body", namespace: XMPPNamespace.client)
        b.append(text: body)
        m.append(b)
        m.append(XMLElement(name: "active", namespace: "http://jabber.org/protocol/chatstates"))
        return m
    }

    /// XML frames and binary frames interleaved, fed in chunks of every size.
    func testSplitterSeparatesFramesAcrossAnyReadBoundary() throws {
        let prefix = MeshRouteFrame.prefix(to: jid)
        var stream: [UInt8] = Array(MeshFrame.header(pid: 7).utf8)
        stream += MeshRouteFrame.bytes(message("one & <two>"), prefix: prefix)
        stream += Array("<unbound jid='c@localhost/x'/>".utf8)
        stream += MeshRouteFrame.bytes(message("three"), prefix: prefix)
        stream += MeshRouteFrame.bytes(SerializedStanza(bytes: ByteBuffer(string: "<presence/>")), prefix: prefix, hop: true)
        for chunk in [1, 2, 3, 7, 64, stream.count] {
            var splitter = MeshInputSplitter()
            var xml: [UInt8] = []
            var routes: [MeshRouteFrame.Route] = []
            var offset = 0
            while offset < stream.count {
                let end = min(stream.count, offset + chunk)
                try splitter.split(ByteBuffer(bytes: stream[offset..<end]),
                                   xml: { xml += $0 },
                                   frame: { routes.append(try XCTUnwrap(MeshRouteFrame.decode($0))) })
                offset = end
            }
            XCTAssertEqual(String(decoding: xml, as: UTF8.self),
                           MeshFrame.header(pid: 7) + "<unbound jid='c@localhost/x'/>", "chunk \(chunk)")
            XCTAssertEqual(routes.map(\.to), Array(repeating: "b@localhost/r", count: 3))
            XCTAssertEqual(routes.map(\.hop), [false, false, true])
            XCTAssertEqual(routes[0].stanza.element(), message("one & <two>"))
            XCTAssertEqual(routes[1].stanza.element(), message("three"))
            XCTAssertEqual(routes[2].stanza.element(), XMLElement(name: "presence", namespace: XMPPNamespace.client))
        }
    }

    /// The bytes are what a client stream gets: no xmlns for jabber:client, other
    /// namespaces declared.
    func testStanzaBytesAreWhatTheClientReceives() throws {
        let frame = MeshRouteFrame.bytes(message("hi"), prefix: MeshRouteFrame.prefix(to: jid))
        let route = try XCTUnwrap(MeshRouteFrame.decode(ByteBuffer(bytes: frame[MeshRouteFrame.envelopeSize...])))
        var expected: [UInt8] = []
        message("hi").serialize(into: &expected, parentNamespace: XMPPNamespace.client)
        XCTAssertEqual(Array(route.stanza.bytes.readableBytesView), expected)
        XCTAssertFalse(String(decoding: expected, as: UTF8.self).contains("jabber:client"))
    }

    /// A bad stanza does not leave the per-thread parser broken for the next one.
    func testParserRecoversFromBytesThatAreNotOneElement() {
        XCTAssertNil(SerializedStanza(bytes: ByteBuffer(string: "<message><body>")).element())
        XCTAssertNil(SerializedStanza(bytes: ByteBuffer(string: "<a/><b/>")).element())
        XCTAssertNil(SerializedStanza(bytes: ByteBuffer(string: "</stream:stream>")).element())
        XCTAssertEqual(SerializedStanza(bytes: ByteBuffer(string: "<iq type='get' id='1'/>")).element(),
                       XMLElement(name: "iq", namespace: XMPPNamespace.client, attributes: ["type": "get", "id": "1"]))
    }

    func testOversizedFrameIsAnError() {
        var splitter = MeshInputSplitter()
        let bytes: [UInt8] = [MeshRouteFrame.marker, 0xff, 0xff, 0xff, 0xff, 0x72]
        XCTAssertThrowsError(try splitter.split(ByteBuffer(bytes: bytes), xml: { _ in }, frame: { _ in }))
    }
}
