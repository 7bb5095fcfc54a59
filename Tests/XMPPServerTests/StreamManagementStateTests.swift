import XCTest
import XMPPCore
import XMPPModuleAPI
@testable import XMPPServer

/// XEP-0198 counting: acks free the buffer, numbers wrap at 2^32, an ack past what
/// was sent is refused, and a resumed session continues from the client's h.
final class StreamManagementStateTests: XCTestCase {
    private func message(_ body: String) -> XMLElement {
        var m = XMLElement(name: "message", namespace: XMPPNamespace.client)
        m.append(text: body)
        return m
    }

    private func bodies(_ state: StreamManagementState) -> [String] { state.unacked.map(\.text) }

    func testAcksFreeTheBufferOldAcksAreIgnoredAndTooHighIsAnError() throws {
        let state = StreamManagementState(settings: StreamManagementSettings(), resumptionID: "x")
        for body in ["a", "b", "c"] { _ = state.sent(message(body)) }
        try state.acked(1)
        XCTAssertEqual(bodies(state), ["b", "c"])
        try state.acked(1)                    // repeated
        try state.acked(0)                    // older than what was acked
        XCTAssertEqual(bodies(state), ["b", "c"])
        XCTAssertThrowsError(try state.acked(4))
        try state.acked(3)
        XCTAssertEqual(bodies(state), [])
    }

    func testCountersWrapAtTwoToThe32() throws {
        let state = StreamManagementState(settings: StreamManagementSettings(), resumptionID: nil)
        state.restart(outboundAt: UInt32.max - 1, inbound: UInt32.max)
        for body in ["a", "b", "c"] { _ = state.sent(message(body)) }   // numbers max, 0, 1
        try state.acked(0)
        XCTAssertEqual(bodies(state), ["c"])
        try state.acked(1)
        XCTAssertEqual(bodies(state), [])
        state.handledInbound &+= 1
        XCTAssertEqual(state.handledInbound, 0)
    }

    func testAckRequestsFollowAckFreqAndTheBufferLimit() {
        let state = StreamManagementState(settings: StreamManagementSettings(bufferMax: 2, ackFrequency: 2),
                                          resumptionID: nil)
        XCTAssertFalse(state.sent(message("a")))
        XCTAssertTrue(state.sent(message("b")))
        XCTAssertFalse(state.bufferOverflowed)
        _ = state.sent(message("c"))
        XCTAssertTrue(state.bufferOverflowed)
        let unbounded = StreamManagementState(settings: StreamManagementSettings(buffer: true, bufferMax: nil, ack: false),
                                              resumptionID: nil)
        for i in 0..<500 { XCTAssertFalse(unbounded.sent(message("\(i)"))) }
        XCTAssertFalse(unbounded.bufferOverflowed)
    }

    func testHandoverSurvivesTheMeshFrame() throws {
        var presence = XMLElement(name: "presence", namespace: XMPPNamespace.client, attributes: ["from": "a@x/r"])
        presence.append(XMLElement(name: "priority", namespace: XMPPNamespace.client, children: [.text("5")]))
        var handover = SessionHandover(resumptionID: "id1", jid: JID("a@x/r")!,
                                       presence: PresenceState(available: true, priority: 5, stanza: presence),
                                       handledInbound: 7, clientHandled: UInt32.max, unacked: [message("m1"), message("m2")])
        handover.moduleState = [XMLElement(name: "enabled", namespace: "urn:xmpp:carbons:2")]
        let decoded = try XCTUnwrap(SessionHandover(frame: handover.frame(request: "9")))
        XCTAssertEqual(decoded.resumptionID, "id1")
        XCTAssertEqual(decoded.jid, JID("a@x/r")!)
        XCTAssertEqual(decoded.handledInbound, 7)
        XCTAssertEqual(decoded.clientHandled, UInt32.max)
        XCTAssertTrue(decoded.presence.available)
        XCTAssertEqual(decoded.presence.priority, 5)
        XCTAssertEqual(decoded.presence.stanza?.child("priority")?.text, "5")
        XCTAssertEqual(decoded.unacked.map(\.text), ["m1", "m2"])
        XCTAssertEqual(decoded.moduleState.first?.namespace, "urn:xmpp:carbons:2")
    }
}
