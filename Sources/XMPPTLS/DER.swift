/// Just enough DER to read and write subjectAltName (the shim has no x509v3.h, so OpenSSL's
/// GENERAL_NAME types are not visible to Swift; the extension's raw bytes are).
enum DER {
    struct Element { var tag: UInt8; var body: ArraySlice<UInt8> }

    /// Splits a run of TLV elements; nil on malformed input.
    static func elements(_ bytes: ArraySlice<UInt8>) -> [Element]? {
        var out: [Element] = []
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let tag = bytes[i]; i += 1
            guard i < bytes.endIndex else { return nil }
            var length = Int(bytes[i]); i += 1
            if length & 0x80 != 0 {
                let n = length & 0x7f
                guard n >= 1, n <= 4, i + n <= bytes.endIndex else { return nil }
                length = 0
                for _ in 0..<n { length = length << 8 | Int(bytes[i]); i += 1 }
            }
            guard length <= bytes.endIndex - i else { return nil }
            out.append(Element(tag: tag, body: bytes[i..<(i + length)]))
            i += length
        }
        return out
    }

    static func encode(tag: UInt8, _ body: [UInt8]) -> [UInt8] {
        var out = [tag]
        let n = body.count
        if n < 0x80 { out.append(UInt8(n)) }
        else if n < 0x100 { out += [0x81, UInt8(n)] }
        else if n < 0x10000 { out += [0x82, UInt8(n >> 8), UInt8(n & 0xff)] }
        else { out += [0x83, UInt8(n >> 16), UInt8((n >> 8) & 0xff), UInt8(n & 0xff)] }
        return out + body
    }

    /// id-on-xmppAddr, 1.3.6.1.5.5.7.8.5 (RFC 6120 §13.7.1.4), as DER OID body bytes.
    static let xmppAddrOID: [UInt8] = [0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x08, 0x05]

    /// The dNSName and xmppAddr entries of a SubjectAltName extension value.
    static func subjectAltNames(_ value: [UInt8]) -> (dns: [String], xmpp: [String]) {
        var dns: [String] = [], xmpp: [String] = []
        guard let outer = elements(value[...]), let seq = outer.first, seq.tag == 0x30,
              let names = elements(seq.body) else { return ([], []) }
        for name in names {
            switch name.tag {
            case 0x82:  // [2] IMPLICIT IA5String dNSName
                if let s = String(bytes: name.body, encoding: .ascii) { dns.append(s) }
            case 0xa0:  // [0] otherName: type-id OID, [0] EXPLICIT value
                guard let parts = elements(name.body), parts.count == 2, parts[0].tag == 0x06,
                      Array(parts[0].body) == xmppAddrOID, parts[1].tag == 0xa0,
                      let inner = elements(parts[1].body), let str = inner.first, str.tag == 0x0c,
                      let s = String(bytes: str.body, encoding: .utf8) else { continue }
                xmpp.append(s)
            default: continue
            }
        }
        return (dns, xmpp)
    }

    /// A SubjectAltName value with one dNSName per host.
    static func subjectAltNameValue(dnsNames: [String]) -> [UInt8] {
        encode(tag: 0x30, dnsNames.flatMap { encode(tag: 0x82, Array($0.utf8)) })
    }
}
