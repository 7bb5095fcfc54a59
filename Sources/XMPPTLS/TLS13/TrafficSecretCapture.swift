import COpenSSL

/// Collects a connection's TLS 1.3 application traffic secrets as OpenSSL derives them.
///
/// OpenSSL 3.0 has no call that returns the current traffic secrets; its key-log callback
/// (the SSLKEYLOGFILE mechanism) is the supported way to see them. The callback is set on
/// server contexts that compact their sessions; it finds this object through the SSL's
/// app-data slot and keeps only the two lines it needs. Nothing is written anywhere.
final class TrafficSecretCapture {
    private(set) var client: [UInt8]?
    private(set) var server: [UInt8]?

    /// Makes `ssl` report its secrets to this object, which must outlive `ssl`'s handshake.
    func attach(to ssl: OpaquePointer) {
        _ = SSL_set_ex_data(ssl, 0, Unmanaged.passUnretained(self).toOpaque())
    }

    /// Wipes the secrets once they are handed over.
    func clear() {
        // OPENSSL_cleanse is a memset the compiler may not drop.
        client?.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) }
        server?.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) }
        client = nil
        server = nil
    }

    static func enable(on ctx: OpaquePointer) { SSL_CTX_set_keylog_callback(ctx, keyLogCallback) }

    /// "CLIENT_TRAFFIC_SECRET_0 <client random, hex> <secret, hex>", one line per secret.
    private static let keyLogCallback: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?) -> Void = { ssl, line in
        // Five or so lines per TLS 1.3 handshake; only two matter.
        // ("CLIENT" and "SERVER" are both six letters.)
        guard let ssl, let line, strnlen(line, 24) == 24, strncmp(line + 6, "_TRAFFIC_SECRET_0 ", 18) == 0,
              let raw = SSL_get_ex_data(ssl, 0) else { return }
        let capture = Unmanaged<TrafficSecretCapture>.fromOpaque(raw).takeUnretainedValue()
        let fields = String(cString: line).split(separator: " ")
        guard fields.count == 3, let secret = hexBytes(fields[2]) else { return }
        switch fields[0] {
        case "CLIENT_TRAFFIC_SECRET_0": capture.client = secret
        case "SERVER_TRAFFIC_SECRET_0": capture.server = secret
        default: break
        }
    }

    private static func hexBytes(_ hex: Substring) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var i = 0
        while i < digits.count {
            guard let high = nibble(digits[i]), let low = nibble(digits[i + 1]) else { return nil }
            bytes.append(high << 4 | low)
            i += 2
        }
        return bytes
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
