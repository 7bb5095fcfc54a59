import Foundation
import NIOHTTP1
import XMPPConfig
import XMPPCore
import XMPPSASL
import XMPPStore

/// `[[listen.http.handlers.mongoose_api_admin]]`: MongooseIM's REST API for backend
/// administration, the commands of its mod_commands: users, sessions, messages,
/// contacts and the archive. Paths are relative to the handler's
/// `path`, bodies and answers JSON, as MongooseIM's `mongoose_api_admin`:
///
///     GET    /commands                       the commands below
///     GET    /users/{host}                   registered users, sorted bare JIDs
///     POST   /users/{host}                   {"username", "password"}: register (201, 409 if taken)
///     PUT    /users/{host}/{user}            {"newpass"}: change the password (204)
///     DELETE /users/{host}/{user}            remove the account and end its sessions (204)
///     GET    /sessions/{host}                full JIDs of the sessions, on every worker
///     DELETE /sessions/{host}/{user}/{res}   end one session (200 "kicked", 404 if none)
///     POST   /messages                       {"caller", "to", "body"}: a chat message (204)
///     GET    /contacts/{caller}              the caller's roster: [{jid, subscription, ask}]
///     POST   /contacts/{caller}              {"jid"}: add a contact (204)
///     DELETE /contacts/{caller}/{jid}        remove a contact (204, 404 if not there)
///     PUT    /contacts/{caller}/{jid}        {"action": "subscribe" | "subscribed"}: send it (204)
///     PUT    /contacts/{caller}/{jid}/manage {"action": "connect" | "disconnect"}: mutual subscription
///                                            between two local users, or none (204)
///     GET    /messages/{caller}[/{with}]     ?before=unix seconds&limit=n (100, at most 500): the
///                                            last messages of the caller's archive
///
/// Contacts and the archive are the modules' (mod_roster, mod_mam), reached as a
/// client reaches them: a jabber:iq:roster or XEP-0313 request on the caller's behalf.
///
/// With `username` and `password` set every request needs them as HTTP Basic
/// credentials (401 otherwise), as in MongooseIM.
final class AdminAPI: @unchecked Sendable {
    let handler: HTTPHandlerConfig
    private let credentials: (user: String, password: String)?
    private let backend: APIBackend

    init(handler: HTTPHandlerConfig, username: String?, password: String?, backend: APIBackend) {
        self.handler = handler
        credentials = username.flatMap { user in password.map { (user, $0) } }
        self.backend = backend
    }

    /// The path below the handler's, split, if `uri` is one of this handler's.
    func commandPath(_ uri: String) -> [String]? {
        let path = uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? uri
        let base = handler.path.hasSuffix("/") ? String(handler.path.dropLast()) : handler.path
        guard path == base || path.hasPrefix(base + "/") else { return nil }
        return path.dropFirst(base.count).split(separator: "/").map { $0.removingPercentEncoding ?? String($0) }
    }

    /// Answers one request; `reply` may be called on another thread (account changes
    /// run on the backend's own queue, off the event loop).
    func handle(method: HTTPMethod, path: [String], query: [String: String] = [:], authorization: String?, body: String,
                reply: @escaping @Sendable (RESTResponse) -> Void) {
        guard authorized(authorization) else { return reply(.unauthorized) }
        do {
            try dispatch(method, path, query, body, reply)
        } catch let error as APIError {
            reply(error.response)
        } catch {
            reply(RESTResponse(status: .internalServerError, body: JSONBody.encode("\(error)")))
        }
    }

    private func authorized(_ header: String?) -> Bool {
        guard let credentials else { return true }
        guard let given = JSONBody.basicCredentials(header) else { return false }
        // Constant time, so the answer's timing says nothing of how much of it matched.
        return SASLCrypto.constantTimeEqual(Array("\(given.user):\(given.password)".utf8),
                                            Array("\(credentials.user):\(credentials.password)".utf8))
    }

