import Foundation
import NIOHTTP1
import XMPPCore

/// MongooseIM's MUC Light commands (mod_muc_light_commands) on the admin API, served
/// when mod_muc_light is: each acts as the user it names, with the iqs that user's
/// client would send. `{name}` is the room's id, or its name among the user's rooms
/// (MongooseIM looks rooms up by name):
///
///     POST   /muc-lights/{host}                  {"name", "owner", "subject"}: a new room; answers its JID (201)
///     PUT    /muc-lights/{host}                  {"id", "name", "owner", "subject"}: with that id (204)
///     PUT    /muc-lights/{host}/config           {"id", "name", "user", "subject"}: rename (204)
///     POST   /muc-lights/{host}/{name}/participants  {"sender", "recipient"}: add a member (204)
///     POST   /muc-lights/{host}/{name}/messages      {"from", "body"}: a groupchat message (204)
///     DELETE /muc-lights/{host}/{name}/{owner}/management  destroy the room (204)
extension AdminAPI {
    func mucLights(_ method: HTTPMethod, _ path: [String], _ body: String,
                   _ reply: @escaping @Sendable (RESTResponse) -> Void) throws {
        guard path.count >= 2 else { throw APIError.notFound("no command at \(path.joined(separator: "/"))") }
        let host = try served(path[1])
        let service = try backend.roomsService(of: host)
        switch (method, path.count, path.last) {
        case (.POST, 2, _):
            let fields = try JSONBody.fields(body, "name", "owner", "subject")
            let owner = try localUser(fields[1])
            let room = JID(local: MUCLightIQ.newRoomID(), domain: service.domain, resource: nil)
            backend.askRooms(owner, "set", MUCLightIQ.create(name: fields[0], subject: fields[2]), to: room, reply) { _ in
                reply(RESTResponse(status: .created, body: JSONBody.encode(room.description)))
            }
        case (.PUT, 2, _):
            let fields = try JSONBody.fields(body, "id", "name", "owner", "subject")
            let owner = try localUser(fields[2])
            guard let room = JID("\(fields[0])@\(service.domain)"), !fields[0].contains("@") else {
                throw APIError.badRequest("invalid room id")
            }
            backend.askRooms(owner, "set", MUCLightIQ.create(name: fields[1], subject: fields[3]), to: room, reply) { _ in
                reply(.noContent)
            }
        case (.PUT, 3, "config"):
            let fields = try JSONBody.fields(body, "id", "name", "user", "subject")
            let user = try localUser(fields[2])
            room(named: fields[0], of: user, at: service, reply) { [backend] room in
                backend.askRooms(user, "set", MUCLightIQ.configuration(name: fields[1], subject: fields[3]), to: room, reply) { _ in
                    reply(.noContent)
                }
            }
        case (.POST, 4, "participants"):
            let fields = try JSONBody.fields(body, "sender", "recipient")
            let sender = try localUser(fields[0])
            let recipient = try JSONBody.jid(fields[1]).bare
            room(named: path[2], of: sender, at: service, reply) { [backend] room in
                backend.askRooms(sender, "set", MUCLightIQ.affiliation(recipient, "member"), to: room, reply) { _ in
                    reply(.noContent)
                }
            }
        case (.POST, 4, "messages"):
            let fields = try JSONBody.fields(body, "from", "body")
            let sender = try localUser(fields[0])
            room(named: path[2], of: sender, at: service, reply) { [backend] room in
                _ = backend.sendMessage(from: sender, to: room, body: fields[1], type: "groupchat")
                reply(.noContent)
            }
        case (.DELETE, 5, "management"):
            let owner = try localUser(path[3])
            room(named: path[2], of: owner, at: service, reply) { [backend] room in
                backend.askRooms(owner, "set", MUCLightIQ.query("#destroy"), to: room, reply) { _ in reply(.noContent) }
            }
        default:
            throw APIError.notFound("no \(method) \(path.joined(separator: "/")): see GET commands")
        }
    }

    /// The room of `user` whose id, or else whose name, is `name`; 404 when none is.
    private func room(named name: String, of user: JID, at service: JID, _ reply: @escaping @Sendable (RESTResponse) -> Void,
                      _ found: @escaping @Sendable (JID) -> Void) {
        backend.askRooms(user, "get", MUCLightIQ.roomList, to: service, reply) { items in
            let rooms = items?.elements ?? []
            let match = rooms.first { $0[attribute: "jid"].flatMap(JID.init)?.local == name }
                ?? rooms.first { $0[attribute: "name"] == name }
            guard let jid = match?[attribute: "jid"].flatMap(JID.init) else {
                return reply(APIError.notFound("\(user) is in no room \(name)").response)
            }
            found(jid)
        }
    }

    /// As MongooseIM's mod_muc_light_commands names and describes them.
    static let mucLightOperations: [APIDocs.Operation] = [
        .init(command: ("create_muc_light_room", "muc-lights"), method: "post", path: "/muc-lights/{host}",
              summary: "Create a MUC Light room with unique username part in JID.", body: ["name", "owner", "subject"],
              responses: [201: "the room's JID", 404: "unknown host or no MUC Light"]),
        .init(command: ("create_identifiable_muc_light_room", "muc-lights"), method: "put", path: "/muc-lights/{host}",
              summary: "Create a MUC Light room with user-provided username part in JID", body: ["id", "name", "owner", "subject"],
              responses: [204: "created", 400: "exists"]),
        .init(command: ("change_muc_light_room_configuration", "muc-lights"), method: "put", path: "/muc-lights/{host}/config",
              summary: "Change configuration of MUC Light room.", body: ["id", "name", "user", "subject"],
              responses: [204: "changed", 403: "not allowed", 404: "no such room"]),
        .init(command: ("invite_to_room", "muc-lights"), method: "post", path: "/muc-lights/{host}/{name}/participants",
              summary: "Invite to a MUC Light room.", body: ["sender", "recipient"],
              responses: [204: "added", 403: "not allowed", 404: "no such room"]),
        .init(command: ("send_message_to_muc_light_room", "muc-lights"), method: "post", path: "/muc-lights/{host}/{name}/messages",
              summary: "Send a message to a MUC Light room.", body: ["from", "body"], responses: [204: "sent", 404: "no such room"]),
        .init(command: ("delete_room", "muc-lights"), method: "delete", path: "/muc-lights/{host}/{name}/{owner}/management",
              summary: "Delete a MUC Light room.", responses: [204: "deleted", 403: "not the owner", 404: "no such room"]),
    ]
}
