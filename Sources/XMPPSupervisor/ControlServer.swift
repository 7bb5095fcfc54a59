import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The supervisor's end of the control socket: accepts xmppctl connections on a
/// thread of its own, reads one request line, and hands it to `handler` together
/// with a reply function that may be called later (reload replies when done).
final class ControlServer: @unchecked Sendable {
    private let path: String
    private var listenFD: Int32 = -1

    init(path: String) { self.path = path }

    func start(handler: @escaping (ControlRequest, @escaping (ControlResponse) -> Void) -> Void) throws {
        if FileManager.default.fileExists(atPath: path) {
            if let _ = try? ControlClient.connect(path: path) {
                throw SupervisorError.message("another xmppd is already running with control socket \(path)")
            }
            unlink(path) // a stale socket from a crashed supervisor
        }
        listenFD = try UnixSocket.listen(path: path)
        let thread = Thread { [self] in
            while true {
                let client = accept(listenFD, nil, nil)
                if client < 0 { if errno == EINTR { continue } else { break } }
                Thread { Self.serve(client: client, handler: handler) }.start()
            }
        }
        thread.start()
    }

    private static func serve(client: Int32, handler: (ControlRequest, @escaping (ControlResponse) -> Void) -> Void) {
        guard let line = UnixSocket.readLine(fd: client),
              let request = try? JSONDecoder().decode(ControlRequest.self, from: Data(line.utf8)) else {
            UnixSocket.writeLine(fd: client, ControlResponse(ok: false, message: "bad control request"))
            close(client)
            return
        }
        handler(request) { response in
            UnixSocket.writeLine(fd: client, response)
            close(client)
        }
    }

    func stop() {
        if listenFD >= 0 { close(listenFD) }
        unlink(path)
    }
}

/// xmppctl's side.
public enum ControlClient {
    public static func connect(path: String) throws -> Int32 {
        try UnixSocket.connect(path: path)
    }

    public static func send(_ request: ControlRequest, path: String) throws -> ControlResponse {
        let fd = try connect(path: path)
        defer { close(fd) }
        UnixSocket.writeLine(fd: fd, request)
        guard let line = UnixSocket.readLine(fd: fd) else {
            throw SupervisorError.message("the server closed the control connection without replying")
        }
        return try JSONDecoder().decode(ControlResponse.self, from: Data(line.utf8))
    }
}

enum UnixSocket {
    static func address(_ path: String) throws -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw SupervisorError.message("control socket path too long (\(bytes.count) bytes): \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return address
    }

    static func listen(path: String) throws -> Int32 {
        var address = try address(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0, Glibc.listen(fd, 16) == 0 else {
            let code = errno
            close(fd)
            throw SupervisorError.system("bind control socket \(path)", code)
        }
        chmod(path, 0o600) // only the server's user may control it
        return fd
    }

    static func connect(path: String) throws -> Int32 {
        var address = try address(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else {
            let code = errno
            close(fd)
            throw SupervisorError.system("connect to \(path) (is xmppd running?)", code)
        }
        return fd
    }

    static func readLine(fd: Int32) -> String? {
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while bytes.count < 1 << 20 {
            let n = read(fd, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self) }
            if byte == UInt8(ascii: "\n") { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(byte)
        }
        return nil
    }

    static func writeLine<T: Encodable>(fd: Int32, _ value: T) {
        guard var data = try? JSONEncoder().encode(value) else { return }
        data.append(UInt8(ascii: "\n"))
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                offset += n
            }
        }
    }
}
