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
            let input = previous + info + [counter]
            var block = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
            var blockLength: UInt32 = 0
            _ = HMAC(digest, prk, Int32(prk.count), input, input.count, &block, &blockLength)
            previous = Array(block.prefix(Int(blockLength)))
            output += previous
            counter += 1
        }
        return Array(output.prefix(length))
    }
}
