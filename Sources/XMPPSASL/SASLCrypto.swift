import COpenSSL

/// Thin wrappers over OpenSSL's one-shot primitives: everything SCRAM and PLAIN need.
/// All functions are stateless and safe to call from any thread.
public enum SASLCrypto {
    public static func sha1(_ data: [UInt8]) -> [UInt8] { digest(.sha1, data) }
    public static func sha256(_ data: [UInt8]) -> [UInt8] { digest(.sha256, data) }

    /// H(data) for the given SCRAM hash.
    public static func hash(_ hash: SCRAMHash, _ data: [UInt8]) -> [UInt8] { digest(hash, data) }

    /// HMAC(key, data) with the given hash.
    public static func hmac(_ hash: SCRAMHash, key: [UInt8], data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE_VALUE))
        var outLength: UInt32 = 0
        let ok = key.withUnsafeBufferPointer { k in
            data.withUnsafeBufferPointer { d in
                HMAC(evp(hash), k.baseAddress, Int32(k.count), d.baseAddress, d.count, &out, &outLength)
            }
        }
        precondition(ok != nil, "HMAC failed in OpenSSL")
        return Array(out.prefix(Int(outLength)))
    }

    /// Hi(password, salt, iterations) of RFC 5802 §2.2, which is PBKDF2 with
    /// HMAC and a derived-key length equal to the hash output length.
    public static func pbkdf2(_ hash: SCRAMHash, password: [UInt8], salt: [UInt8], iterations: Int) -> [UInt8] {
        precondition(iterations > 0 && iterations <= Int(Int32.max), "iteration count out of range")
        var out = [UInt8](repeating: 0, count: hash.outputLength)
        let ok = password.withUnsafeBytes { p in
            salt.withUnsafeBufferPointer { s in
                PKCS5_PBKDF2_HMAC(p.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(p.count),
                                  s.baseAddress, Int32(s.count),
                                  Int32(iterations), evp(hash), Int32(out.count), &out)
            }
        }
        precondition(ok == 1, "PKCS5_PBKDF2_HMAC failed in OpenSSL")
        return out
    }

    /// `count` bytes from OpenSSL's CSPRNG. Traps if the RNG fails: continuing
    /// with predictable nonces or salts would be worse than crashing the worker.
    public static func randomBytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        guard count > 0 else { return out }
        let ok = RAND_bytes(&out, Int32(count))
        precondition(ok == 1, "RAND_bytes failed")
        return out
    }

    /// Compares in time independent of the contents (the length is not secret).
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return a.withUnsafeBytes { x in
            b.withUnsafeBytes { y in CRYPTO_memcmp(x.baseAddress, y.baseAddress, a.count) == 0 }
        }
    }

    /// a XOR b (equal lengths).
    static func xor(_ a: [UInt8], _ b: [UInt8]) -> [UInt8] {
        precondition(a.count == b.count)
        var out = a
        for i in out.indices { out[i] ^= b[i] }
        return out
    }

    // EVP_MAX_MD_SIZE is a macro; 64 covers SHA-512, the largest digest OpenSSL has.
    private static let EVP_MAX_MD_SIZE_VALUE = 64

    private static func evp(_ hash: SCRAMHash) -> OpaquePointer? {
        switch hash {
        case .sha1: return EVP_sha1()
        case .sha224: return EVP_sha224()
        case .sha256: return EVP_sha256()
        case .sha384: return EVP_sha384()
        case .sha512: return EVP_sha512()
        }
    }

    private static func digest(_ hash: SCRAMHash, _ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: EVP_MAX_MD_SIZE_VALUE)
        var outLength: UInt32 = 0
        let ok = data.withUnsafeBytes { d in
            EVP_Digest(d.baseAddress, d.count, &out, &outLength, evp(hash), nil)
        }
        precondition(ok == 1, "EVP_Digest failed in OpenSSL")
        return Array(out.prefix(Int(outLength)))
    }
}
