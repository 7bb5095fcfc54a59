import NIOConcurrencyHelpers
import XMPPCore

/// One server-to-server stream as `xmppctl s2s` shows it.
public struct S2SStreamInfo: Codable, Equatable, Sendable {
    /// "in" (the peer's stream to our s2s listener) or "out" (ours to the peer).
    public var direction: String
    public var localDomain: String
    public var remoteDomain: String
    /// out: connecting, established, failed (the last attempt failed: stanzas bounce
    /// until the retry delay has passed, then the next one tries again) or idle (the
    /// stream ended; the next stanza reconnects); in: verified.
    public var state: String
    public var tls: Bool
    /// How the remote domain was authenticated once the stream is up: "dialback"
    /// (XEP-0220) or "external" (its certificate, SASL EXTERNAL, XEP-0178).
    public var auth: String?
    public var workerPID: Int32
}

/// The streams of this worker with other servers, for `xmppctl s2s` (ejabberdctl's
/// incoming_s2s_number / outgoing_s2s_number, with the detail). Each worker knows its
/// own streams only, so the listing asks every worker.
public final class S2SDirectory: @unchecked Sendable {
    private struct Key: Hashable {
        let owner: ObjectIdentifier
        let pair: DomainPair
    }

    private let lock = NIOLock()
    private var streams: [Key: (direction: String, state: String, tls: Bool, auth: String?)] = [:]

    /// Records (or, with a nil state, forgets) what `owner` says of `pair`.
    func update(_ owner: AnyObject, _ pair: DomainPair, direction: String, state: String?, tls: Bool = false,
                auth: String? = nil) {
        let key = Key(owner: ObjectIdentifier(owner), pair: pair)
        lock.withLock { streams[key] = state.map { (direction, $0, tls, auth) } }
    }

    /// Forgets everything `owner` recorded (a connection that ended).
    func forget(_ owner: AnyObject) {
        let id = ObjectIdentifier(owner)
        lock.withLock { streams = streams.filter { $0.key.owner != id } }
    }

    static let requestName = "s2s-list"
    static let resultName = "s2s-list-result"

    func attach(to mesh: Mesh) {
        mesh.addFrameHandler(Self.requestName) { [weak self, weak mesh] _, peer, _ in
            guard let self, let mesh else { return }
            var result = XMLElement(name: Self.resultName, namespace: MeshFrame.namespace)
            for (key, stream) in self.lock.withLock({ self.streams }) {
                var entry = XMLElement(name: "stream", namespace: MeshFrame.namespace, attributes: [
                    "direction": stream.direction, "local": key.pair.local, "remote": key.pair.remote,
                    "state": stream.state, "tls": stream.tls ? "1" : "0"])
                if let auth = stream.auth { entry[attribute: "auth"] = auth }
                result.append(entry)
            }
            mesh.send(result, to: peer)
        }
    }

    /// The streams of every live worker, sorted.
    public static func fetch(stateDirectory: String) throws -> [S2SStreamInfo] {
        let frame = XMLElement(name: requestName, namespace: MeshFrame.namespace)
        return try MeshQuery.askEvery(stateDirectory: stateDirectory, frame: frame, answer: resultName).flatMap { pid, result in
            result.elements.compactMap { element -> S2SStreamInfo? in
                guard let direction = element[attribute: "direction"], let local = element[attribute: "local"],
                      let remote = element[attribute: "remote"], let state = element[attribute: "state"] else { return nil }
                return S2SStreamInfo(direction: direction, localDomain: local, remoteDomain: remote, state: state,
                                     tls: element[attribute: "tls"] == "1", auth: element[attribute: "auth"], workerPID: pid)
            }
        }.sorted { ($0.direction, $0.localDomain, $0.remoteDomain, $0.workerPID) < ($1.direction, $1.localDomain, $1.remoteDomain, $1.workerPID) }
    }
}
