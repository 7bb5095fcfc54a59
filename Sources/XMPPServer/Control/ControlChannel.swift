import CPosix
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One end of a SOCK_SEQPACKET socket pair carrying JSON messages, each optionally
/// with a file descriptor attached. Sends are thread-safe (one packet per message);
/// receives block and belong to one reader thread.
public final class ControlChannel: @unchecked Sendable {
    public let fd: Int32
    private let sendLock = NSLock()
    /// Large enough for a whole ServerConfig as JSON.
    private static let maxMessageSize = 1 << 20

    public init(fd: Int32) { self.fd = fd }

    public enum ChannelError: Error, CustomStringConvertible {
        case system(String, Int32)
        case closed
        case truncated
        public var description: String {
            switch self {
            case .system(let what, let err): return "\(what): \(String(cString: strerror(err)))"
            case .closed: return "control channel closed"
            case .truncated: return "control message truncated"
            }
        }
    }

    public func send<T: Encodable>(_ message: T, passing passedFD: Int32 = -1) throws {
        let data = try JSONEncoder().encode(message)
        sendLock.lock(); defer { sendLock.unlock() }
        let sent = data.withUnsafeBytes { raw in
            cposix_send_with_fd(fd, raw.baseAddress, raw.count, passedFD)
        }
        if sent < 0 { throw ChannelError.system("sendmsg", errno) }
    }

    /// Blocks until a message arrives. Returns nil on EOF (the peer is gone).
    public func receive<T: Decodable>(_ type: T.Type) throws -> (T, Int32)? {
        var buffer = [UInt8](repeating: 0, count: Self.maxMessageSize)
        var passed: Int32 = -1
        let n = buffer.withUnsafeMutableBytes { raw in
            cposix_recv_with_fd(fd, raw.baseAddress, raw.count, &passed)
        }
        if n == 0 { return nil }
        if n == -2 { throw ChannelError.truncated }
        if n < 0 { throw ChannelError.system("recvmsg", errno) }
        let message = try JSONDecoder().decode(T.self, from: Data(buffer[0..<n]))
        return (message, passed)
    }

    public func close() { _ = Glibc.close(fd) }
}
