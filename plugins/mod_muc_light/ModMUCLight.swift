import XMPPConfig
import XMPPCore
import XMPPModuleAPI
import XMPPSASL
import XMPPStore

/// MUC Light (`urn:xmpp:muclight:0`), as MongooseIM's mod_muc_light: rooms at
/// `muclight.<host>` with owners and members rather than presence-based occupancy.
/// Occupants create rooms, read and change the configuration and affiliations,
/// destroy rooms, and send groupchat messages that every occupant's bare JID gets;
/// each change is announced to the occupants with the room's new version. Rooms live
/// in the SQLite file the workers share, so every worker serves every room.
public final class ModMUCLight: ServerModule, @unchecked Sendable {
    public static let name = "mod_muc_light"
    public static let perUserTables = [PerUserTable("muc_light_occupants"), PerUserTable("muc_light_blocking")]

    let host: ModuleHost
    let options: MUCLightOptions
    let store: MUCLightStore
    /// Service domain → the served host it belongs to.
    let serviceDomains: [String: String]

    public static func validate(_ options: ModuleOptions) throws { _ = try MUCLightOptions(options) }

    public required init(options moduleOptions: ModuleOptions, host: ModuleHost) throws {
        self.host = host
        let options = try MUCLightOptions(moduleOptions)
        self.options = options
        store = try MUCLightStore(path: host.databasePath)
        serviceDomains = Dictionary(uniqueKeysWithValues: host.hosts.map { (options.domain(for: $0), $0) })
        for domain in serviceDomains.keys {
            host.registerService(domain: domain) { [weak self] stanza in self?.received(stanza) }
        }
        // The archive's question (mod_mam's room archive): occupants read a room's history.
        host.hooks.onCanAccessRoom { [weak self] room, user, done in
            guard let self, self.serviceDomains[room.domain] != nil else { return false }
            self.store.room(room.bare) { found in done((found?.affiliation(of: user.bare) ?? .none) != .none) }
            return true
        }
    }

    private func received(_ stanza: XMLElement) {
        guard let from = stanza[attribute: "from"].flatMap(JID.init),
              let to = stanza[attribute: "to"].flatMap(JID.init) else { return }
        // Users of other servers (over s2s) may be occupants like local ones; only
        // creating a room is for this server's users (see `iq`).
        switch stanza.name {
        case "iq": iq(stanza, from: from, to: to)
        case "message": message(stanza, from: from, room: to.bare)
        default: break   // presence means nothing to MUC Light
        }
    }

    // MARK: answers

    /// Routes `payload` (or an empty result) back to the sender of `iq`.
    func reply(_ iq: XMLElement, _ payload: XMLElement? = nil) {
        var result = XMLElement(name: "iq", namespace: XMPPNamespace.client, attributes: [
            "type": "result", "from": iq[attribute: "to"] ?? "", "to": iq[attribute: "from"] ?? ""])
        if let id = iq[attribute: "id"] { result[attribute: "id"] = id }
        if let payload { result.append(payload) }
        host.route(result)
    }

    /// An RFC 6120 §8.3 stanza error back to the sender (never for errors or results).
    func answer(_ stanza: XMLElement, error condition: String, type: String) {
        if let reply = StanzaErrors.reply(to: stanza, condition: condition, type: type) { host.route(reply) }
    }

    /// A groupchat message from the room to each of `users` (their bare JIDs), carrying
    /// the `<x/>` elements; its id is the request's, as the MUC Light spec asks.
    func announce(_ xs: [XMLElement], from room: JID, to users: [JID], id: String) {
        let message = announcement(xs, from: room, id: id)
        for user in users {
            var copy = message
            copy[attribute: "to"] = user.description
            host.route(copy)
        }
    }

    /// The groupchat message of an announcement, to nobody yet.
    func announcement(_ xs: [XMLElement], from room: JID, id: String) -> XMLElement {
        var message = XMLElement(name: "message", namespace: XMPPNamespace.client, attributes: [
            "type": "groupchat", "from": room.description, "id": id])
        for x in xs { message.append(x) }
        message.append(XMLElement(name: "body", namespace: XMPPNamespace.client))
        return message
    }

    static func newVersion() -> String { MUCLightID.make() }

    // MARK: messages

    /// A groupchat message from an occupant goes to every occupant, from
    /// `room/<sender's bare JID>` (MongooseIM's form).
    private func message(_ stanza: XMLElement, from sender: JID, room: JID) {
        guard stanza[attribute: "type"] == "groupchat" else {
            return answer(stanza, error: "bad-request", type: "modify")
        }
        store.room(room) { [weak self] found in
            guard let self else { return }
            guard let found, found.affiliation(of: sender) != .none else {
                return self.answer(stanza, error: "item-not-found", type: "cancel")
            }
            var sent = stanza
            sent[attribute: "from"] = "\(room.description)/\(sender.bare.description)"
            sent[attribute: "to"] = nil
            sent = self.host.hooks.runFilterRoomPacket(room: room, sender: sender.bare, sent)
            for occupant in found.occupants.keys.sorted(by: { $0.description < $1.description }) {
                var copy = sent
                copy[attribute: "to"] = occupant.description
                self.host.route(copy)
            }
        }
    }
}

/// Room names and versions: 16 random hex digits.
enum MUCLightID {
    static func make() -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: SASLCrypto.randomBytes(8).flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0f)]] },
                      as: UTF8.self)
    }
}
