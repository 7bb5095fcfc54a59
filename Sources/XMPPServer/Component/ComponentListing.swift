import Foundation
import XMPPCore
#if canImport(Glibc)
import Glibc
#endif

/// One connected component as `xmppctl components` shows it.
public struct ComponentInfo: Codable, Equatable, Sendable {
    public var domain: String
    /// The worker process holding its connection.
    public var workerPID: Int32
    public var hidden: Bool
}

/// `xmppctl components`: asks one live worker, over its mesh socket, for its copy of
/// the replicated component table. The control tool joins the mesh like a worker
/// (header with its own pid), sends `<component-list/>` and reads
/// `<component-list-result>`; the worker sees a peer that holds nothing come and go.
public enum ComponentListing {
    static let requestName = "component-list"
    static let resultName = "component-list-result"

    /// The worker side: answers a listing request from `peer`.
    static func answer(registry: ComponentRegistry, mesh: Mesh, peer: Int32) {
        var result = XMLElement(name: resultName, namespace: MeshFrame.namespace)
        for entry in registry.domains() {
            result.append(XMLElement(name: "component", namespace: MeshFrame.namespace, attributes: [
                "domain": entry.domain, "worker": String(entry.peer ?? mesh.pid), "hidden": entry.hidden ? "1" : "0"]))
        }
        mesh.send(result, to: peer)
    }

    public enum ListingError: Error, CustomStringConvertible {
        case noWorker(String)
        public var description: String {
            switch self { case .noWorker(let message): return message }
        }
    }

    /// The client side, blocking: tries each worker socket under `<stateDirectory>/mesh`.
    public static func fetch(stateDirectory: String, timeout: TimeInterval = 5) throws -> [ComponentInfo] {
        let directory = stateDirectory + "/mesh"
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".sock") }
        var lastError = "no worker socket in \(directory): is xmppd running?"
        for name in names.sorted() {
            do {
                return try ask(path: directory + "/" + name, timeout: timeout)
            } catch {
                lastError = "\(directory)/\(name): \(error)"
            }
        }
        throw ListingError.noWorker(lastError)
    }

    private static func ask(path: String, timeout: TimeInterval) throws -> [ComponentInfo] {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ListingError.noWorker("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw ListingError.noWorker("path too long") }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { throw ListingError.noWorker("connect: \(String(cString: strerror(errno)))") }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))

        let request = MeshFrame.header(pid: getpid())
            + "<\(requestName) xmlns='\(MeshFrame.namespace)'/>"
        let bytes = Array(request.utf8)
        guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw ListingError.noWorker("write: \(String(cString: strerror(errno)))")
        }
        let parser = XMLStreamParser(maxStanzaSize: nil)
        var result: XMLElement?
        var buffer = [UInt8](repeating: 0, count: 65536)
        while result == nil {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard count > 0 else { throw ListingError.noWorker("no answer from the worker") }
            try parser.feed(Array(buffer[0..<count])) { event in
                if case .element(let element) = event, element.name == resultName { result = element }
            }
        }
        return result!.elements.compactMap { element in
            guard let domain = element[attribute: "domain"], let pid = element[attribute: "worker"].flatMap(Int32.init) else {
                return nil
            }
            return ComponentInfo(domain: domain, workerPID: pid, hidden: element[attribute: "hidden"] == "1")
        }
    }
}
