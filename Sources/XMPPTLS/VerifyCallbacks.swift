import COpenSSL

/// OpenSSL verify callbacks. They are plain C function pointers, so each policy is its own
/// closure without captures. Returning 1 keeps the handshake going; OpenSSL still records
/// the first failure in SSL_get_verify_result, which is how `.report` exposes it.
enum VerifyCallbacks {
    static let acceptAll: @convention(c) (Int32, OpaquePointer?) -> Int32 = { _, _ in 1 }

    /// X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT = 18: the peer presented a lone self-signed certificate.
    static let allowSelfSigned: @convention(c) (Int32, OpaquePointer?) -> Int32 = { ok, store in
        if ok == 1 { return 1 }
        guard let store else { return 0 }
        return X509_STORE_CTX_get_error(store) == 18 ? 1 : 0
    }
}
