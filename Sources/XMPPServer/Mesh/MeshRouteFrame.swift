import NIOCore
import XMPPCore

/// Route frames as bytes: a stanza for a session of another worker travels with
/// its serialised bytes behind a small binary header, so the receiving worker
/// writes those bytes to its client without parsing and rebuilding the stanza
/// (the XML `<route>` frame cost a second expat parse, an element tree and a second
/// serialisation per message).
///
/// On the mesh's XML stream a binary frame sits between two depth-1 elements,
/// introduced by the byte 0x01, which can never occur in XML 1.0 text
/// (MeshInputSplitter takes them out before the XML parser sees the bytes):
///
///     0x01  length: UInt32 (big endian, of what follows)
///           kind: UInt8 = 'r'   flags: UInt8 (bit 0: hop, already forwarded once)
///           toLength: UInt16    to: UTF-8 full JID
///           stanza: UTF-8 XML, `jabber:client` as the default namespace (SerializedStanza)
///
/// Only sent to a peer whose stream header says `route-bytes='1'`; to others (an
/// older worker during a rolling upgrade) the XML `<route>` frame still goes.
enum MeshRouteFrame {
    static let marker: UInt8 = 0x01
    static let kindRoute = UInt8(ascii: "r")
    static let hopFlag: UInt8 = 1
    /// Marker and length.
    static let envelopeSize = 5
    /// A frame longer than this is a broken peer (stanzas are capped far below it).
    static let maxLength = 64 * 1024 * 1024
    /// Stream header attribute announcing that a worker reads these frames.
    static let headerAttribute = "route-bytes"

    /// Everything up to the stanza for frames to `jid`, made once per remote session;
    /// the length is patched in per frame.
    static func prefix(to jid: JID) -> [UInt8] {
        let to = Array(jid.description.utf8)
        var out: [UInt8] = [marker, 0, 0, 0, 0, kindRoute, 0]
        out.append(UInt8(truncatingIfNeeded: to.count >> 8))
        out.append(UInt8(truncatingIfNeeded: to.count))
        out.append(contentsOf: to)
        return out
    }

    /// A frame for a parsed stanza: it is serialised once, here, as its client will
    /// receive it.
    static func bytes(_ stanza: XMLElement, prefix: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(prefix.count + 256)
        out.append(contentsOf: prefix)
        stanza.serialize(into: &out, parentNamespace: XMPPNamespace.client)
        patchLength(&out)
        return out
    }

    /// A frame for a stanza that is already bytes (forwarding, or delivering a
    /// stanza that came in from the mesh to yet another worker).
    static func bytes(_ stanza: SerializedStanza, prefix: [UInt8], hop: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(prefix.count + stanza.bytes.readableBytes)
        out.append(contentsOf: prefix)
        if hop { out[6] |= hopFlag }
        stanza.bytes.withUnsafeReadableBytes { out.append(contentsOf: $0) }
        patchLength(&out)
        return out
    }

    private static func patchLength(_ out: inout [UInt8]) {
        let length = UInt32(out.count - envelopeSize)
        out[1] = UInt8(truncatingIfNeeded: length >> 24)
        out[2] = UInt8(truncatingIfNeeded: length >> 16)
        out[3] = UInt8(truncatingIfNeeded: length >> 8)
        out[4] = UInt8(truncatingIfNeeded: length)
    }

    struct Route {
        var to: String
        var hop: Bool
        var stanza: SerializedStanza
    }

    /// Reads the body of a frame (what follows the envelope); nil if it is not a
    /// well-formed route frame.
    static func decode(_ body: ByteBuffer) -> Route? {
        var body = body
        guard let kind = body.readInteger(as: UInt8.self), kind == kindRoute,
              let flags = body.readInteger(as: UInt8.self),
              let toLength = body.readInteger(as: UInt16.self),
              let to = body.readString(length: Int(toLength)),
              body.readableBytes > 0 else { return nil }
        return Route(to: to, hop: flags & hopFlag != 0, stanza: SerializedStanza(bytes: body))
    }
}
