import XMPPCore
import XMPPModuleAPI

/// The iqs of MUC Light: create, configuration, affiliations, info and destroy on a
/// room; disco on the service and on rooms.
extension ModMUCLight {
    static let discoInfo = "http://jabber.org/protocol/disco#info"
    static let discoItems = "http://jabber.org/protocol/disco#items"

    private enum Outcome: Sendable {
        /// Each announcement: the `<x/>` elements of one message, and who gets it;
        /// `history`: the `<x/>` the room's archive keeps of a change of affiliations.
        case done(reply: XMLElement?, announcements: [(xs: [XMLElement], to: [JID])], history: XMLElement? = nil)
        case refused(String, String)
    }

    func iq(_ iq: XMLElement, from: JID, to: JID) {
        let type = iq[attribute: "type"]
        guard type == "get" || type == "set", let query = iq.elements.first else {
            if type == "get" || type == "set" { answer(iq, error: "bad-request", type: "modify") }
            return
        }
        let room = to.bare
        switch (type, query.namespace ?? "") {
        case ("get", Self.discoInfo): discoInfo(iq, room: room, from: from)
        case ("get", Self.discoItems) where room.local == nil: roomList(iq, of: from.bare)
        case ("set", MUCLightNamespace.create):
            // xmppd's choice (Prosody's restrict_room_creation = "local"): another
            // server's users take part in rooms, but do not make them here.
            guard host.hosts.contains(from.domain) else { return answer(iq, error: "not-allowed", type: "cancel") }
            create(iq, query, room: room, creator: from.bare)
        case (_, MUCLightNamespace.blocking) where room.local == nil: blocking(iq, query, of: from.bare)
        case (_, MUCLightNamespace.configuration),
             (_, MUCLightNamespace.affiliations),
             ("get", MUCLightNamespace.info),
             ("set", MUCLightNamespace.destroy):
            guard room.local != nil else { return answer(iq, error: "bad-request", type: "modify") }
            change(iq, query, room: room, actor: from.bare)
        default:
            answer(iq, error: "feature-not-implemented", type: "cancel")
        }
    }

    // MARK: disco

    private func discoInfo(_ iq: XMLElement, room: JID, from: JID) {
        var query = XMLElement(name: "query", namespace: Self.discoInfo)
        query.append(XMLElement(name: "identity", namespace: Self.discoInfo,
                                attributes: ["category": "conference", "type": "text", "name": "MUC Light"]))
        for feature in [Self.discoInfo, MUCLightNamespace.base] {
            query.append(XMLElement(name: "feature", namespace: Self.discoInfo, attributes: ["var": feature]))
        }
        guard room.local != nil else { return reply(iq, query) }
        // A room's archive (mod_mam's muc section) and the like.
        for feature in host.roomFeatures {
            query.append(XMLElement(name: "feature", namespace: Self.discoInfo, attributes: ["var": feature]))
        }
        let info = query
        store.room(room) { [weak self] found in
            guard let self else { return }
            guard let found, found.affiliation(of: from) != .none else {
                return self.answer(iq, error: "item-not-found", type: "cancel")
            }
            self.reply(iq, info)
        }
    }

    /// disco#items on the service: the rooms the user is in, with name and version.
    private func roomList(_ iq: XMLElement, of user: JID) {
        store.rooms(of: user) { [weak self] rooms in
            var query = XMLElement(name: "query", namespace: Self.discoItems)
            for room in rooms {
                query.append(XMLElement(name: "item", namespace: Self.discoItems, attributes: [
                    "jid": room.jid.description, "name": room.value("roomname") ?? "", "version": room.version]))
            }
            self?.reply(iq, query)
        }
    }

    // MARK: create

    /// `#create`: to a room JID, or to the service itself for a generated name. The
    /// creator is the owner (a member with equal_occupants); the listed users join.
    private func create(_ iq: XMLElement, _ query: XMLElement, room requested: JID, creator: JID) {
        let jid = requested.local == nil ? JID("\(MUCLightID.make())@\(requested.domain)")! : requested
        var config = MUCLightRoom.defaultConfig
        for field in query.child("configuration")?.elements ?? [] {
            guard let index = config.firstIndex(where: { $0.key == field.name }) else {
                return answer(iq, error: "bad-request", type: "modify")
            }
            config[index].value = field.text
        }
        var occupants: [JID: Affiliation] = [creator: options.equalOccupants ? .member : .owner]
        for user in query.child("occupants")?.elements ?? [] {
            guard let member = JID(user.text.trimmingCharacters(in: .whitespaces))?.bare, member != creator else { continue }
            occupants[member] = .member
        }
        let (options, initialConfig, initialOccupants) = (self.options, config, occupants)
        store.change(jid, roomsOf: creator, { room, roomsOfCreator, blocks -> Outcome in
            guard room == nil else { return .refused("conflict", "cancel") }
            // Users who block the room or the creator are left out (spec §4.5).
            let initialOccupants = initialOccupants.filter { user, _ in
                user == creator || !(blocks(user, "room", jid) || blocks(user, "user", creator))
            }
            guard roomsOfCreator < options.roomsPerUser, initialOccupants.count <= options.maxOccupants else {
                return .refused("not-allowed", "cancel")
            }
            let created = MUCLightRoom(jid: jid, version: ModMUCLight.newVersion(), config: initialConfig,
                                       occupants: initialOccupants)
            room = created
            // Each new occupant learns its own affiliation and the version (spec §5.1).
            let announcements = initialOccupants.map { user, affiliation -> (xs: [XMLElement], to: [JID]) in
                ([Self.affiliationsX(version: created.version, [(user, affiliation)], in: created)], [user])
            }
            return .done(reply: nil, announcements: announcements)
        }, done: { [weak self] result in self?.finish(iq, result, room: jid) })
    }

