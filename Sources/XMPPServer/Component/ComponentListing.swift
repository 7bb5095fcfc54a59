import Foundation
import XMPPCore

/// One connected component as `xmppctl components` shows it.
public struct ComponentInfo: Codable, Equatable, Sendable {
    public var domain: String
    /// The worker process holding its connection.
    public var workerPID: Int32
    public var hidden: Bool
}

/// `xmppctl components`: asks one live worker, over its mesh socket (MeshQuery), for
/// its copy of the replicated component table: `<component-list/>`, answered with
/// `<component-list-result>`.
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

    /// The client side, blocking: asks the first live worker.
    public static func fetch(stateDirectory: String, timeout: TimeInterval = 5) throws -> [ComponentInfo] {
        let result = try MeshQuery.ask(stateDirectory: stateDirectory,
                                       frame: XMLElement(name: requestName, namespace: MeshFrame.namespace),
                                       answer: resultName, timeout: timeout)
        return result.elements.compactMap { element in
            guard let domain = element[attribute: "domain"], let pid = element[attribute: "worker"].flatMap(Int32.init) else {
                return nil
            }
            return ComponentInfo(domain: domain, workerPID: pid, hidden: element[attribute: "hidden"] == "1")
        }
    }
}
