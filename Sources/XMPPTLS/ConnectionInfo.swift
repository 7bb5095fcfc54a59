import COpenSSL

/// Reads the facts of a finished handshake out of an SSL*: version, cipher, peer certificate,
/// verification result and channel-binding data.
enum ConnectionInfo {
    static func handshakeCompleted(_ ssl: OpaquePointer, isServer: Bool) -> TLSHandshakeCompleted {
        let peer = SSL_get1_peer_certificate(ssl)
        defer { if let peer { X509_free(peer) } }
        let result = SSL_get_verify_result(ssl)
        let cipher = SSL_get_current_cipher(ssl).map { String(cString: SSL_CIPHER_get_name($0)) } ?? ""
        return TLSHandshakeCompleted(
            protocolVersion: String(cString: SSL_get_version(ssl)),
            cipher: cipher,
            serverName: SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name).map { String(cString: $0) },
            peerCertificate: peer.map(certificate),
            peerCertificateVerified: peer != nil && result == X509_V_OK,
            verifyResult: String(cString: X509_verify_cert_error_string(result)),
            tlsExporter: tlsExporter(ssl),
            tlsServerEndPoint: tlsServerEndPoint(ssl, isServer: isServer))
    }

    static func certificate(_ x: OpaquePointer) -> TLSPeerCertificate {
        var dns: [String] = [], xmpp: [String] = []
        let index = X509_get_ext_by_NID(x, NID_subject_alt_name, -1)
        if index >= 0, let ext = X509_get_ext(x, index), let data = X509_EXTENSION_get_data(ext),
           let bytes = ASN1_STRING_get0_data(data) {
            let value = Array(UnsafeBufferPointer(start: bytes, count: Int(ASN1_STRING_length(data))))
            (dns, xmpp) = DER.subjectAltNames(value)
        }
        return TLSPeerCertificate(subject: nameLine(X509_get_subject_name(x)),
                                  issuer: nameLine(X509_get_issuer_name(x)),
                                  xmppAddrs: xmpp, dnsNames: dns, der: der(x))
    }

    static func nameLine(_ name: OpaquePointer?) -> String {
        guard let name, let line = X509_NAME_oneline(name, nil, 0) else { return "" }
        defer { CRYPTO_free(line, nil, 0) }
        return String(cString: line)
    }

    static func der(_ x: OpaquePointer) -> [UInt8] {
        let length = i2d_X509(x, nil)
        guard length > 0 else { return [] }
        var out = [UInt8](repeating: 0, count: Int(length))
        out.withUnsafeMutableBufferPointer { buf in
            var p: UnsafeMutablePointer<UInt8>? = buf.baseAddress
            _ = i2d_X509(x, &p)
        }
        return out
    }

    /// RFC 9266: 32 bytes from the exporter with label "EXPORTER-Channel-Binding" and no context.
    static func tlsExporter(_ ssl: OpaquePointer) -> [UInt8]? {
        let label = "EXPORTER-Channel-Binding"
        var out = [UInt8](repeating: 0, count: 32)
        let rc = label.withCString { l in
            SSL_export_keying_material(ssl, &out, out.count, l, label.utf8.count, nil, 0, 0)
        }
        return rc == 1 ? out : nil
    }

    /// RFC 5929 §4.1: hash of the server's certificate with the hash of its signature algorithm,
    /// SHA-256 when that is MD5 or SHA-1. nil for algorithms without a separate hash (Ed25519),
    /// which the RFC leaves undefined.
    static func tlsServerEndPoint(_ ssl: OpaquePointer, isServer: Bool) -> [UInt8]? {
        var owned: OpaquePointer? = nil
        defer { if let owned { X509_free(owned) } }
        let cert: OpaquePointer?
        if isServer { cert = SSL_get_certificate(ssl) } else { owned = SSL_get1_peer_certificate(ssl); cert = owned }
        guard let cert else { return nil }
        var mdNID: Int32 = 0, pkNID: Int32 = 0
        guard OBJ_find_sigid_algs(X509_get_signature_nid(cert), &mdNID, &pkNID) == 1, mdNID != NID_undef else { return nil }
        if mdNID == NID_md5 || mdNID == NID_sha1 { mdNID = NID_sha256 }
        guard let md = EVP_get_digestbyname(OBJ_nid2sn(mdNID)) else { return nil }
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard X509_digest(cert, md, &out, &length) == 1 else { return nil }
        return Array(out.prefix(Int(length)))
    }
}
