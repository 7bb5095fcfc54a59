import COpenSSL

/// Reading OpenSSL's thread-local error queue. Every failing call leaves entries there; they
/// must be drained (or cleared) right away, or the next, unrelated failure reports stale text.
enum OpenSSLErrors {
    /// All queued errors as `ERR_error_string_n` texts joined by "; ", queue emptied.
    /// `fallback` is used when OpenSSL queued nothing (e.g. a plain fopen failure).
    static func drain(fallback: String = "unknown OpenSSL error") -> String {
        var texts: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buf = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buf, buf.count)
            texts.append(String(cString: buf))
        }
        return texts.isEmpty ? fallback : texts.joined(separator: "; ")
    }

    /// Only the reason strings ("no shared cipher", "unsupported protocol"): what a handshake
    /// failure should say to an operator, without library / function noise. Queue emptied.
    static func drainReasons() -> String? {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            if let r = ERR_reason_error_string(code) {
                reasons.append(String(cString: r))
            } else {
                var buf = [CChar](repeating: 0, count: 256)
                ERR_error_string_n(code, &buf, buf.count)
                reasons.append(String(cString: buf))
            }
        }
        return reasons.isEmpty ? nil : reasons.joined(separator: "; ")
    }

    static func clear() { ERR_clear_error() }
}
