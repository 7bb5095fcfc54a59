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
/// and MUC Light's commands (AdminAPI+MUCLight.swift).
///
/// Contacts and the archive are the modules' (mod_roster, mod_mam), reached as a
/// client reaches them: a jabber:iq:roster or XEP-0313 request on the caller's behalf.
///
/// With `username` and `password` set every request needs them as HTTP Basic
/// credentials (401 otherwise), as in MongooseIM.
final class AdminAPI: @unchecked Sendable {
    let handler: HTTPHandlerConfig
    private let credentials: (user: String, password: String)?
    let backend: APIBackend

    init(handler: HTTPHandlerConfig, username: String?, password: String?, backend: APIBackend) {
        self.handler = handler
        credentials = username.flatMap { user in password.map { (user, $0) } }
        self.backend = backend
    }

    /// The path below the handler's, split, if `path` is one of this handler's.
    func commandPath(_ path: String) -> [String]? {
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
            reply(ok(Self.commands))
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
            backend.sendMessage(from: try localUser(fields[0]), to: try JSONBody.jid(fields[1]), body: fields[2])
            reply(RESTResponse.noContent)
        case (.GET, "messages", 2), (.GET, "messages", 3):
            let caller = try localUser(path[1])
            let with = try path.count == 3 ? JSONBody.jid(path[2]) : nil
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
            let contact = try JSONBody.jid(try JSONBody.fields(body, "jid")[0]).bare
            backend.rosterChange(of: caller, item: contact, remove: false) { reply(RESTResponse.roster($0)) }
        case (.DELETE, "contacts", 3):
            let caller = try localUser(path[1])
            let contact = try JSONBody.jid(path[2]).bare
            backend.rosterChange(of: caller, item: contact, remove: true) { reply(RESTResponse.roster($0)) }
        case (.PUT, "contacts", 3):
            let caller = try localUser(path[1])
            let contact = try JSONBody.jid(path[2]).bare
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
                    guard first == .done else { return reply(RESTResponse.roster(first)) }
                    backend.rosterChange(of: other, item: caller, remove: false) { second in
                        guard second == .done else { return reply(RESTResponse.roster(second)) }
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
        case (_, "muc-lights", _):
            try mucLights(method, path, body, reply)
        case (_, let name?, _) where Self.operations.contains(where: { $0.command?.category == name }):
            throw APIError.notFound("no \(method) \(path.joined(separator: "/")): see GET commands")
        default:
            throw APIError.notFound("no command at \(path.joined(separator: "/"))")
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
    func localUser(_ text: String) throws -> JID {
        let jid = try JSONBody.jid(text)
        guard jid.local != nil, backend.hosts.contains(jid.domain) else {
            throw APIError.badRequest("\(text) is not a user of this server")
        }
        return jid.bare
    }

    func served(_ host: String) throws -> String {
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

    /// Every command, as MongooseIM's mod_commands names and describes it: `GET
    /// /commands` lists them and the API docs describe them from this one table.
    static let operations: [APIDocs.Operation] = coreOperations + mucLightOperations

    private static let coreOperations: [APIDocs.Operation] = [
        .init(command: ("list_methods", "commands"), method: "get", path: "/commands", summary: "List commands",
              responses: [200: "the commands"]),
        .init(command: ("list_users", "users"), method: "get", path: "/users/{host}", summary: "List registered users on this host",
              responses: [200: "bare JIDs", 404: "unknown host"]),
        .init(command: ("register_user", "users"), method: "post", path: "/users/{host}", summary: "Register a user",
              body: ["username", "password"], responses: [201: "registered", 400: "bad request", 409: "already registered"]),
        .init(command: ("change_password", "users"), method: "put", path: "/users/{host}/{user}", summary: "Change user password",
              body: ["newpass"], responses: [204: "changed", 404: "no such user"]),
        .init(command: ("unregister_user", "users"), method: "delete", path: "/users/{host}/{user}", summary: "UnRegister a user",
              responses: [204: "removed with its data and sessions", 404: "no such user"]),
        .init(command: ("list_sessions", "sessions"), method: "get", path: "/sessions/{host}", summary: "Get session list",
              responses: [200: "full JIDs"]),
        .init(command: ("kick_user", "sessions"), method: "delete", path: "/sessions/{host}/{user}/{res}",
              summary: "Terminate user connection", responses: [200: "kicked", 404: "no such session"]),
        .init(command: ("send_message", "messages"), method: "post", path: "/messages", summary: "Send chat message from to",
              body: ["caller", "to", "body"], responses: [204: "sent", 400: "bad request"]),
        .init(command: ("get_last_messages_with_everybody", "messages"), method: "get", path: "/messages/{caller}",
              summary: "Get n last messages from archive, optionally before a certain date (unixtime)", query: ["before", "limit"],
              responses: [200: "messages", 404: "no such user or no archive"]),
        .init(command: ("get_last_messages", "messages"), method: "get", path: "/messages/{caller}/{with}",
              summary: "Get n last messages to/from given contact, with limit and date", query: ["before", "limit"],
              responses: [200: "messages", 404: "no such user or no archive"]),
        .init(command: ("list_contacts", "contacts"), method: "get", path: "/contacts/{caller}", summary: "Get roster",
              responses: [200: "contacts", 404: "no such user"]),
        .init(command: ("add_contact", "contacts"), method: "post", path: "/contacts/{caller}", summary: "Add a contact to roster",
              body: ["jid"], responses: [204: "added", 404: "no such user"]),
        .init(command: ("subscription", "contacts"), method: "put", path: "/contacts/{caller}/{jid}",
              summary: "Send out a subscription request", body: ["action"], responses: [204: "sent", 400: "bad action"]),
        .init(command: ("delete_contact", "contacts"), method: "delete", path: "/contacts/{caller}/{jid}",
              summary: "Remove a contact from roster", responses: [204: "removed", 404: "not a contact"]),
        .init(command: ("set_subscription", "contacts"), method: "put", path: "/contacts/{caller}/{jid}/manage",
              summary: "Set / unset mutual subscription", body: ["action"], responses: [204: "done", 400: "bad action"]),
    ]

    /// MongooseIM's command actions, by HTTP method.
    private static let actions = ["get": "read", "post": "create", "put": "update", "delete": "delete"]

    /// `GET /commands`: name, category, action and desc of each command.
    static let commands: [[String: String]] = operations.compactMap { operation in
        operation.command.map {
            ["name": $0.name, "category": $0.category, "action": actions[operation.method] ?? operation.method,
             "desc": operation.summary]
        }
    }
}
