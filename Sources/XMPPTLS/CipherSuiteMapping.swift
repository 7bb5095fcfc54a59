import COpenSSL
import XMPPConfig

/// Maps just_tls (Erlang ssl) cipher suite tables `{cipher, key_exchange, mac, prf}` onto the
/// ciphers this OpenSSL offers, by comparing each OpenSSL cipher's properties
/// (SSL_CIPHER_get_*_nid) with the Erlang names. A key left out of a table matches anything.
/// A table that matches nothing is an error listing the accepted names, rather than a
/// silently weaker or empty cipher set.
enum CipherSuiteMapping {
    struct Result { var tls12: [String] = []; var tls13: [String] = [] }

    static let cipherNames: [String: Int32] = [
        "aes_128_gcm": NID_aes_128_gcm, "aes_256_gcm": NID_aes_256_gcm,
        "chacha20_poly1305": NID_chacha20_poly1305,
        "aes_128_cbc": NID_aes_128_cbc, "aes_256_cbc": NID_aes_256_cbc,
        "aes_128_ccm": NID_aes_128_ccm, "aes_256_ccm": NID_aes_256_ccm,
        "aes_128_ccm_8": NID_aes_128_ccm, "aes_256_ccm_8": NID_aes_256_ccm,
        "3des_ede_cbc": NID_des_ede3_cbc,
    ]
    /// Erlang key_exchange → (OpenSSL kx nid, auth nid or nil for "any").
    static let keyExchangeNames: [String: (kx: Int32, auth: Int32?)] = [
        "ecdhe_ecdsa": (NID_kx_ecdhe, NID_auth_ecdsa), "ecdhe_rsa": (NID_kx_ecdhe, NID_auth_rsa),
        "dhe_rsa": (NID_kx_dhe, NID_auth_rsa), "dhe_dss": (NID_kx_dhe, NID_auth_dss),
        "rsa": (NID_kx_rsa, NID_auth_rsa), "psk": (NID_kx_psk, NID_auth_psk),
        "ecdhe_psk": (NID_kx_ecdhe_psk, NID_auth_psk), "dhe_psk": (NID_kx_dhe_psk, NID_auth_psk),
        "any": (NID_kx_any, nil),
    ]
    /// Erlang mac → OpenSSL record digest nid (NID_undef for AEAD ciphers).
    static let macNames: [String: Int32] = [
        "aead": NID_undef, "sha": NID_sha1, "sha256": NID_sha256, "sha384": NID_sha384,
    ]
    /// Erlang prf → handshake digest; "default_prf" is TLS 1.2's default, SHA-256.
    static let prfNames: [String: Int32] = [
        "sha256": NID_sha256, "sha384": NID_sha384, "default_prf": NID_sha256,
    ]

    static func map(_ suites: [TLSCipherSuite]) throws -> Result {
        let all = availableCiphers()
        var result = Result()
        for (i, suite) in suites.enumerated() {
            try check(suite.cipher, in: cipherNames.keys, key: "cipher", index: i)
            try check(suite.keyExchange, in: keyExchangeNames.keys, key: "key_exchange", index: i)
            try check(suite.mac, in: macNames.keys, key: "mac", index: i)
            try check(suite.prf, in: prfNames.keys, key: "prf", index: i)
            let matches = all.filter { suiteMatches(suite, $0) }
            if matches.isEmpty {
                throw TLSConfigurationError(.cipherSuite, "tls.ciphers[\(i + 1)] \(describe(suite)) matches no cipher suite of this OpenSSL")
            }
            for c in matches {
                if c.isTLS13 { if !result.tls13.contains(c.name) { result.tls13.append(c.name) } }
                else if !result.tls12.contains(c.name) { result.tls12.append(c.name) }
            }
        }
        return result
    }

    struct Cipher {
        var name: String, cipherNID: Int32, kxNID: Int32, authNID: Int32, digestNID: Int32
        var handshakeDigestNID: Int32, isTLS13: Bool
    }

    /// Every cipher OpenSSL can be asked for ("ALL" plus the TLS 1.3 suites).
    static func availableCiphers() -> [Cipher] {
        guard let ctx = SSL_CTX_new(TLS_method()) else { return [] }
        defer { SSL_CTX_free(ctx) }
        _ = SSL_CTX_set_cipher_list(ctx, "ALL:@SECLEVEL=0")
        _ = SSL_CTX_set_ciphersuites(ctx, "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:TLS_AES_128_CCM_SHA256:TLS_AES_128_CCM_8_SHA256")
        guard let stack = SSL_CTX_get_ciphers(ctx) else { return [] }
        var out: [Cipher] = []
        for i in 0..<OPENSSL_sk_num(stack) {
            guard let raw = OPENSSL_sk_value(stack, i) else { continue }
            let c = OpaquePointer(raw)
            let hd = SSL_CIPHER_get_handshake_digest(c).map { EVP_MD_get_type($0) } ?? NID_undef
            out.append(Cipher(name: String(cString: SSL_CIPHER_get_name(c)),
                              cipherNID: SSL_CIPHER_get_cipher_nid(c), kxNID: SSL_CIPHER_get_kx_nid(c),
                              authNID: SSL_CIPHER_get_auth_nid(c), digestNID: SSL_CIPHER_get_digest_nid(c),
                              handshakeDigestNID: hd,
                              isTLS13: String(cString: SSL_CIPHER_get_version(c)) == "TLSv1.3"))
        }
        return out
    }

    static func suiteMatches(_ s: TLSCipherSuite, _ c: Cipher) -> Bool {
        if let name = s.cipher {
            guard cipherNames[name] == c.cipherNID else { return false }
            // CCM and CCM_8 share a NID; only the name tells them apart.
            let isCCM8 = c.name.contains("CCM8") || c.name.contains("CCM_8")
            if name.contains("ccm") && name.hasSuffix("_ccm_8") != isCCM8 { return false }
        }
        if let kx = s.keyExchange, let want = keyExchangeNames[kx] {
            guard want.kx == c.kxNID else { return false }
            if let auth = want.auth, auth != c.authNID { return false }
        }
        if let mac = s.mac, macNames[mac] != c.digestNID { return false }
        if let prf = s.prf, prfNames[prf] != c.handshakeDigestNID { return false }
        return true
    }

    static func check(_ value: String?, in names: Dictionary<String, some Any>.Keys, key: String, index: Int) throws {
        guard let value, names.contains(value) == false else { return }
        throw TLSConfigurationError(.cipherSuite,
            "unknown \(key) \"\(value)\" in tls.ciphers[\(index + 1)]; supported: \(names.sorted().joined(separator: ", "))")
    }

    static func describe(_ s: TLSCipherSuite) -> String {
        let parts = [("cipher", s.cipher), ("key_exchange", s.keyExchange), ("mac", s.mac), ("prf", s.prf)]
            .compactMap { k, v in v.map { "\(k) = \"\($0)\"" } }
        return "{" + parts.joined(separator: ", ") + "}"
    }
}
