#if canImport(Glibc)
import Glibc
#endif
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import XMPPCore
import XMPPModuleAPI
import XMPPTransport

/// The BOSH sessions of one `[[listen.http]]` listener in this worker, by `sid`.
///
/// Requests reach this worker on whichever event loop their HTTP connection is; a
/// session runs on the loop that created it. A request for a session of another
/// worker (the listener's previous worker, draining after a reload) goes there
/// through `relay`.
final class BOSHService: @unchecked Sendable {
    typealias Reply = @Sendable (_ status: HTTPResponseStatus, _ body: String) -> Void

    private let settings: BOSHSettings
    private let env: C2SEnvironment.Shared
    /// A session holds a c2s connection and two sockets between requests, which
    /// `transport.max_connections` does not see: it bounds the sessions too.
    private let maxSessions: Int?
    private let lock = NIOLock()
    private var sessions: [String: BOSHSession] = [:]
    /// Set once, before the listener serves.
    var relay: BOSHRelay?

    init(settings: BOSHSettings, env: C2SEnvironment.Shared, maxSessions: Int?) {
        self.settings = settings
        self.env = env
        self.maxSessions = maxSessions
    }

    /// One POSTed request body.
    func handle(_ text: String, from client: SocketAddress?, on loop: EventLoop, reply: @escaping Reply) {
        guard let body = BOSHBody.parse(text) else {
            return reply(.badRequest, BOSHBody.terminate("bad-request"))
        }
        guard let sid = body[attribute: "sid"] else { return create(body, from: client, on: loop, respond: { reply(.ok, $0) }) }
        if let session = lock.withLock({ sessions[sid] }) { return pass(body, to: session, reply: reply) }
        if let relay, let holder = SessionIDs.worker(of: sid), holder != getpid() {
            return relay.forward(body, to: holder, reply: reply)
        }
        reply(.ok, BOSHBody.terminate("item-not-found"))
    }

    /// A request another worker relayed: served here or not at all (never relayed on).
    func handleRelayed(_ body: XMLElement, reply: @escaping Reply) {
        guard let sid = body[attribute: "sid"], let session = lock.withLock({ sessions[sid] }) else {
            return reply(.ok, BOSHBody.terminate("item-not-found"))
        }
        pass(body, to: session, reply: reply)
    }

    private func pass(_ body: XMLElement, to session: BOSHSession, reply: @escaping Reply) {
        session.loop.execute { session.request(body, { reply(.ok, $0) }) }
    }

    /// XEP-0124 §7.1: a session creation request (no `sid`).
    private func create(_ body: XMLElement, from client: SocketAddress?, on loop: EventLoop, respond: @escaping BOSHResponder) {
        guard body[attribute: "rid"].flatMap(Int.init) != nil else { return respond(BOSHBody.terminate("bad-request")) }
        guard let domain = body[attribute: "to"], env.value.hosts.contains(domain.lowercased()) else {
            return respond(BOSHBody.terminate("host-unknown"))
        }
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0 else {
            return respond(BOSHBody.terminate("internal-server-error"))
        }
        let sid = SessionIDs.make(worker: getpid())
        let session = BOSHSession(sid: sid, loop: loop, settings: settings, creation: body, domain: domain.lowercased())
        session.onEnd = { [weak self] in self?.lock.withLock { _ = self?.sessions.removeValue(forKey: sid) } }
        let admitted = lock.withLock { () -> Bool in
            if let maxSessions, sessions.count >= maxSessions { return false }
            sessions[sid] = session
            return true
        }
        guard admitted else {
            close(fds[0])
            close(fds[1])
            return respond(BOSHBody.terminate("policy-violation"))
        }
        let env = self.env
        // The c2s end: an ordinary c2s connection that sees the HTTP client's address.
        ClientBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(C2SConnection(env: env)) }
            }
            .withConnectedSocket(fds[0])
            .flatMap { c2s -> EventLoopFuture<Channel> in
                c2s.pipeline.fireUserInboundEventTriggered(
                    ProxyProtocolHeader(version: .v2, command: .proxy, source: client, destination: nil))
                return ClientBootstrap(group: loop)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(BOSHLink(session: session)) }
                    }
                    .withConnectedSocket(fds[1])
            }
            .whenComplete { result in
                switch result {
                case .success(let link): session.start(link: link, respond: respond)
                case .failure:
                    session.end()
                    respond(BOSHBody.terminate("internal-server-error"))
                }
            }
    }
}

/// Session ids: 128 random bits in hex, then the pid of the worker that holds the
/// session, so that any worker of the listener can find it (`BOSHRelay`).
enum SessionIDs {
    static func make(worker: Int32) -> String {
        var generator = SystemRandomNumberGenerator()
        let random = (0..<2).map { _ in
            let hex = String(generator.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
        return "\(random)-\(worker)"
    }

    static func worker(of sid: String) -> Int32? {
        guard let dash = sid.lastIndex(of: "-") else { return nil }
        return Int32(sid[sid.index(after: dash)...])
    }
}
