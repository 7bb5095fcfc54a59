#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import XMPPConfig

/// Name lookup for outgoing server-to-server connections (blocking: run it off
/// the event loops).
enum S2SResolver {
    /// RFC 6120 §3.2: the targets of the domain's `_xmpp-server._tcp` SRV records in
    /// their order, or else the domain itself on `port`; each target's addresses as
    /// `addresses` gives them.
    static func lookup(_ domain: String, port: Int, versions: [Int], attempts: Int, timeout: Int,
                       nameservers: [S2SConfig.Address]) -> Result<[SocketAddress], Error> {
        var targets = [(host: domain, port: port)]
        switch SRVLookup.lookup("_xmpp-server._tcp.\(domain)", nameservers: nameservers, timeout: timeout, attempts: attempts) {
        case .records(let records):
            targets = records.map { ($0.target, $0.port) }
        case .serviceRefused:
            return .failure(S2SConnectError(condition: "remote-server-not-found",
                                            description: "\(domain) offers no XMPP server (its SRV record is \".\")"))
        case .none:
            break
        }
        var found: [SocketAddress] = []
        var lastFailure: Error?
        for target in targets {
            switch addresses(target.host, port: target.port, versions: versions, attempts: attempts) {
            case .success(let addresses): found += addresses
            case .failure(let error): lastFailure = error
            }
        }
        if found.isEmpty, let lastFailure { return .failure(lastFailure) }
        return .success(found)
    }

    /// A host's addresses for TCP, IPv4 and IPv6 ordered as `versions` says, others
    /// left out. Temporary failures are retried up to `attempts` times.
    static func addresses(_ domain: String, port: Int, versions: [Int], attempts: Int) -> Result<[SocketAddress], Error> {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var lastError: Int32 = 0
        for _ in 0..<max(1, attempts) {
            var list: UnsafeMutablePointer<addrinfo>?
            lastError = getaddrinfo(domain, String(port), &hints, &list)
            if lastError == 0 {
                defer { freeaddrinfo(list) }
                var found: [(version: Int, address: SocketAddress)] = []
                var entry = list
                while let info = entry?.pointee {
                    if let address = info.ai_addr, let converted = socketAddress(address, host: domain) {
                        found.append(converted)
                    }
                    entry = info.ai_next
                }
                let ordered = versions.flatMap { version in found.filter { $0.version == version }.map(\.address) }
                guard !ordered.isEmpty else { break }
                return .success(ordered)
            }
            if lastError != EAI_AGAIN { break }
        }
        let reason = lastError == 0 ? "no address of the configured IP versions" : String(cString: gai_strerror(lastError))
        return .failure(S2SConnectError(condition: "remote-server-not-found", description: "cannot resolve \(domain): \(reason)"))
    }

    private static func socketAddress(_ address: UnsafeMutablePointer<sockaddr>, host: String) -> (version: Int, address: SocketAddress)? {
        switch Int32(address.pointee.sa_family) {
        case AF_INET:
            return address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { (4, SocketAddress($0.pointee, host: host)) }
        case AF_INET6:
            return address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { (6, SocketAddress($0.pointee, host: host)) }
        default:
            return nil
        }
    }
}