    private func dispatch(_ method: HTTPMethod, _ path: [String], _ query: [String: String], _ body: String,
                          _ reply: @escaping @Sendable (RESTResponse) -> Void) throws {
        switch (method, path.first, path.count) {
        case (.GET, "commands", 1):
            reply(ok(Self.commands.map { ["name": $0.name, "category": $0.category, "action": $0.action, "desc": $0.desc] }))
        case (.GET, "users", 2):
            let host = try served(path[1])
            backend.users(host: host) { result in reply(self.answer(result) { self.ok($0.map { "\($0)@\(host)" }) }) }
        case (.POST, "users", 2):
            let host = try served(path[1])
            let fields = try JSONBody.fields(body, "username", "password")
            backend.register(user: fields[0], host: host, password: fields[1]) { result in
                reply(self.answer(result) { RESTResponse(status: .created, body: JSONBody.encode("User \(fields[0].lowercased())@\(host) successfully registered")) })
            }
        case (.PUT, "users", 3):
            let host = try served(path[1])
            let fields = try JSONBody.fields(body, "newpass")
            backend.setPassword(user: path[2], host: host, password: fields[0]) { result in
                reply(self.answer(result) { RESTResponse.noContent })
            }
        case (.DELETE, "users", 3):
            let host = try served(path[1])
            backend.unregister(user: path[2], host: host) { result in
                reply(self.answer(result) { RESTResponse.noContent })
            }
        case (.GET, "sessions", 2):
            let host = try served(path[1])
            reply(ok(backend.sessions(host: host).map(\.description).sorted()))
        case (.DELETE, "sessions", 4):
            let host = try served(path[1])
            guard let jid = JID(validatingLocal: path[2], domain: host, resource: path[3]) else {
                throw APIError.badRequest("not a valid JID: \(path[2])@\(host)/\(path[3])")
            }
            guard backend.kick(jid) else { throw APIError.notFound("no session \(jid)") }
            reply(ok("kicked"))
        case (.POST, "messages", 1):
            let fields = try JSONBody.fields(body, "caller", "to", "body")
            backend.sendMessage(from: try localUser(fields[0]), to: try Self.jid(fields[1]), body: fields[2])
            reply(RESTResponse.noContent)
        case (.GET, "messages", 2), (.GET, "messages", 3):
            let caller = try localUser(path[1])
            let with = try path.count == 3 ? Self.jid(path[2]) : nil
            let limit = try JSONBody.integer(query["limit"], name: "limit") ?? 100
            // As MongooseIM's lookup_recent_messages: more than 500 is refused.
            guard (0...500).contains(limit) else { throw APIError.badRequest("limit must be 0 to 500") }
            let before = try JSONBody.integer(query["before"], name: "before").flatMap { $0 > 0 ? $0 : nil }
            // "now" reaches a second ahead, so a message stored this very second is in.
            let end = before.map { Date(timeIntervalSince1970: Double($0)) } ?? Date().addingTimeInterval(1)
            backend.lastMessages(of: caller, with: with, before: end, limit: limit) { result in
                reply(self.answer(result) { self.ok($0.map(\.adminJSON)) })
            }
        case (.GET, "contacts", 2):
            let caller = try localUser(path[1])
            backend.roster(of: caller) { items in
                reply(items.map { self.ok($0) } ?? APIError.notFound("no such user, or no roster (enable mod_roster)").response)
            }
        case (.POST, "contacts", 2):
            let caller = try localUser(path[1])
            let contact = try Self.jid(try JSONBody.fields(body, "jid")[0]).bare
            backend.rosterChange(of: caller, item: contact, remove: false) { reply(Self.outcome($0)) }
        case (.DELETE, "contacts", 3):
            let caller = try localUser(path[1])
            let contact = try Self.jid(path[2]).bare
            backend.rosterChange(of: caller, item: contact, remove: true) { reply(Self.outcome($0)) }
        case (.PUT, "contacts", 3):
            let caller = try localUser(path[1])
            let contact = try Self.jid(path[2]).bare
            let action = try JSONBody.fields(body, "action")[0]
            guard action == "subscribe" || action == "subscribed" else {
                throw APIError.badRequest("action must be subscribe or subscribed, not \(action)")
            }
            backend.sendPresence(type: action, from: caller, to: contact)
            reply(RESTResponse.noContent)
        case (.PUT, "contacts", 4) where path[3] == "manage":
            // mod_commands:set_subscription/3: both rosters at once, for two local users.
            let caller = try localUser(path[1])
            let other = try localUser(path[2])
            switch try JSONBody.fields(body, "action")[0] {
            case "connect":
                backend.rosterChange(of: caller, item: other, remove: false) { [backend] first in
                    guard first == .done else { return reply(Self.outcome(first)) }
                    backend.rosterChange(of: other, item: caller, remove: false) { second in
                        guard second == .done else { return reply(Self.outcome(second)) }
                        backend.sendPresence(type: "subscribe", from: caller, to: other)
                        backend.sendPresence(type: "subscribe", from: other, to: caller)
                        backend.sendPresence(type: "subscribed", from: other, to: caller)
                        backend.sendPresence(type: "subscribed", from: caller, to: other)
                        reply(RESTResponse.noContent)
                    }
                }
            case "disconnect":
                backend.rosterChange(of: caller, item: other, remove: true) { [backend] _ in
                    backend.rosterChange(of: other, item: caller, remove: true) { _ in reply(RESTResponse.noContent) }
                }
            case let action:
                throw APIError.badRequest("action must be connect or disconnect, not \(action)")
            }
        case (_, let name?, _) where Self.commands.contains(where: { $0.category == name }):
            throw APIError.notFound("no \(method) \(path.joined(separator: "/")): see GET commands")
        default:
            throw APIError.notFound("no command at \(path.joined(separator: "/"))")
        }
    }

