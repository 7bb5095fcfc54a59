/// fast_tls `protocol_options` names → SSL_OP_* bits. OpenSSL 3 defines these with the
/// SSL_OP_BIT(n) macro, which Swift cannot import, so the bit numbers are repeated here
/// (from openssl/ssl.h, 3.0). Names are fast_tls' (lower-case SSL_OP_ suffixes).
enum ProtocolOptions {
    static let bits: [String: UInt64] = [
        "no_sslv2": 0,                                  // SSLv2 support is gone: accepted, no-op
        "no_sslv3": 1 << 25,
        "no_tlsv1": 1 << 26,
        "no_tlsv1_1": 1 << 28,
        "no_tlsv1_2": 1 << 27,
        "no_tlsv1_3": 1 << 29,
        "cipher_server_preference": 1 << 22,
        "no_ticket": 1 << 14,
        "no_compression": 1 << 17,
        "no_renegotiation": 1 << 30,
        "no_query_mtu": 1 << 12,
        "no_session_resumption_on_renegotiation": 1 << 16,
        "single_dh_use": 0,                             // always on since OpenSSL 1.1: no-op
        "single_ecdh_use": 0,                           // ditto
        "prioritize_chacha": 1 << 21,
        "allow_unsafe_legacy_renegotiation": 1 << 18,
        "legacy_server_connect": 1 << 2,
        "tls_rollback_bug": 1 << 23,
        "dont_insert_empty_fragments": 1 << 11,
        "no_encrypt_then_mac": 1 << 19,
        "ignore_unexpected_eof": 1 << 7,
    ]

    static func mask(_ names: [String]) throws -> UInt64 {
        var mask: UInt64 = 0
        for name in names {
            guard let bit = bits[name.lowercased()] else {
                throw TLSConfigurationError(.protocolOption,
                    "unknown TLS protocol option \"\(name)\" in tls.protocol_options; supported: \(bits.keys.sorted().joined(separator: ", "))")
            }
            mask |= bit
        }
        return mask
    }
}
