import COpenSSL
import Foundation

/// The steps that turn a `TLSConfiguration` into a configured SSL_CTX, one method per option,
/// each throwing a `TLSConfigurationError` that names the option or file.
struct ContextSetup {
    let ctx: OpaquePointer
    let config: TLSConfiguration
    let base: String?

    // SSL_MODE_* values (plain integers in ssl.h, spelled out for clarity).
    static let modeEnablePartialWrite = 0x1
    static let modeAcceptMovingWriteBuffer = 0x2
    static let modeReleaseBuffers = 0x10

    func run() throws {
        // Idle XMPP sessions are the norm: RELEASE_BUFFERS frees the ~34 KB of record buffers
        // between reads. PARTIAL_WRITE + MOVING_WRITE_BUFFER let OpenSSL accept a write in pieces
        // from whatever ByteBuffer view we pass next.
        _ = SSL_CTX_ctrl(ctx, SSL_CTRL_MODE,
                         Self.modeReleaseBuffers | Self.modeEnablePartialWrite | Self.modeAcceptMovingWriteBuffer, nil)
        try protocolOptions()
        try versions()
        try ciphers()
        try certificateAndKey()
        try caFile()
        try dhFile()
        try crlFiles()
        verification()
    }

    func resolve(_ path: String) -> String {
        if path.hasPrefix("/") || base == nil { return path }
        return (base! as NSString).appendingPathComponent(path)
    }

    /// Fails early with errno text ("No such file or directory") — OpenSSL's own message for a
    /// missing file is "system lib" noise.
    func readable(_ path: String, option: String) throws -> String {
        let full = resolve(path)
        let fd = open(full, O_RDONLY)
        if fd < 0 {
            let reason = String(cString: strerror(errno))
            throw TLSConfigurationError(.fileUnreadable, "cannot read \(option) \(full): \(reason)")
        }
        close(fd)
        return full
    }

    func protocolOptions() throws {
        let mask = try ProtocolOptions.mask(config.protocolOptions)
        if mask != 0 { _ = SSL_CTX_set_options(ctx, mask) }
    }

