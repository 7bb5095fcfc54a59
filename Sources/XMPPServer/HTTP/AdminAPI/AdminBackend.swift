import Foundation
import NIOCore
import XMPPConfig
import XMPPCore
import XMPPModuleAPI
import XMPPStore

/// What the admin API acts on: the accounts in SQLite, the session registry (every
/// worker's sessions) and the router.
final class AdminBackend: @unchecked Sendable {
    let hosts: Set<String>
    private let databasePath: String
    private let auth: AuthConfig
    private let registry: SessionRegistry
    private let router: StanzaRouter
    private let hooks: Hooks
    private let modules: ModuleRuntime
    private let archive: ArchiveLookup
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
        self.hooks = modules.hooks
        self.modules = modules
        self.userData = userData
        archive = ArchiveLookup(registry: registry, modules: modules, eventLoop: eventLoop)
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
        registry.allSessionJIDs().filter { $0.domain == host }
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

    /// A chat message as if `from` had sent it.
    func sendMessage(from: JID, to: JID, body: String) {
        send(XMLElement(name: "message", namespace: XMPPNamespace.client,
                        attributes: ["type": "chat", "id": UUID().uuidString],
                        children: [.element(XMLElement(name: "body", namespace: XMPPNamespace.client, children: [.text(body)]))]),
             from: from, to: to)
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
        if hooks.runUserSendPacket(from, stanza) == .handled { return }
        _ = router.route(stanza, to: to)
    }

    /// A jabber:iq:roster request on behalf of `user` (a bare JID), answered by
    /// whichever module serves the roster, as the user's own client would be;
    /// `done` gets the iq result or error (an error iq with `item-not-found` if the
    /// account does not exist).
    func rosterRequest(_ type: String, for user: JID, item: XMLElement?,
                       _ done: @escaping @Sendable (Result<XMLElement, Error>) -> Void) {
        withAccounts({ $0.exists(user: user.local ?? "", domain: user.domain) }, then: { [modules] result in
            guard case .success(true) = result else { return done(.failure(AccountError.notFound)) }
            var query = XMLElement(name: "query", namespace: "jabber:iq:roster")
            if let item { query.append(item) }
            let iq = XMLElement(name: "iq", namespace: XMPPNamespace.client,
                                attributes: ["type": type, "id": UUID().uuidString, "from": user.description],
                                children: [.element(query)])
            modules.dispatchIQ(iq, from: user, to: user, target: .account) { done(.success($0)) }
        })
    }

    /// The last messages of a user's archive (see ArchiveLookup); `done` gets
    /// AccountError.notFound for an unknown user.
    func lastMessages(of owner: JID, with: JID?, before: Date, limit: Int,
                      _ done: @escaping @Sendable (Result<[ArchiveLookup.Message], Error>) -> Void) {
        withAccounts({ $0.exists(user: owner.local ?? "", domain: owner.domain) }, then: { [archive] result in
            guard case .success(true) = result else { return done(.failure(AccountError.notFound)) }
            archive.lastMessages(of: owner, with: with, before: before, limit: limit) { done($0.mapError { $0 }) }
        })
    }
}
