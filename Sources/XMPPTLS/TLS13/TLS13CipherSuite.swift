import COpenSSL

/// The TLS 1.3 cipher suites whose records xmppd protects itself once OpenSSL has finished
/// the handshake (RFC 8446 §B.4). The two CCM suites are not here: OpenSSL keeps those
/// connections, as it keeps every TLS 1.2 one.
struct TLS13CipherSuite: Sendable {
    /// The suite's two-byte code point, as SSL_CIPHER_get_protocol_id returns it.
    let code: UInt16
    let keyLength: Int
    /// The transcript hash: HKDF runs over it (its output length is the secrets' length).
    let digestName: String
    let aeadName: String

    static let ivLength = 12
    static let tagLength = 16

    static let aes128GCMSHA256 = TLS13CipherSuite(code: 0x1301, keyLength: 16, digestName: "SHA256", aeadName: "AES-128-GCM")
    static let aes256GCMSHA384 = TLS13CipherSuite(code: 0x1302, keyLength: 32, digestName: "SHA384", aeadName: "AES-256-GCM")
    static let chacha20Poly1305SHA256 = TLS13CipherSuite(code: 0x1303, keyLength: 32, digestName: "SHA256", aeadName: "ChaCha20-Poly1305")

    static func named(code: UInt16) -> TLS13CipherSuite? {
        [aes128GCMSHA256, aes256GCMSHA384, chacha20Poly1305SHA256].first { $0.code == code }
    }

    /// The suite's algorithms, fetched from the default provider once per process: an implicit
    /// fetch per record would take OpenSSL's method-store lock on every call.
    var digest: OpaquePointer { Self.algorithms.digest(digestName) }
    var aead: OpaquePointer { Self.algorithms.cipher(aeadName) }

    private static let algorithms = FetchedAlgorithms()
}

/// EVP_MD / EVP_CIPHER objects fetched once; they live as long as the process.
private final class FetchedAlgorithms: @unchecked Sendable {
    let digests: [String: OpaquePointer]
    let ciphers: [String: OpaquePointer]

    init() {
        var digests: [String: OpaquePointer] = [:], ciphers: [String: OpaquePointer] = [:]
        for name in ["SHA256", "SHA384"] { digests[name] = EVP_MD_fetch(nil, name, nil) }
        for name in ["AES-128-GCM", "AES-256-GCM", "ChaCha20-Poly1305"] { ciphers[name] = EVP_CIPHER_fetch(nil, name, nil) }
        self.digests = digests
        self.ciphers = ciphers
    }

    /// Only the names above are asked for; the default provider always has them.
    func digest(_ name: String) -> OpaquePointer { digests[name]! }
    func cipher(_ name: String) -> OpaquePointer { ciphers[name]! }
}