    private static func outcome(_ outcome: APIBackend.RosterOutcome) -> RESTResponse {
        switch outcome {
        case .done: return .noContent
        case .notFound: return APIError.notFound("no such user or contact").response
        case .failed(let condition): return APIError.badRequest(condition).response
        case .noModule: return APIError.notFound("no roster (enable mod_roster)").response
        }
    }

    /// An archive lookup's iq error, as an HTTP answer.
    private static func failure(_ iq: XMLElement) -> RESTResponse {
        switch iq.child("error")?.elements.first?.name ?? "undefined-condition" {
        case "service-unavailable", "feature-not-implemented": return APIError.notFound("no archive (enable mod_mam)").response
        case let condition: return APIError.badRequest(condition).response
        }
    }

    /// A user of a served host, as a bare JID.
    private func localUser(_ text: String) throws -> JID {
        let jid = try Self.jid(text)
        guard jid.local != nil, backend.hosts.contains(jid.domain) else {
            throw APIError.badRequest("\(text) is not a user of this server")
        }
        return jid.bare
    }

    private static func jid(_ text: String) throws -> JID {
        guard let jid = JID(text) else { throw APIError.badRequest("not a valid JID: \(text)") }
        return jid
    }

    private func served(_ host: String) throws -> String {
        let host = host.lowercased()
        guard backend.hosts.contains(host) else { throw APIError.notFound("unknown host \(host)") }
        return host
    }

    private func ok(_ value: Any) -> RESTResponse {
        RESTResponse(status: .ok, body: JSONBody.encode(value))
    }

    private func answer<T>(_ result: Result<T, Error>, _ success: (T) -> RESTResponse) -> RESTResponse {
        switch result {
        case .success(let value): return success(value)
        case .failure(let error as AccountError):
            switch error {
            case .alreadyExists: return APIError.conflict("user already registered").response
            case .notFound: return APIError.notFound("no such user").response
            case .emptyPassword: return APIError.badRequest("the password must not be empty").response
            case .invalidUsername: return APIError.badRequest("not a valid username").response
            }
        case .failure(let error as ArchiveLookup.Failure): return Self.failure(error.iq)
        case .failure(let error): return RESTResponse(status: .internalServerError, body: JSONBody.encode("\(error)"))
        }
    }

    struct Command { let name, category, action, desc: String }

    /// As MongooseIM's `GET /commands` lists them (name, category, action, desc).
    static let commands = [
        Command(name: "list_methods", category: "commands", action: "read", desc: "List commands"),
        Command(name: "list_users", category: "users", action: "read", desc: "List registered users on this host"),
        Command(name: "register_user", category: "users", action: "create", desc: "Register a user"),
        Command(name: "change_password", category: "users", action: "update", desc: "Change user password"),
        Command(name: "unregister_user", category: "users", action: "delete", desc: "UnRegister a user"),
        Command(name: "list_sessions", category: "sessions", action: "read", desc: "Get session list"),
        Command(name: "kick_user", category: "sessions", action: "delete", desc: "Terminate user connection"),
        Command(name: "send_message", category: "messages", action: "create", desc: "Send chat message from to"),
        Command(name: "get_last_messages", category: "messages", action: "read",
                desc: "Get n last messages to/from given contact, with limit and date"),
        Command(name: "list_contacts", category: "contacts", action: "read", desc: "Get roster"),
        Command(name: "add_contact", category: "contacts", action: "create", desc: "Add a contact to roster"),
        Command(name: "delete_contact", category: "contacts", action: "delete", desc: "Remove a contact from roster"),
        Command(name: "subscription", category: "contacts", action: "update", desc: "Send out a subscription request"),
        Command(name: "set_subscription", category: "contacts", action: "update", desc: "Set / unset mutual subscription"),
    ]
}
