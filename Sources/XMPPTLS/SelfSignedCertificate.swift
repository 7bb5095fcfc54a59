import COpenSSL
import Foundation

/// A certificate for xmppd's first start, when the configured certfile does not exist yet:
/// EC P-256 key, self-signed X.509 v3, valid 10 years, subjectAltName dNSName for every host
/// and CN of the first.
public enum SelfSignedCertificate {
    /// Writes PEM files. With `keyPath` nil, certificate and key go into `certificatePath`
    /// (fast_tls style) with mode 0600; otherwise the key file gets 0600 and the certificate 0644.
    public static func generate(hosts: [String], certificatePath: String, keyPath: String? = nil) throws {
        guard let first = hosts.first else {
            throw TLSConfigurationError(.other, "a self-signed certificate needs at least one host name")
        }
        OpenSSLErrors.clear()
        let key = try generateKey()
        defer { EVP_PKEY_free(key) }
        guard let cert = X509_new() else { throw failure("X509_new") }
        defer { X509_free(cert) }

        _ = X509_set_version(cert, 2)   // v3
        var serial: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &serial) { RAND_bytes($0.baseAddress!.assumingMemoryBound(to: UInt8.self), 8) }
        _ = ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert), serial >> 1)  // positive
        _ = X509_gmtime_adj(X509_getm_notBefore(cert), -3600)   // tolerate clocks slightly behind
        _ = X509_gmtime_adj(X509_getm_notAfter(cert), 10 * 365 * 86_400)
        _ = X509_set_pubkey(cert, key)

        let name = X509_get_subject_name(cert)
        // MBSTRING_ASC = MBSTRING_FLAG | 1
        guard X509_NAME_add_entry_by_txt(name, "CN", 0x1001, first, -1, -1, 0) == 1 else { throw failure("subject CN \(first)") }
        _ = X509_set_issuer_name(cert, name)

        try addExtension(cert, nid: NID_subject_alt_name, critical: false, DER.subjectAltNameValue(dnsNames: hosts))
        try addExtension(cert, nid: NID_basic_constraints, critical: true, [0x30, 0x00])   // CA:FALSE

        guard X509_sign(cert, key, EVP_sha256()) > 0 else { throw failure("signing") }

        let certPEM = try pem { PEM_write_bio_X509($0, cert) }
        let keyPEM = try pem { PEM_write_bio_PrivateKey($0, key, nil, nil, 0, nil, nil) }
        if let keyPath {
            try write(keyPEM, to: keyPath, mode: 0o600)
            try write(certPEM, to: certificatePath, mode: 0o644)
        } else {
            try write(certPEM + keyPEM, to: certificatePath, mode: 0o600)
        }
    }

    private static func generateKey() throws -> OpaquePointer {
        // EVP_EC_gen is a variadic macro; the long form is callable from Swift.
        guard let ctx = EVP_PKEY_CTX_new_from_name(nil, "EC", nil) else { throw failure("EC key context") }
        defer { EVP_PKEY_CTX_free(ctx) }
        var key: OpaquePointer? = nil
        guard EVP_PKEY_keygen_init(ctx) == 1, EVP_PKEY_CTX_set_group_name(ctx, "P-256") == 1,
              EVP_PKEY_generate(ctx, &key) == 1, let key else { throw failure("EC P-256 key generation") }
        return key
    }

    private static func addExtension(_ cert: OpaquePointer, nid: Int32, critical: Bool, _ value: [UInt8]) throws {
        guard let data = ASN1_OCTET_STRING_new() else { throw failure("extension") }
        defer { ASN1_OCTET_STRING_free(data) }
        _ = ASN1_OCTET_STRING_set(data, value, Int32(value.count))
        guard let ext = X509_EXTENSION_create_by_NID(nil, nid, critical ? 1 : 0, data) else { throw failure("extension \(nid)") }
        defer { X509_EXTENSION_free(ext) }
        guard X509_add_ext(cert, ext, -1) == 1 else { throw failure("adding extension \(nid)") }
    }

    private static func pem(_ write: (OpaquePointer) -> Int32) throws -> [UInt8] {
        guard let bio = BIO_new(BIO_s_mem()) else { throw failure("BIO_new") }
        defer { BIO_free(bio) }
        guard write(bio) == 1 else { throw failure("PEM encoding") }
        let count = Int(BIO_ctrl_pending(bio))
        var out = [UInt8](repeating: 0, count: count)
        _ = BIO_read(bio, &out, Int32(count))
        return out
    }

    /// Creates the file with its final mode, so the key is never readable by others, even briefly.
    private static func write(_ bytes: [UInt8], to path: String, mode: mode_t) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)
        guard fd >= 0 else {
            throw TLSConfigurationError(.fileUnreadable, "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        _ = fchmod(fd, mode)   // O_CREAT's mode only applies to new files (and is masked by umask)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else {
                throw TLSConfigurationError(.fileUnreadable, "cannot write \(path): \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    private static func failure(_ what: String) -> TLSConfigurationError {
        TLSConfigurationError(.other, "self-signed certificate: \(what) failed: \(OpenSSLErrors.drain())")
    }
}
