import Foundation
import XMPPCore
#if canImport(Glibc)
import Glibc
#endif

/// The control tool's way into the mesh (`xmppctl components`, `sessions`, `kick`): it
/// connects to a worker's mesh socket like a worker would (a header with its own
/// pid), sends one frame and, for a question, reads the answer; the worker sees a
/// peer that holds nothing come and go.
public enum MeshQuery {
    public enum QueryError: Error, CustomStringConvertible {
        case noWorker(String)
        public var description: String {
            switch self { case .noWorker(let message): return message }
        }
    }

    /// The mesh sockets of the live workers, by pid.
    static func sockets(stateDirectory: String) -> [(pid: Int32, path: String)] {
        let directory = stateDirectory + "/mesh"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.sorted().compactMap { name in
            guard name.hasSuffix(".sock"), let pid = Int32(name.dropLast(5)) else { return nil }
            return (pid, directory + "/" + name)
        }
    }

    /// Asks the first worker that answers: sends `frame` and returns the first
    /// element named `answer`.
    static func ask(stateDirectory: String, frame: XMLElement, answer: String, timeout: TimeInterval = 5) throws -> XMLElement {
        var lastError = "no worker socket in \(stateDirectory)/mesh: is xmppd running?"
        for (_, path) in sockets(stateDirectory: stateDirectory) {
            do {
                return try exchange(path: path, frame: frame, answer: answer, timeout: timeout)!
            } catch {
                lastError = "\(path): \(error)"
            }
        }
        throw QueryError.noWorker(lastError)
    }

    /// Asks every live worker (for what each knows of itself only): their answers by pid.
    /// A worker that exits meanwhile is left out.
    static func askEvery(stateDirectory: String, frame: XMLElement, answer: String,
                         timeout: TimeInterval = 5) throws -> [(pid: Int32, answer: XMLElement)] {
        let workers = sockets(stateDirectory: stateDirectory)
        guard !workers.isEmpty else { throw QueryError.noWorker("no worker socket in \(stateDirectory)/mesh: is xmppd running?") }
        return workers.compactMap { pid, path in
            (try? exchange(path: path, frame: frame, answer: answer, timeout: timeout)).flatMap { $0 }.map { (pid, $0) }
        }
    }

    /// Sends `frame` to worker `pid` without waiting for an answer.
    static func tell(stateDirectory: String, pid: Int32, frame: XMLElement) throws {
        guard let socket = sockets(stateDirectory: stateDirectory).first(where: { $0.pid == pid }) else {
            throw QueryError.noWorker("worker \(pid) has no mesh socket: it has exited")
        }
        _ = try exchange(path: socket.path, frame: frame, answer: nil, timeout: 5)
    }

    private static func exchange(path: String, frame: XMLElement, answer: String?, timeout: TimeInterval) throws -> XMLElement? {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw QueryError.noWorker("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw QueryError.noWorker("path too long") }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { throw QueryError.noWorker("connect: \(String(cString: strerror(errno)))") }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))

        var frameBytes: [UInt8] = []
        frame.serialize(into: &frameBytes, parentNamespace: nil)
        let bytes = Array(MeshFrame.header(pid: getpid(), worker: false).utf8) + frameBytes
        guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw QueryError.noWorker("write: \(String(cString: strerror(errno)))")
        }
        guard let answer else { return nil }
        let parser = XMLStreamParser(maxStanzaSize: nil)
        var result: XMLElement?
        var buffer = [UInt8](repeating: 0, count: 65536)
        while result == nil {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard count > 0 else { throw QueryError.noWorker("no answer from the worker") }
            try parser.feed(Array(buffer[0..<count])) { event in
                if case .element(let element) = event, element.name == answer { result = element }
            }
        }
        return result
    }
}
