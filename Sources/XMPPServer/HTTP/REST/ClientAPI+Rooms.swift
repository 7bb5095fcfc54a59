import Foundation
import NIOHTTP1
import XMPPCore

/// MongooseIM's client API for MUC Light rooms, served by asking mod_muc_light with
/// the same iqs the user's own client would send (`ServiceRequest`):
///
///     GET    rooms              the user's rooms: [{id, name, subject}]
///     GET    rooms/:id          {name, subject, participants: [{user, role}]}
///     POST   rooms              {"name", "subject"}: a new room; answers {"id"}
///     PUT    rooms/:id          the same with the id chosen (201)
///     PUT    rooms/:id/config   {"name", "subject"} (204)
///     POST   rooms/:id/users    {"user"}: add a member (204)
///     DELETE rooms/:id/users/:user   remove one, or leave (204)
///     POST   rooms/:id/messages {"body"}: a groupchat message; answers {"id"}
///     GET    rooms/:id/messages?limit=50&before=<ms>   the room's archive (mod_mam's
///            muc section), oldest first
///
/// `:id` is the room's local part (or its bare JID). Errors: 404 for a room the user
/// is not in, 403 for what its affiliation does not allow, 400 for bad input.
extension ClientAPI {
    func rooms(_ kind: Kind, _ method: HTTPMethod, _ bindings: [String: String], _ query: [String: String],
               _ user: JID, _ body: String, _ reply: @escaping @Sendable (RESTResponse) -> Void) throws {
        let service = try backend.roomsService(of: user.domain)
        let room = try bindings["id"].map { try roomJID($0, service: service) }
        switch (kind, method, room) {
        case (.rooms, .GET, nil):
            backend.askRooms(user, "get", MUCLightIQ.roomList, to: service, reply) { [self] items in
                let rooms = items?.elements.compactMap { $0[attribute: "jid"].flatMap(JID.init) } ?? []
                describe(rooms, of: user, collected: [], reply)
            }
        case (.rooms, .GET, let room?):
            backend.askRooms(user, "get", MUCLightIQ.query("#info"), to: room, reply) { info in
                reply(RESTResponse(status: .ok, body: JSONBody.encode(Self.infoJSON(info))))
            }
        case (.rooms, .POST, nil), (.rooms, .PUT, _):
            let fields = try JSONBody.fields(body, "name", "subject")
            let target = room ?? JID(local: MUCLightIQ.newRoomID(), domain: service.domain, resource: nil)
            backend.askRooms(user, "set", MUCLightIQ.create(name: fields[0], subject: fields[1]), to: target, reply) { _ in
                reply(RESTResponse(status: room == nil ? .ok : .created, body: JSONBody.encode(["id": target.local ?? ""])))
            }
        case (.roomConfig, .PUT, let room?):
            let fields = try JSONBody.fields(body, "name", "subject")
            backend.askRooms(user, "set", MUCLightIQ.configuration(name: fields[0], subject: fields[1]), to: room, reply) { _ in
                reply(.noContent)
            }
        case (.roomUsers, .POST, let room?):
            let member = try JSONBody.jid(try JSONBody.fields(body, "user")[0]).bare
            backend.askRooms(user, "set", MUCLightIQ.affiliation(member, "member"), to: room, reply) { _ in reply(.noContent) }
        case (.roomUsers, .DELETE, let room?):
            guard let name = bindings["user"] else { throw APIError.badRequest("which user?") }
            let member = try JSONBody.jid(name).bare
            backend.askRooms(user, "set", MUCLightIQ.affiliation(member, "none"), to: room, reply) { _ in reply(.noContent) }
        case (.roomMessages, .POST, let room?):
            let text = try JSONBody.fields(body, "body")[0]
            // Only an occupant may write: the room's info says who is one.
            backend.askRooms(user, "get", MUCLightIQ.query("#info"), to: room, reply) { [backend] _ in
                let id = backend.sendMessage(from: user, to: room, body: text, type: "groupchat")
                reply(RESTResponse(status: .ok, body: JSONBody.encode(["id": id])))
            }
        case (.roomMessages, .GET, let room?):
            let (limit, end) = try Self.archiveWindow(query)
            backend.lastRoomMessages(of: room, asking: user, before: end, limit: limit) { result in
                switch result {
                case .success(let messages):
                    let items = messages.map { Self.roomEventJSON($0.message, at: $0.milliseconds, inRoom: false) }
                    reply(RESTResponse(status: .ok, body: JSONBody.encode(items)))
                case .failure(let failure):
                    switch failure.iq.child("error")?.elements.first?.name {
                    case "forbidden": reply(RESTResponse(status: .forbidden, body: JSONBody.encode("not an occupant of this room")))
                    default: reply(APIError.notFound("no archive of room messages (enable mod_mam's muc section)").response)
                    }
                }
            }
        default:
            reply(RESTResponse(status: .methodNotAllowed, body: JSONBody.encode("not a rooms request")))
        }
    }

    /// [{id, name, subject}] of `rooms`, one #configuration get after the other.
    private func describe(_ rooms: [JID], of user: JID, collected: [[String: String]],
                          _ reply: @escaping @Sendable (RESTResponse) -> Void) {
        guard let room = rooms.first else { return reply(RESTResponse(status: .ok, body: JSONBody.encode(collected))) }
        backend.services.send("get", MUCLightIQ.query("#configuration"), to: room, as: user) { [self] answer in
            var collected = collected
            if let config = answer?.elements.first, answer?[attribute: "type"] == "result" {
                collected.append(["id": room.local ?? "", "name": config.child("roomname")?.text ?? "",
                                  "subject": config.child("subject")?.text ?? ""])
            }
            describe(Array(rooms.dropFirst()), of: user, collected: collected, reply)
        }
    }

    private func roomJID(_ id: String, service: JID) throws -> JID {
        if let jid = JID(id), jid.local != nil, jid.domain == service.domain, jid.resource == nil { return jid }
        guard !id.isEmpty, !id.contains("@"), !id.contains("/"), let jid = JID("\(id)@\(service.domain)") else {
            throw APIError.badRequest("invalid room id")
        }
        return jid
    }

    /// A room's message or affiliation change as MongooseIM's client API encodes it
    /// (mongoose_client_api_rooms_messages:encode/2 for events, with `room` the room's
    /// id; make_json_item for the archive, without): `from` is the sender's bare JID
    /// (the room's own for its announcements).
    static func roomEventJSON(_ message: XMLElement, at milliseconds: Int64, inRoom: Bool = true) -> [String: Any] {
        let from = message[attribute: "from"].flatMap(JID.init)
        var item: [String: Any] = ["id": message[attribute: "id"] ?? "", "timestamp": milliseconds,
                                   "from": from?.resource ?? from?.description ?? ""]
        if inRoom { item["room"] = from?.local ?? "" }
        if let user = message.elements.first(where: { $0.name == "x" })?.child("user") {
            item["type"] = "affiliation"
            item["affiliation"] = user[attribute: "affiliation"] ?? ""
            item["user"] = user.text
        } else {
            item["type"] = "message"
            item["body"] = message.child("body")?.text ?? ""
        }
        return item
    }

    private static func infoJSON(_ info: XMLElement?) -> [String: Any] {
        let configuration = info?.child("configuration")
        let participants = (info?.child("occupants")?.elements ?? []).map { user in
            ["user": user.text, "role": user[attribute: "affiliation"] ?? "none"]
        }
        return ["name": configuration?.child("roomname")?.text ?? "", "subject": configuration?.child("subject")?.text ?? "",
                "participants": participants]
    }
}
