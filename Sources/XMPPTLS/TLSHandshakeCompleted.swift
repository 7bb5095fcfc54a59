/// The peer's certificate as the XMPP layers need it (SASL EXTERNAL, XEP-0178 / RFC 6120 §13.7).
public struct TLSPeerCertificate: Sendable, Equatable {
    /// One-line subject, e.g. "/CN=alice@example.com".
    public let subject: String
    public let issuer: String
    /// subjectAltName otherName id-on-xmppAddr values.
    public let xmppAddrs: [String]
    /// subjectAltName dNSName values.
    public let dnsNames: [String]
    /// DER encoding of the certificate.
    public let der: [UInt8]

    public init(subject: String, issuer: String, xmppAddrs: [String], dnsNames: [String], der: [UInt8]) {
        self.subject = subject
        self.issuer = issuer
        self.xmppAddrs = xmppAddrs
        self.dnsNames = dnsNames
        self.der = der
    }
}

/// Fired as a user inbound event by `OpenSSLHandler` once the handshake is done, before any
/// decrypted application data is passed on.
public struct TLSHandshakeCompleted: Sendable, Equatable {
    /// "TLSv1.2", "TLSv1.3".
    public let protocolVersion: String
    /// OpenSSL cipher name, e.g. "TLS_AES_256_GCM_SHA384".
    public let cipher: String
    /// SNI name the client asked for (server side) or sent (client side).
    public let serverName: String?
    /// The peer's certificate, if it presented one.
    public let peerCertificate: TLSPeerCertificate?
    /// A certificate was presented and verified against the trusted CAs (and CRLs).
    public let peerCertificateVerified: Bool
    /// OpenSSL's verification result text: "ok", "certificate revoked", "self-signed certificate" ...
    public let verifyResult: String
    /// RFC 9266 tls-exporter channel binding (32 bytes).
    public let tlsExporter: [UInt8]?
    /// RFC 5929 tls-server-end-point channel binding.
    public let tlsServerEndPoint: [UInt8]?
    /// OpenSSL's connection state was freed after the handshake and xmppd's TLS 1.3 record
    /// layer carries the connection (`compact_tls_sessions`).
    public internal(set) var compactRecordLayer = false
}