    // MARK: blocking

    /// `#blocking` on the service (spec §4.5): a user's list of rooms and users it does
    /// not want to be added by; get lists the denials, set changes them.
    private func blocking(_ iq: XMLElement, _ query: XMLElement, of user: JID) {
        let namespace = MUCLightNamespace.blocking
        guard iq[attribute: "type"] == "set" else {
            return store.blocking(of: user) { [weak self] items in
                var out = XMLElement(name: "query", namespace: namespace)
                for item in items {
                    out.append(XMLElement(name: item.kind, namespace: namespace, attributes: ["action": "deny"],
                                          children: [.text(item.target)]))
                }
                self?.reply(iq, out)
            }
        }
        var changes: [(kind: String, target: String, deny: Bool)] = []
        for item in query.elements {
            guard item.name == "room" || item.name == "user", let action = item[attribute: "action"],
                  action == "deny" || action == "allow", let target = JID(item.text.trimmingCharacters(in: .whitespaces)) else {
                return answer(iq, error: "bad-request", type: "modify")
            }
            changes.append((item.name, target.bare.description, action == "deny"))
        }
        guard !changes.isEmpty else { return answer(iq, error: "bad-request", type: "modify") }
        store.setBlocking(of: user, changes) { [weak self] ok in
            ok ? self?.reply(iq) : self?.answer(iq, error: "internal-server-error", type: "wait")
        }
    }

    // MARK: an existing room

    private func change(_ iq: XMLElement, _ query: XMLElement, room jid: JID, actor: JID) {
        let type = iq[attribute: "type"] ?? ""
        let namespace = query.namespace ?? ""
        let options = self.options
        store.change(jid, { room, _, blocks -> Outcome in
            guard var current = room, current.affiliation(of: actor) != .none else { return .refused("item-not-found", "cancel") }
            switch (type, namespace) {
            case ("get", MUCLightNamespace.configuration):
                var out = XMLElement(name: "query", namespace: namespace)
                out.append(Self.versionElement("version", current.version, namespace))
                for field in current.configElements(namespace) { out.append(field) }
                return .done(reply: out, announcements: [])
            case ("get", MUCLightNamespace.affiliations):
                var out = XMLElement(name: "query", namespace: namespace)
                out.append(Self.versionElement("version", current.version, namespace))
                for user in current.userElements(namespace) { out.append(user) }
                return .done(reply: out, announcements: [])
            case ("get", MUCLightNamespace.info):
                var out = XMLElement(name: "query", namespace: namespace)
                out.append(Self.versionElement("version", current.version, namespace))
                var configuration = XMLElement(name: "configuration", namespace: namespace)
                for field in current.configElements(namespace) { configuration.append(field) }
                var occupants = XMLElement(name: "occupants", namespace: namespace)
                for user in current.userElements(namespace) { occupants.append(user) }
                out.append(configuration)
                out.append(occupants)
                return .done(reply: out, announcements: [])
            case ("set", MUCLightNamespace.configuration):
                // Without all_can_configure, members may still change the subject (MongooseIM's rule).
                let mayConfigure = current.affiliation(of: actor) == .owner || options.allCanConfigure
                guard mayConfigure || query.elements.allSatisfy({ $0.name == "subject" }) else {
                    return .refused("not-allowed", "cancel")
                }
                var changed: [XMLElement] = []
                for field in query.elements {
                    guard current.value(field.name) != nil else { return .refused("bad-request", "modify") }
                    current.set(field.name, field.text)
                    changed.append(field)
                }
                let previous = current.version
                current.version = ModMUCLight.newVersion()
                room = current
                var x = XMLElement(name: "x", namespace: namespace)
                x.append(Self.versionElement("prev-version", previous, namespace))
                x.append(Self.versionElement("version", current.version, namespace))
                for field in changed { x.append(XMLElement(name: field.name, namespace: namespace, children: [.text(field.text)])) }
                return .done(reply: nil, announcements: [([x], Array(current.occupants.keys))])
            case ("set", MUCLightNamespace.affiliations):
                return Self.changeAffiliations(query, actor: actor, room: &room, options: options) { user in
                    blocks(user, "room", jid) || blocks(user, "user", actor)
                }
            case ("set", MUCLightNamespace.destroy):
                guard current.affiliation(of: actor) == .owner || options.equalOccupants else { return .refused("not-allowed", "cancel") }
                room = nil
                // Everyone's affiliation is now none (spec §5.2).
                let destroyed = XMLElement(name: "x", namespace: MUCLightNamespace.destroy)
                return .done(reply: nil, announcements: current.occupants.keys.map { user in
                    ([Self.affiliationsX(version: nil, [(user, .none)], in: current), destroyed], [user])
                })
            default:
                return .refused("feature-not-implemented", "cancel")
            }
        }, done: { [weak self] result in self?.finish(iq, result, room: jid) })
    }