    func versions() throws {
        guard let versions = config.versions, !versions.isEmpty else { return }
        let lo = versions.min()!, hi = versions.max()!
        _ = SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, lo.openSSLValue, nil)
        _ = SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MAX_PROTO_VERSION, hi.openSSLValue, nil)
        // TLS ≤ 1.1 sign handshakes with SHA-1/MD5, which OpenSSL 3's default security
        // level 1+ forbids; someone who lists them explicitly wants them to work.
        if lo < .tlsv1_2 { SSL_CTX_set_security_level(ctx, 0) }
    }

    /// fast_tls cipher string: "TLS_*" entries are TLS 1.3 suites (SSL_CTX_set_ciphersuites),
    /// the rest is an OpenSSL ≤1.2 cipher list. The default "TLSv1.2:TLSv1.3" is accepted by
    /// SSL_CTX_set_cipher_list as is ("TLSv1.2" selects all TLS 1.2 ciphers, unknown words are
    /// skipped); a string made only of protocol names that OpenSSL rejects (e.g. "TLSv1.3")
    /// falls back to OpenSSL's defaults, as such strings mean "these protocols, default ciphers".
    func ciphers() throws {
        if let suites = config.cipherSuites {
            let mapped = try CipherSuiteMapping.map(suites)
            // An empty side disables that protocol's ciphers entirely, which is what the table asked.
            if SSL_CTX_set_cipher_list(ctx, mapped.tls12.isEmpty ? "" : mapped.tls12.joined(separator: ":")) != 1,
               !mapped.tls12.isEmpty {
                throw TLSConfigurationError(.cipherSuite, "tls.ciphers: OpenSSL rejected \(mapped.tls12): \(OpenSSLErrors.drain())")
            }
            OpenSSLErrors.clear()
            if SSL_CTX_set_ciphersuites(ctx, mapped.tls13.joined(separator: ":")) != 1 {
                throw TLSConfigurationError(.cipherSuite, "tls.ciphers: OpenSSL rejected \(mapped.tls13): \(OpenSSLErrors.drain())")
            }
            return
        }
        guard let string = config.cipherString, !string.isEmpty else { return }
        let tokens = string.split(separator: ":").map(String.init)
        let tls13 = tokens.filter { $0.hasPrefix("TLS_") }
        let tls12 = tokens.filter { !$0.hasPrefix("TLS_") }
        if !tls13.isEmpty, SSL_CTX_set_ciphersuites(ctx, tls13.joined(separator: ":")) != 1 {
            throw TLSConfigurationError(.cipherList, "bad TLS 1.3 cipher suites \"\(tls13.joined(separator: ":"))\" in tls.ciphers: \(OpenSSLErrors.drain())")
        }
        guard !tls12.isEmpty else { return }
        if SSL_CTX_set_cipher_list(ctx, tls12.joined(separator: ":")) != 1 {
            let text = OpenSSLErrors.drain()
            let protocolNames: Set<String> = ["TLSv1", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3", "SSLv3"]
            if tls12.allSatisfy(protocolNames.contains) { return }
            throw TLSConfigurationError(.cipherList, "bad cipher string \"\(string)\" in tls.ciphers: \(text)")
        }
    }

    func certificateAndKey() throws {
        guard let certfile = config.certificateChainFile else {
            if config.role == .server {
                throw TLSConfigurationError(.certificate, "a TLS server needs tls.certfile")
            }
            return
        }
        let certPath = try readable(certfile, option: "tls.certfile")
        if SSL_CTX_use_certificate_chain_file(ctx, certPath) != 1 {
            throw TLSConfigurationError(.certificate, "cannot load certificate chain from tls.certfile \(certPath): \(OpenSSLErrors.drain())")
        }
        let keyOption = config.privateKeyFile == nil ? "tls.certfile" : "tls.keyfile"
        let keyPath = try config.privateKeyFile.map { try readable($0, option: "tls.keyfile") } ?? certPath
        // The default password callback uses the userdata as the password; it must outlive the load.
        let password = config.privateKeyPassword.map { strdup($0) } ?? nil
        defer {
            SSL_CTX_set_default_passwd_cb_userdata(ctx, nil)
            if let password { memset(password, 0, strlen(password)); free(password) }
        }
        SSL_CTX_set_default_passwd_cb_userdata(ctx, password)
        if SSL_CTX_use_PrivateKey_file(ctx, keyPath, SSL_FILETYPE_PEM) != 1 {
            let text = OpenSSLErrors.drain()
            // Loading already compares the key with the certificate (X509_check_private_key).
            if text.contains("key values mismatch") { throw keyMismatch(keyOption, keyPath, certPath, text) }
            throw TLSConfigurationError(.privateKey, "cannot load private key from \(keyOption) \(keyPath): \(text)")
        }
        if SSL_CTX_check_private_key(ctx) != 1 {
            throw keyMismatch(keyOption, keyPath, certPath, OpenSSLErrors.drain())
        }
    }

    func keyMismatch(_ keyOption: String, _ keyPath: String, _ certPath: String, _ text: String) -> TLSConfigurationError {
        TLSConfigurationError(.keyMismatch, "private key in \(keyOption) \(keyPath) does not match the certificate in tls.certfile \(certPath): \(text)")
    }

    func caFile() throws {
        guard let cafile = config.caFile else {
            // A client with no CA file trusts the system store.
            if config.role == .client { _ = SSL_CTX_set_default_verify_paths(ctx) }
            return
        }
        let path = try readable(cafile, option: "tls.cacertfile")
        if SSL_CTX_load_verify_locations(ctx, path, nil) != 1 {
            throw TLSConfigurationError(.caFile, "cannot load CA certificates from tls.cacertfile \(path): \(OpenSSLErrors.drain())")
        }
        if config.role == .server {
            // Tell clients which CAs we accept, so they pick the right certificate.
            if let names = SSL_load_client_CA_file(path) { SSL_CTX_set_client_CA_list(ctx, names) }
            OpenSSLErrors.clear()
        }
    }

    func dhFile() throws {
        guard let dhfile = config.dhFile else { return }
        let path = try readable(dhfile, option: "tls.dhfile")
        guard let bio = BIO_new_file(path, "r") else {
            throw TLSConfigurationError(.dhFile, "cannot open tls.dhfile \(path): \(OpenSSLErrors.drain())")
        }
        defer { BIO_free(bio) }
        guard let pkey = PEM_read_bio_Parameters(bio, nil) else {
            throw TLSConfigurationError(.dhFile, "no Diffie-Hellman parameters in tls.dhfile \(path): \(OpenSSLErrors.drain(fallback: "not a PEM parameters file"))")
        }
        guard EVP_PKEY_get_base_id(pkey) == EVP_PKEY_DH else {
            EVP_PKEY_free(pkey)
            throw TLSConfigurationError(.dhFile, "tls.dhfile \(path) holds parameters that are not Diffie-Hellman ones")
        }
        // On success the context owns pkey.
        if SSL_CTX_set0_tmp_dh_pkey(ctx, pkey) != 1 {
            EVP_PKEY_free(pkey)
            throw TLSConfigurationError(.dhFile, "OpenSSL rejected the parameters in tls.dhfile \(path): \(OpenSSLErrors.drain())")
        }
    }

    func crlFiles() throws {
        guard !config.crlFiles.isEmpty, let store = SSL_CTX_get_cert_store(ctx) else { return }
        for file in config.crlFiles {
            let path = try readable(file, option: "tls.crl_files entry")
            guard let bio = BIO_new_file(path, "r") else {
                throw TLSConfigurationError(.crlFile, "cannot open CRL file \(path): \(OpenSSLErrors.drain())")
            }
            defer { BIO_free(bio) }
            var count = 0
            while let crl = PEM_read_bio_X509_CRL(bio, nil, nil, nil) {
                defer { X509_CRL_free(crl) }   // the store takes its own reference
                if X509_STORE_add_crl(store, crl) != 1 {
                    throw TLSConfigurationError(.crlFile, "cannot add CRL from \(path): \(OpenSSLErrors.drain())")
                }
                count += 1
            }
            // Reading stops with a "no start line" error at end of file: expected, unless nothing was read.
            let text = OpenSSLErrors.drain(fallback: "no CRL found")
            if count == 0 {
                throw TLSConfigurationError(.crlFile, "no CRL in tls.crl_files entry \(path): \(text)")
            }
        }
        // Check the leaf against its issuer's CRL (X509_V_FLAG_CRL_CHECK = 0x4).
        _ = X509_STORE_set_flags(store, UInt(X509_V_FLAG_CRL_CHECK))
    }

    func verification() {
        let peer = SSL_VERIFY_PEER, fail = SSL_VERIFY_FAIL_IF_NO_PEER_CERT
        switch (config.verification, config.role) {
        case (.none, _):
            SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nil)
        case (.peer, .server):
            SSL_CTX_set_verify(ctx, peer | fail, nil)
        case (.peer, .client):
            SSL_CTX_set_verify(ctx, peer, nil)
        case (.selfSignedPeer, .server):
            SSL_CTX_set_verify(ctx, peer | fail, VerifyCallbacks.allowSelfSigned)
        case (.selfSignedPeer, .client):
            SSL_CTX_set_verify(ctx, peer, VerifyCallbacks.allowSelfSigned)
        case (.report, _), (.acceptAny, _):
            // Ask for a certificate, never fail: the result goes into TLSHandshakeCompleted.
            SSL_CTX_set_verify(ctx, peer, VerifyCallbacks.acceptAll)
        }
    }
}
