import XMPPConfig
#if canImport(Glibc)
import Glibc
#endif

/// Binds the listening socket for a listener. The supervisor owns it for the
/// listener's whole life, so workers can come and go while connection attempts
/// wait in the kernel backlog instead of being refused.
enum ListenerSocket {
    struct BindError: Error, CustomStringConvertible {
        var description: String
    }

    static func bind(_ listener: ListenerConfig) throws -> Int32 {
        let family = listener.ipVersion == 6 ? AF_INET6 : AF_INET
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw failure("socket", listener) }
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        let result: Int32
        if family == AF_INET6 {
            // A listener on "::" serves IPv6 only; an IPv4 listener on the same port
            // is a separate [[listen]] entry, as in MongooseIM.
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &on, socklen_t(MemoryLayout<Int32>.size))
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = in_port_t(UInt16(listener.port).bigEndian)
            guard inet_pton(AF_INET6, listener.ipAddress, &address.sin6_addr) == 1 else {
                close(fd)
                throw BindError(description: "\(listener.keyPath): bad IPv6 address \(listener.ipAddress)")
            }
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        } else {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(listener.port).bigEndian)
            guard inet_pton(AF_INET, listener.ipAddress, &address.sin_addr) == 1 else {
                close(fd)
                throw BindError(description: "\(listener.keyPath): bad IPv4 address \(listener.ipAddress)")
            }
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        guard result == 0 else {
            let error = failure("bind", listener)
            close(fd)
            throw error
        }
        guard listen(fd, Int32(listener.backlog)) == 0 else {
            let error = failure("listen", listener)
            close(fd)
            throw error
        }
        return fd
    }

    private static func failure(_ call: String, _ listener: ListenerConfig) -> BindError {
        BindError(description: "\(listener.keyPath): \(call) \(listener.bindKey): \(String(cString: strerror(errno)))")
    }
}
