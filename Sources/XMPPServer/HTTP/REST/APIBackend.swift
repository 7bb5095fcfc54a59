import Foundation
import NIOCore
import XMPPConfig
import XMPPCore
import XMPPModuleAPI
import XMPPSASL
import XMPPStore

/// What the admin API acts on: the accounts in SQLite, the session registry (every
/// worker's sessions) and the router.
final class APIBackend: @unchecked Sendable {
    let hosts: Set<String>
    private let databasePath: String
    private let auth: AuthConfig
    private let registry: SessionRegistry
    private let router: StanzaRouter
    private let modules: ModuleRuntime
    private let archive: ArchiveLookup
    /// Iqs to services (MUC Light) on a user's behalf.
    let services: ServiceRequest
    /// mod_muc_light's `host` ("muclight.@HOST@" by default), for the rooms APIs;
    /// nil without the module.
    private let roomsHost: String?
    /// Where module requests are made from: modules are called on event loops.
    private let eventLoop: EventLoop
    /// Every module's per-user tables, emptied for a removed account.
    private let userData: [PerUserTable]
    /// Account changes derive SCRAM keys (thousands of hash rounds) and write SQLite:
    /// one at a time, on this queue, never on an event loop.
    private let queue = DispatchQueue(label: "xmppd.admin-api")
    private var store: AccountStore?

    init(config: ServerConfig, registry: SessionRegistry, router: StanzaRouter, modules: ModuleRuntime,
         userData: [PerUserTable], eventLoop: EventLoop) {
        hosts = Set(config.hosts)
        databasePath = config.databasePath
        auth = config.auth
        self.registry = registry
        self.router = router
        self.modules = modules
        self.userData = userData
        archive = ArchiveLookup(registry: registry, modules: modules, eventLoop: eventLoop)
        services = ServiceRequest(registry: registry, router: router, eventLoop: eventLoop)
        roomsHost = config.modules.first { $0.name == "mod_muc_light" }
            .map { (try? $0.reader.string("host", default: "muclight.@HOST@")) ?? "muclight.@HOST@" }
        self.eventLoop = eventLoop
    }

    /// The MUC Light service of a served host; 404 without mod_muc_light.
    func roomsService(of host: String) throws -> JID {
        guard let roomsHost else { throw APIError.notFound("no MUC Light (enable mod_muc_light)") }
        return JID(local: nil, domain: roomsHost.replacingOccurrences(of: "@HOST@", with: host).lowercased(), resource: nil)
    }

    /// Runs `body` on the queue with the account store (opened at first use).
    private func withAccounts<T>(_ body: @escaping (AccountStore) throws -> T,
                                 then done: @escaping (Result<T, Error>) -> Void) {
        queue.async { [self] in
            done(Result {
                if store == nil { store = try AccountStore(database: try SQLiteDatabase(path: databasePath)) }
                return try body(store!)
            })
        }
    }

    func users(host: String, _ done: @escaping (Result<[String], Error>) -> Void) {
        withAccounts({ try $0.users(domain: host) }, then: done)
    }

    func register(user: String, host: String, password: String, _ done: @escaping (Result<Void, Error>) -> Void) {
        withAccounts({ [auth] in
            try $0.register(user: user, domain: host, password: password, iterations: auth.scramIterations, hashes: auth.scramHashes)
        }, then: done)
    }

    func setPassword(user: String, host: String, password: String, _ done: @escaping (Result<Void, Error>) -> Void) {
        withAccounts({ [auth] in
            try $0.setPassword(user: user, domain: host, password: password, iterations: auth.scramIterations, hashes: auth.scramHashes)
        }, then: done)
    }

    /// Removes the account and its data, then ends its sessions wherever they are: a
    /// removed user keeps no way in.
    func unregister(user: String, host: String, _ done: @escaping (Result<Void, Error>) -> Void) {
        withAccounts({ [registry, userData] store in
            try store.unregister(user: user, domain: host, data: userData)
            if let bare = JID(validatingLocal: user, domain: host) {
                for session in registry.sessions(of: bare) { session.terminate(condition: "not-authorized") }
            }
        }, then: done)
    }

