import Foundation
import NIOHTTP1
import XMPPConfig
import XMPPCore

/// MongooseIM's REST API for clients: the `mongoose_client_api_messages` and
/// `mongoose_client_api_contacts` handlers, and `lasse_handler` with
/// `mongoose_client_api_sse` (server-sent events, see EventStream). Every request is
/// authenticated with HTTP Basic as the user ("alice@localhost" and the account's
/// password); the user then acts as its own client would:
///
///     GET    messages/[:with]   ?limit=n (50)&before=ms: the last messages of the user's archive
///     POST   messages           {"to", "body"}: send a chat message; answers {"id"}
///     GET    contacts           the roster: [{jid, subscription, ask}]
///     POST   contacts           {"jid"}: add a contact (204)
///     PUT    contacts/:jid      {"action": "invite" | "accept"}: subscribe / subscribed (204; 404 if
///                               not a contact)
///     DELETE contacts/:jid      remove the contact (204; 404 if not there)
///     DELETE contacts           {"to_delete": [jids]}: remove several; answers {"not_deleted": [...]}
///
/// and the `mongoose_client_api_rooms*` handlers (ClientAPI+Rooms.swift).
final class ClientAPI: @unchecked Sendable {
    enum Kind: Sendable { case messages, contacts, events, rooms, roomConfig, roomUsers, roomMessages }

    struct Endpoint: Sendable {
        let kind: Kind
        let handler: HTTPHandlerConfig
        let path: CowboyPath
    }

    let endpoints: [Endpoint]
    let backend: APIBackend

    init(handlers: [HTTPHandlerConfig], backend: APIBackend) {
        endpoints = handlers.compactMap { handler in
            guard let kind = Self.kind(of: handler) else { return nil }
            return Endpoint(kind: kind, handler: handler, path: CowboyPath(handler.path))
        }
        self.backend = backend
    }

    /// The handler types served, by type and (for lasse_handler) module.
    static func kind(of handler: HTTPHandlerConfig) -> Kind? {
        switch (handler.type, handler.options) {
        case ("mongoose_client_api_messages", _): return .messages
        case ("mongoose_client_api_contacts", _): return .contacts
        case ("lasse_handler", .lasse(module: "mongoose_client_api_sse")): return .events
        case ("mongoose_client_api_rooms", _): return .rooms
        case ("mongoose_client_api_rooms_config", _): return .roomConfig
        case ("mongoose_client_api_rooms_users", _): return .roomUsers
        case ("mongoose_client_api_rooms_messages", _): return .roomMessages
        default: return nil
        }
    }

    /// The endpoint a request is for, with its path bindings.
    func endpoint(path: String, host: String?) -> (Endpoint, [String: String])? {
        for endpoint in endpoints where endpoint.handler.serves(host: host) {
            if let bindings = endpoint.path.match(path) { return (endpoint, bindings) }
        }
        return nil
    }

    /// Answers one request of `user` (already authenticated) to a messages or contacts endpoint.
    func handle(_ kind: Kind, method: HTTPMethod, bindings: [String: String], query: [String: String], user: JID,
                body: String, reply: @escaping @Sendable (RESTResponse) -> Void) {
        do {
            switch kind {
            case .messages: try messages(method, bindings, query, user, body, reply)
            case .contacts: try contacts(method, bindings, user, body, reply)
            case .events: reply(RESTResponse(status: .methodNotAllowed, body: JSONBody.encode("server-sent events take GET")))
            case .rooms, .roomConfig, .roomUsers, .roomMessages: try rooms(kind, method, bindings, query, user, body, reply)
            }
        } catch let error as APIError {
            reply(error.response)
        } catch {
            reply(RESTResponse(status: .internalServerError, body: JSONBody.encode("\(error)")))
        }
    }

