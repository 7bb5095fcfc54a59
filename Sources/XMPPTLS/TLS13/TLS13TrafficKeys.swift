import COpenSSL

/// The keys of one direction of a TLS 1.3 connection after the handshake (RFC 8446 §7.1–7.3):
/// the current application traffic secret, the AEAD key and IV derived from it, and the
/// sequence number of the next record.
struct TLS13TrafficKeys {
    let suite: TLS13CipherSuite
    private(set) var secret: [UInt8]
    private(set) var key: [UInt8]
    private(set) var iv: [UInt8]
    private(set) var sequence: UInt64

    init(suite: TLS13CipherSuite, secret: [UInt8], sequence: UInt64 = 0) {
        self.suite = suite
        self.secret = secret
        key = Self.expandLabel(suite, secret: secret, label: "key", length: suite.keyLength)
        iv = Self.expandLabel(suite, secret: secret, label: "iv", length: TLS13CipherSuite.ivLength)
        self.sequence = sequence
    }

    /// §5.3: the per-record nonce is the IV XORed with the sequence number, left-padded to 12 bytes.
    func nonce() -> [UInt8] {
        var nonce = iv
        for i in 0..<8 { nonce[TLS13CipherSuite.ivLength - 1 - i] ^= UInt8(truncatingIfNeeded: sequence >> (8 * UInt64(i))) }
        return nonce
    }

    mutating func advance() { sequence += 1 }

    /// §7.2: a KeyUpdate replaces the secret with HKDF-Expand-Label(secret, "traffic upd", "", Hash.length)
    /// and restarts the sequence at zero.
    mutating func update() {
        self = TLS13TrafficKeys(suite: suite,
                                secret: Self.expandLabel(suite, secret: secret, label: "traffic upd", length: secret.count))
    }

    /// §7.1: HKDF-Expand-Label(Secret, Label, Context = "", Length).
    static func expandLabel(_ suite: TLS13CipherSuite, secret: [UInt8], label: String, length: Int) -> [UInt8] {
        let fullLabel = Array("tls13 \(label)".utf8)
        let info = [UInt8(length >> 8), UInt8(length & 0xff), UInt8(fullLabel.count)] + fullLabel + [0]
        return hkdfExpand(suite.digest, prk: secret, info: info, length: length)
    }

    /// RFC 5869 §2.3: T(i) = HMAC(PRK, T(i-1) | info | i), concatenated and cut to `length`.
    static func hkdfExpand(_ digest: OpaquePointer, prk: [UInt8], info: [UInt8], length: Int) -> [UInt8] {
        var output: [UInt8] = []
        var previous: [UInt8] = []
        var counter: UInt8 = 1
        while output.count < length {
            previous = hmac(digest, key: prk, message: previous + info + [counter])
            output += previous
            counter += 1
        }
        return Array(output.prefix(length))
    }

    /// RFC 2104 HMAC on a pre-fetched digest. OpenSSL 3's one-shot HMAC() looks the MAC
    /// and the digest up by name on every call, which made a session's key setup cost
    /// more than all its record protection during a login.
    static func hmac(_ digest: OpaquePointer, key: [UInt8], message: [UInt8]) -> [UInt8] {
        let blockSize = Int(EVP_MD_get_block_size(digest))
        var paddedKey = key.count > blockSize ? hash(digest, key) : key
        paddedKey += [UInt8](repeating: 0, count: blockSize - paddedKey.count)
        let inner = hash(digest, paddedKey.map { $0 ^ 0x36 } + message)
        return hash(digest, paddedKey.map { $0 ^ 0x5c } + inner)
    }

    static func hash(_ digest: OpaquePointer, _ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        _ = EVP_Digest(data, data.count, &out, &length, digest, nil)
        return Array(out.prefix(Int(length)))
    }
}
