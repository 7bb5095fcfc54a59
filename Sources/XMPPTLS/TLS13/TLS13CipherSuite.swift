import COpenSSL

/// The TLS 1.3 cipher suites whose records xmppd protects itself once OpenSSL has finished
/// the handshake (RFC 8446 §B.4). The two CCM suites are not here: OpenSSL keeps those
/// connections, as it keeps every TLS 1.2 one.
///
/// Unchecked Sendable: the EVP objects are fetched once and never change; libcrypto allows
/// using them from any thread.
struct TLS13CipherSuite: @unchecked Sendable {
    /// The suite's two-byte code point, as SSL_CIPHER_get_protocol_id returns it.
    let code: UInt16
    let keyLength: Int
    /// The transcript hash: HKDF runs over it (its output length is the secrets' length).
    let digest: OpaquePointer
    let aead: OpaquePointer

    static let ivLength = 12
    static let tagLength = 16

    /// Fetched from the default provider once per process: an implicit fetch per record
    /// (EVP_aes_128_gcm() and friends) would take OpenSSL's method-store lock every time.
    private init(code: UInt16, keyLength: Int, digestName: String, aeadName: String) {
        self.code = code
        self.keyLength = keyLength
        // The default provider always has these four algorithms.
        digest = EVP_MD_fetch(nil, digestName, nil)!
        aead = EVP_CIPHER_fetch(nil, aeadName, nil)!
    }

    static let all = [
        TLS13CipherSuite(code: 0x1301, keyLength: 16, digestName: "SHA256", aeadName: "AES-128-GCM"),
        TLS13CipherSuite(code: 0x1302, keyLength: 32, digestName: "SHA384", aeadName: "AES-256-GCM"),
        TLS13CipherSuite(code: 0x1303, keyLength: 32, digestName: "SHA256", aeadName: "ChaCha20-Poly1305"),
    ]

    static func named(code: UInt16) -> TLS13CipherSuite? { all.first { $0.code == code } }
}