    /// Full JIDs of the host's sessions, on this worker and every other.
    func sessions(host: String) -> [JID] {
        registry.allSessions().map(\.jid).filter { $0.domain == host }
    }

    /// Ends one session (on whichever worker holds it); false if there is none. The
    /// client gets `<conflict/>`, as from MongooseIM's kick_user (mod_commands routes
    /// `{exit, <<"kicked">>}`, which ejabberd_c2s:handle_broadcast_result/4 turns
    /// into mongoose_xmpp_errors:stream_conflict).
    func kick(_ jid: JID) -> Bool {
        guard let session = registry.session(for: jid) else { return false }
        session.terminate(condition: "conflict")
        return true
    }

    /// A chat message as if `from` had sent it; returns its id.
    @discardableResult
    func sendMessage(from: JID, to: JID, body: String, type: String = "chat") -> String {
        let id = UUID().uuidString
        send(XMLElement(name: "message", namespace: XMPPNamespace.client,
                        attributes: ["type": type, "id": id],
                        children: [.element(XMLElement(name: "body", namespace: XMPPNamespace.client, children: [.text(body)]))]),
             from: from, to: to)
        return id
    }

    /// A presence subscription stanza (subscribe, subscribed, ...) as if `from` had sent it.
    func sendPresence(type: String, from: JID, to: JID) {
        send(XMLElement(name: "presence", namespace: XMPPNamespace.client, attributes: ["type": type]), from: from, to: to)
    }

    /// As a user's stanza goes: the user_send_packet hooks see it (so mod_mam archives a
    /// message and mod_roster tracks a subscription), then the router takes it.
    private func send(_ stanza: XMLElement, from: JID, to: JID) {
        var stanza = stanza
        stanza[attribute: "from"] = from.description
        stanza[attribute: "to"] = to.description
        if modules.hooks.runUserSendPacket(from, stanza) == .handled { return }
        _ = router.route(stanza, to: to)
    }

    enum RosterOutcome: Equatable, Sendable {
        case done
        case notFound
        case failed(String)
        case noModule
    }

    /// The user's roster as [{jid, subscription, ask}] (ask "out" for a pending
    /// subscription request, else "none"), or nil if no module serves it or there is
    /// no such user.
    func roster(of user: JID, _ done: @escaping @Sendable ([[String: String]]?) -> Void) {
        rosterRequest("get", for: user, item: nil) { result in
            guard case .success(let iq) = result, iq[attribute: "type"] == "result" else { return done(nil) }
            let items = iq.child("query", namespace: Self.roster)?.children("item", namespace: Self.roster) ?? []
            done(items.map { item in
                ["jid": item[attribute: "jid"] ?? "", "subscription": item[attribute: "subscription"] ?? "none",
                 "ask": item[attribute: "ask"] == "subscribe" ? "out" : "none"]
            })
        }
    }

    /// Adds `contact` to the user's roster, or removes it.
    func rosterChange(of user: JID, item contact: JID, remove: Bool, _ done: @escaping @Sendable (RosterOutcome) -> Void) {
        var attributes = ["jid": contact.description]
        if remove { attributes["subscription"] = "remove" }
        rosterRequest("set", for: user, item: XMLElement(name: "item", namespace: Self.roster, attributes: attributes)) { result in
            switch result {
            case .failure: done(.notFound)   // no such user
            case .success(let iq) where iq[attribute: "type"] == "result": done(.done)
            case .success(let iq):
                switch iq.child("error")?.elements.first?.name ?? "undefined-condition" {
                case "item-not-found": done(.notFound)
                case "service-unavailable", "feature-not-implemented": done(.noModule)
                case let condition: done(.failed(condition))
                }
            }
        }
    }

    private static let roster = "jabber:iq:roster"