    private func messages(_ method: HTTPMethod, _ bindings: [String: String], _ query: [String: String], _ user: JID,
                          _ body: String, _ reply: @escaping @Sendable (RESTResponse) -> Void) throws {
        switch method {
        case .GET:
            let with = try bindings["with"].map(JSONBody.jid)
            let (limit, end) = try Self.archiveWindow(query)
            backend.lastMessages(of: user, with: with, before: end, limit: limit) { result in
                switch result {
                case .success(let messages): reply(RESTResponse(status: .ok, body: JSONBody.encode(messages.map(\.clientJSON))))
                case .failure: reply(APIError.notFound("no archive (enable mod_mam)").response)
                }
            }
        case .POST:
            let fields = try JSONBody.fields(body, "to", "body")
            let id = backend.sendMessage(from: user, to: try JSONBody.jid(fields[0]), body: fields[1])
            reply(RESTResponse(status: .ok, body: JSONBody.encode(["id": id])))
        default:
            reply(RESTResponse(status: .methodNotAllowed, body: JSONBody.encode("messages take GET or POST")))
        }
    }

    /// `?limit=` (50) and `?before=` of an archive read: in milliseconds here
    /// (mongoose_client_api_messages:maybe_before_to_us/2); default now.
    static func archiveWindow(_ query: [String: String]) throws -> (limit: Int, end: Date) {
        let limit = try JSONBody.integer(query["limit"], name: "limit") ?? 50
        guard limit >= 0 else { throw APIError.badRequest("limit must not be negative") }
        let before = try JSONBody.integer(query["before"], name: "before")
        return (limit, before.map { Date(timeIntervalSince1970: Double($0) / 1000) } ?? Date().addingTimeInterval(1))
    }

    private func contacts(_ method: HTTPMethod, _ bindings: [String: String], _ user: JID, _ body: String,
                          _ reply: @escaping @Sendable (RESTResponse) -> Void) throws {
        let contact = try bindings["jid"].map { try JSONBody.jid($0).bare }
        switch (method, contact) {
        case (.GET, nil):
            backend.roster(of: user) { reply($0.map { RESTResponse(status: .ok, body: JSONBody.encode($0)) } ?? RESTResponse.noRoster) }
        case (.POST, nil):
            let jid = try JSONBody.jid(try JSONBody.fields(body, "jid")[0]).bare
            backend.rosterChange(of: user, item: jid, remove: false) { reply(RESTResponse.roster($0)) }
        case (.PUT, let contact?):
            let action = try JSONBody.fields(body, "action")[0]
            guard let type = ["invite": "subscribe", "accept": "subscribed"][action] else {
                return reply(RESTResponse(status: .notImplemented, body: JSONBody.encode("action must be invite or accept")))
            }
            backend.roster(of: user) { [backend] items in
                guard let items else { return reply(RESTResponse.noRoster) }
                guard items.contains(where: { $0["jid"] == contact.description }) else {
                    return reply(APIError.notFound("\(contact) is not a contact").response)
                }
                backend.sendPresence(type: type, from: user, to: contact)
                reply(.noContent)
            }
        case (.DELETE, let contact?):
            backend.rosterChange(of: user, item: contact, remove: true) { reply(RESTResponse.roster($0)) }
        case (.DELETE, nil):
            let object = try JSONBody.object(body, expecting: "to_delete")
            guard let jids = object["to_delete"] as? [String] else { throw APIError.badRequest("to_delete must be an array of JIDs") }
            deleteAll(jids, of: user, notDeleted: []) { reply(RESTResponse(status: .ok, body: JSONBody.encode(["not_deleted": $0]))) }
        default:
            reply(RESTResponse(status: .methodNotAllowed, body: JSONBody.encode("not a contacts request")))
        }
    }

    /// Removes `jids` one after the other; `done` gets those that could not be removed.
    private func deleteAll(_ jids: [String], of user: JID, notDeleted: [String], done: @escaping @Sendable ([String]) -> Void) {
        guard let first = jids.first else { return done(notDeleted) }
        let rest = Array(jids.dropFirst())
        guard let contact = JID(first)?.bare else { return deleteAll(rest, of: user, notDeleted: notDeleted + [first], done: done) }
        backend.rosterChange(of: user, item: contact, remove: true) { [self] outcome in
            deleteAll(rest, of: user, notDeleted: outcome == .done ? notDeleted : notDeleted + [first], done: done)
        }
    }
}
