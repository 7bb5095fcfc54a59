#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// IP address validation via inet_pton, returning the canonical inet_ntop text so that
/// "::0" and "::" (or "127.000.0.1"-style typos) compare as the same bind address.
enum IPAddress {
    /// Returns (normalised text, version) or nil if `text` is not an IPv4/IPv6 address.
    static func parse(_ text: String) -> (address: String, version: Int)? {
        if let v4 = convert(text, family: AF_INET, size: 4) { return (v4, 4) }
        if let v6 = convert(text, family: AF_INET6, size: 16) { return (v6, 6) }
        return nil
    }

    private static func convert(_ text: String, family: Int32, size: Int) -> String? {
        var buffer = [UInt8](repeating: 0, count: size)
        guard inet_pton(family, text, &buffer) == 1 else { return nil }
        var out = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        guard inet_ntop(family, buffer, &out, socklen_t(out.count)) != nil else { return nil }
        return String(cString: out)
    }
}