    /// `#affiliations` set: the changes as AffiliationChange allows them. Everyone who
    /// stays gets the delta with both versions; a newcomer the whole list with the new
    /// version; whoever leaves a notice of that alone. The last one out ends the room.
    private static func changeAffiliations(_ query: XMLElement, actor: JID, room: inout MUCLightRoom?,
                                           options: MUCLightOptions, blocked: (JID) -> Bool) -> Outcome {
        guard var current = room else { return .refused("item-not-found", "cancel") }
        let namespace = MUCLightNamespace.affiliations
        var requested: [(JID, Affiliation)] = []
        for user in query.elements where user.name == "user" {
            guard let jid = JID(user.text.trimmingCharacters(in: .whitespaces)),
                  let affiliation = user[attribute: "affiliation"].flatMap(Affiliation.init) else {
                return .refused("bad-request", "modify")
            }
            requested.append((jid, affiliation))
        }
        let before = current
        switch AffiliationChange(options: options).apply(requested, by: actor, to: &current, blocked: blocked) {
        case .refused(let condition):
            let type = ["item-not-found": "cancel", "bad-request": "modify"][condition] ?? "auth"
            return .refused(condition, type)
        case .changed(let changes):
            guard !changes.isEmpty else { return .done(reply: nil, announcements: []) }
            let left = changes.filter { $0.value == .none }.map(\.key)
            let joined = changes.filter { $0.value != .none && before.affiliation(of: $0.key) == .none }.map(\.key)
            let stayed = current.occupants.keys.filter { !joined.contains($0) }
            var announcements: [(xs: [XMLElement], to: [JID])] = []
            for user in left {
                announcements.append(([affiliationsX(version: nil, [(user, .none)], in: current)], [user]))
            }
            if current.occupants.isEmpty {
                room = nil
                return .done(reply: nil, announcements: announcements)
            }
            current.version = ModMUCLight.newVersion()
            room = current
            // Who stays gets the whole change list with both versions; a newcomer only its
            // own affiliation (spec §5.4).
            let sortedChanges = changes.sorted { $0.key.description < $1.key.description }.map { ($0.key, $0.value) }
            var delta = affiliationsX(version: current.version, sortedChanges, in: current)
            delta.children.insert(.element(versionElement("prev-version", before.version, namespace)), at: 0)
            announcements.append(([delta], Array(stayed)))
            for user in joined {
                announcements.append(([affiliationsX(version: current.version, [(user, current.affiliation(of: user))], in: current)],
                                      [user]))
            }
            return .done(reply: nil, announcements: announcements, history: delta)
        }
    }

    private func finish(_ iq: XMLElement, _ result: Result<Outcome, Error>, room: JID) {
        switch result {
        case .failure:
            answer(iq, error: "internal-server-error", type: "wait")
        case .success(.refused(let condition, let type)):
            answer(iq, error: condition, type: type)
        case .success(.done(let payload, let announcements, let history)):
            // The occupants hear of a change before its requester gets the result (spec §5.4).
            let id = iq[attribute: "id"] ?? MUCLightID.make()
            if let history, let actor = iq[attribute: "from"].flatMap(JID.init) {
                // The room's history (an archive's filter_room_packet) keeps the change as
                // the occupants who stay hear it, as MongooseIM's does.
                _ = host.hooks.runFilterRoomPacket(room: room, sender: actor.bare, announcement([history], from: room, id: id))
            }
            for (xs, users) in announcements {
                announce(xs, from: room, to: users.sorted { $0.description < $1.description }, id: id)
            }
            reply(iq, payload)
        }
    }

    /// `<x xmlns='…#affiliations'>` with the version (if any) and `users`.
    static func affiliationsX(version: String?, _ users: [(JID, Affiliation)], in room: MUCLightRoom) -> XMLElement {
        let namespace = MUCLightNamespace.affiliations
        var x = XMLElement(name: "x", namespace: namespace)
        if let version { x.append(versionElement("version", version, namespace)) }
        for element in room.userElements(namespace, users) { x.append(element) }
        return x
    }

    static func versionElement(_ name: String, _ version: String, _ namespace: String) -> XMLElement {
        XMLElement(name: name, namespace: namespace, children: [.text(version)])
    }
}
