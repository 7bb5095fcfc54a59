import NIOCore
import XMPPCore
import XMPPModuleAPI

/// One session's XEP-0198 counters and its buffer of stanzas the client has not
/// acked yet. Lives as long as the session, across suspension and resumption;
/// touched only on the event loop of the connection that holds it.
final class StreamManagementState {
    static let namespace = "urn:xmpp:sm:3"

    let settings: StreamManagementSettings
    /// The resumption id (`<enabled id=…/>`); nil when resumption was not asked for.
    let resumptionID: String?
    /// Stanzas received from the client: the `h` we report (mod 2^32).
    var handledInbound: UInt32 = 0
    /// Stanzas sent to the client, counted the same way.
    private(set) var sentOutbound: UInt32 = 0
    /// Sent but not yet acked, oldest first: the last one has number `sentOutbound`.
    private(set) var unacked: CircularBuffer<XMLElement> = CircularBuffer(initialCapacity: 4)
    private var sentSinceRequest = 0

    init(settings: StreamManagementSettings, resumptionID: String?) {
        self.settings = settings
        self.resumptionID = resumptionID
    }

    /// A stanza went to the client (or into the buffer while suspended). Returns
    /// true when an ack request is due.
    func sent(_ stanza: XMLElement) -> Bool {
        sentOutbound &+= 1
        if settings.buffer { unacked.append(stanza) }
        guard settings.ack else { return false }
        sentSinceRequest += 1
        if sentSinceRequest >= settings.ackFrequency {
            sentSinceRequest = 0
            return true
        }
        return false
    }

    var bufferOverflowed: Bool {
        guard let max = settings.bufferMax else { return false }
        return unacked.count > max
    }

    enum AckError: Error { case tooHigh(sent: UInt32) }

    /// The client handled `h` stanzas: they leave the buffer.
    func acked(_ h: UInt32) throws {
        let firstUnacked = sentOutbound &- UInt32(unacked.count)   // number of the oldest, minus one
        let newlyAcked = h &- firstUnacked
        // Wrapping arithmetic: an h "behind" the buffer is an old ack (nothing to do);
        // one past what was sent is a client bug, which XEP-0198 §4 makes an error.
        if newlyAcked > UInt32(unacked.count) {
            if newlyAcked > UInt32.max / 2 { return }
            throw AckError.tooHigh(sent: sentOutbound)
        }
        unacked.removeFirst(Int(newlyAcked))
    }

    /// Takes the stanzas still unacked, e.g. to resend them or reroute them.
    func takeUnacked() -> [XMLElement] {
        let all = Array(unacked)
        unacked.removeAll()
        return all
    }

    /// A resumed session continues the numbering where the client's ack left it:
    /// the stanzas it did not get are then sent (and counted) again.
    func restart(outboundAt h: UInt32, inbound: UInt32) {
        sentOutbound = h
        handledInbound = inbound
        unacked.removeAll()
        sentSinceRequest = 0
    }

    // MARK: the elements

    static func element(_ name: String, _ attributes: [String: String] = [:], children: [XMLElement] = []) -> XMLElement {
        XMLElement(name: name, namespace: namespace, attributes: attributes, children: children.map { .element($0) })
    }

    static func failed(_ condition: String, h: UInt32? = nil) -> XMLElement {
        var attributes: [String: String] = [:]
        if let h { attributes["h"] = String(h) }
        return element("failed", attributes, children: [XMLElement(name: condition, namespace: XMPPNamespace.stanzas)])
    }

    static func ack(_ h: UInt32) -> XMLElement { element("a", ["h": String(h)]) }
}