    /// A jabber:iq:roster request on behalf of `user` (a bare JID), answered by
    /// whichever module serves the roster, as the user's own client would be;
    /// `done` gets the iq result or error, or AccountError.notFound.
    private func rosterRequest(_ type: String, for user: JID, item: XMLElement?,
                       _ done: @escaping @Sendable (Result<XMLElement, Error>) -> Void) {
        var query = XMLElement(name: "query", namespace: Self.roster)
        if let item { query.append(item) }
        let iq = XMLElement(name: "iq", namespace: XMPPNamespace.client,
                            attributes: ["type": type, "id": UUID().uuidString, "from": user.description],
                            children: [.element(query)])
        onLoop(ifUserExists: user, else: { done(.failure(AccountError.notFound)) }) { [modules] in
            modules.dispatchIQ(iq, from: user, to: user, target: .account) { done(.success($0)) }
        }
    }

    /// Runs `body` on the event loop if `user` has an account (checked on the accounts
    /// queue), else `missing` there: module requests on a user's behalf start here.
    private func onLoop(ifUserExists user: JID, else missing: @escaping () -> Void, _ body: @escaping () -> Void) {
        withAccounts({ $0.exists(user: user.local ?? "", domain: user.domain) }, then: { [eventLoop] result in
            guard case .success(true) = result else { return missing() }
            eventLoop.execute(body)
        })
    }

    /// The last messages of a user's archive (see ArchiveLookup); `done` gets
    /// AccountError.notFound for an unknown user.
    func lastMessages(of owner: JID, with: JID?, before: Date, limit: Int,
                      _ done: @escaping @Sendable (Result<[ArchiveLookup.Message], Error>) -> Void) {
        onLoop(ifUserExists: owner, else: { done(.failure(AccountError.notFound)) }) { [archive] in
            archive.lastMessages(of: owner, with: with, before: before, limit: limit) { done($0.mapError { $0 }) }
        }
    }

    /// The last messages of a room's archive, read as `user` (see ArchiveLookup).
    func lastRoomMessages(of room: JID, asking user: JID, before: Date, limit: Int,
                          _ done: @escaping @Sendable (Result<[(message: XMLElement, milliseconds: Int64)], ArchiveLookup.Failure>) -> Void) {
        eventLoop.execute { [archive] in archive.lastRoomMessages(of: room, asking: user, before: before, limit: limit, done) }
    }

    /// HTTP Basic credentials of the client API ("user@host", password), checked as a
    /// PLAIN login would be; `done` gets the user's bare JID, or nil.
    func authenticate(_ credentials: (user: String, password: String)?, _ done: @escaping @Sendable (JID?) -> Void) {
        guard let credentials, let jid = JID(credentials.user), let local = jid.local, hosts.contains(jid.domain) else {
            return done(nil)
        }
        withAccounts({ $0.anyCredentials(user: local, domain: jid.domain) }, then: { result in
            guard case .success(let stored?) = result, stored.verify(password: credentials.password) else {
                return done(nil)
            }
            done(jid.bare)
        })
    }

    /// A session for a server-sent event stream: bound under a resource of its own and
    /// available (priority 0), so messages to the user's bare JID reach it as they
    /// reach the user's clients; nothing is broadcast to contacts.
    /// `ready` runs once the other workers' sockets have it, so that a message sent to
    /// the user after the client hears the stream is open finds it on every worker.
    func openEventSession(for user: JID, on eventLoop: EventLoop, deliver: @escaping (XMLElement) -> Void,
                          terminate: @escaping () -> Void, ready: @escaping @Sendable () -> Void) -> SessionHandle {
        let jid = JID(local: user.local, domain: user.domain, resource: "sse-\(UUID().uuidString)")
        let session = SessionHandle(jid: jid, eventLoop: eventLoop, deliver: deliver, terminate: { _ in terminate() })
        _ = registry.bind(session, at: Date().timeIntervalSince1970)
        registry.setPresence(session, PresenceState(available: true, priority: 0))
        registry.afterReplication(ready)
        return session
    }

    func closeEventSession(_ session: SessionHandle) {
        registry.unbind(session)
    }
}
