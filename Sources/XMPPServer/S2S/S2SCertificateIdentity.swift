import XMPPTLS

/// Whether a verified certificate names a server's domain, as RFC 6125 and RFC 6120
/// §13.7.1.2 read it for XMPP: a subjectAltName xmppAddr or dNSName equal to the
/// domain (a dNSName "*.example.org" stands for exactly one more label on the left),
/// and the subject's CN only for a certificate with neither.
enum S2SCertificateIdentity {
    static func names(_ domain: String, in certificate: TLSPeerCertificate) -> Bool {
        let domain = domain.lowercased()
        let xmppAddrs = certificate.xmppAddrs.map { $0.lowercased() }
        let dnsNames = certificate.dnsNames.map { $0.lowercased() }
        if xmppAddrs.contains(domain) || dnsNames.contains(where: { matches($0, domain) }) { return true }
        guard xmppAddrs.isEmpty, dnsNames.isEmpty else { return false }
        return commonName(of: certificate.subject)?.lowercased() == domain
    }

    private static func matches(_ pattern: String, _ domain: String) -> Bool {
        guard pattern.hasPrefix("*.") else { return pattern == domain }
        guard let dot = domain.firstIndex(of: ".") else { return false }
        return domain[domain.index(after: dot)...] == pattern.dropFirst(2) && dot > domain.startIndex
    }

    /// "/C=XX/CN=example.org/O=…" → "example.org".
    private static func commonName(of subject: String) -> String? {
        subject.split(separator: "/").first { $0.hasPrefix("CN=") }.map { String($0.dropFirst(3)) }
    }
}
