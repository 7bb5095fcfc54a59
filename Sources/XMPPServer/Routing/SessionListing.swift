import Foundation
import XMPPCore

/// One bound session as `xmppctl sessions` shows it.
public struct SessionInfo: Codable, Equatable, Sendable {
    public var jid: String
    /// The worker process holding its connection.
    public var workerPID: Int32
    public var available: Bool
    public var priority: Int
}

/// `xmppctl sessions` and `xmppctl kick` (ejabberdctl's connected_users and
/// kick_session): every worker has the whole session registry, so one answers for
/// all; a kick goes to the worker holding the session, as the mesh's own `kick` frame.
public enum SessionListing {
    static let requestName = "session-list"
    static let resultName = "session-list-result"

    /// The worker side: answers a listing request from `peer`.
    static func attach(to mesh: Mesh, registry: SessionRegistry) {
        mesh.addFrameHandler(requestName) { [weak mesh] _, peer, _ in
            guard let mesh else { return }
            var result = XMLElement(name: resultName, namespace: MeshFrame.namespace)
            for session in registry.allSessions() {
                result.append(XMLElement(name: "session", namespace: MeshFrame.namespace, attributes: [
                    "jid": session.jid.description, "worker": String(session.peer ?? mesh.pid),
                    "available": session.available ? "1" : "0", "priority": String(session.priority)]))
            }
            mesh.send(result, to: peer)
        }
    }

    /// Every session, sorted by JID.
    public static func fetch(stateDirectory: String) throws -> [SessionInfo] {
        let result = try MeshQuery.ask(stateDirectory: stateDirectory,
                                       frame: XMLElement(name: requestName, namespace: MeshFrame.namespace), answer: resultName)
        return result.elements.compactMap { element -> SessionInfo? in
            guard let jid = element[attribute: "jid"], let pid = element[attribute: "worker"].flatMap(Int32.init) else { return nil }
            return SessionInfo(jid: jid, workerPID: pid, available: element[attribute: "available"] == "1",
                               priority: element[attribute: "priority"].flatMap(Int.init) ?? 0)
        }.sorted { $0.jid < $1.jid }
    }

    /// Ends the session of `jid` with the stream error `condition` (MongooseIM's
    /// kick_user ends it with `conflict`); false if no such session is bound.
    public static func kick(_ jid: String, condition: String = "conflict", stateDirectory: String) throws -> Bool {
        guard let session = try fetch(stateDirectory: stateDirectory).first(where: { $0.jid == jid }) else { return false }
        try MeshQuery.tell(stateDirectory: stateDirectory, pid: session.workerPID,
                           frame: XMLElement(name: "kick", namespace: MeshFrame.namespace,
                                             attributes: ["jid": jid, "condition": condition]))
        return true
    }
}
