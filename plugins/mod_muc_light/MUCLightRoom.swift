import XMPPCore

/// `urn:xmpp:muclight:0` and its sub-namespaces (MongooseIM's MUC Light).
enum MUCLightNamespace {
    static let base = "urn:xmpp:muclight:0"
    static let create = base + "#create"
    static let configuration = base + "#configuration"
    static let affiliations = base + "#affiliations"
    static let info = base + "#info"
    static let destroy = base + "#destroy"
    static let blocking = base + "#blocking"
}

enum Affiliation: String, Sendable {
    case owner, member, none
}

/// One room: its configuration (the default schema: roomname, subject), its
/// occupants (bare JIDs) and the version that changes with either.
struct MUCLightRoom: Sendable, Equatable {
    var jid: JID
    var version: String
    var config: [(key: String, value: String)]
    var occupants: [JID: Affiliation]

    static func == (a: MUCLightRoom, b: MUCLightRoom) -> Bool {
        a.jid == b.jid && a.version == b.version && a.occupants == b.occupants
            && a.config.map(\.key) == b.config.map(\.key) && a.config.map(\.value) == b.config.map(\.value)
    }

    static let defaultConfig: [(key: String, value: String)] = [("roomname", "Untitled"), ("subject", "")]

    func value(_ key: String) -> String? { config.first { $0.key == key }?.value }

    mutating func set(_ key: String, _ value: String) {
        if let index = config.firstIndex(where: { $0.key == key }) { config[index].value = value }
    }

    func affiliation(of user: JID) -> Affiliation { occupants[user.bare] ?? .none }

    var owners: [JID] { occupants.filter { $0.value == .owner }.map(\.key).sorted { $0.description < $1.description } }

    /// The configuration as `<roomname>`, `<subject>` elements in `namespace`.
    func configElements(_ namespace: String) -> [XMLElement] {
        config.map { field in
            var element = XMLElement(name: field.key, namespace: namespace)
            element.append(text: field.value)
            return element
        }
    }

    /// `<user affiliation='…'>jid</user>` for each of `users` (all occupants by default).
    func userElements(_ namespace: String, _ users: [(JID, Affiliation)]? = nil) -> [XMLElement] {
        let list = users ?? occupants.map { ($0.key, $0.value) }.sorted { $0.0.description < $1.0.description }
        return list.map { user, affiliation in
            var element = XMLElement(name: "user", namespace: namespace, attributes: ["affiliation": affiliation.rawValue])
            element.append(text: user.description)
            return element
        }
    }
}

/// What an affiliation change asks for, checked against the room's rules
/// (MongooseIM's mod_muc_light: owners change anything, members may leave and, with
/// all_can_invite, add members; one owner unless equal_occupants makes all members).
struct AffiliationChange {
    let options: MUCLightOptions

    enum Outcome: Equatable {
        case changed(changes: [JID: Affiliation])
        case refused(condition: String)
    }

    /// `blocked(user)`: the user denies the room or the actor (spec §4.5); adding it is
    /// left out silently.
    func apply(_ requested: [(JID, Affiliation)], by actor: JID, to room: inout MUCLightRoom,
               blocked: (JID) -> Bool = { _ in false }) -> Outcome {
        let actorAffiliation = room.affiliation(of: actor)
        guard actorAffiliation != .none else { return .refused(condition: "item-not-found") }
        var changes: [JID: Affiliation] = [:]
        for (user, wanted) in requested {
            let user = user.bare
            let current = room.affiliation(of: user)
            // "All changes must be meaningful" (spec §5.4).
            guard current != wanted else { return .refused(condition: "bad-request") }
            let allowed: Bool
            switch actorAffiliation {
            case .owner:
                allowed = true
            case .member:
                // Leaving, or inviting a member when everyone may invite.
                allowed = (user == actor.bare && wanted == .none)
                    || (options.allCanInvite && current == .none && wanted == .member)
            case .none:
                allowed = false
            }
            guard allowed else { return .refused(condition: "not-allowed") }
            if current == .none, blocked(user) { continue }
            changes[user] = options.equalOccupants && wanted == .owner ? .member : wanted
        }
        // On a copy: a refused change leaves the room as it was.
        var updated = room
        for (user, affiliation) in changes {
            updated.occupants[user] = affiliation == .none ? nil : affiliation
        }
        guard updated.occupants.count <= options.maxOccupants else { return .refused(condition: "not-allowed") }
        // One owner at most, unless several are allowed: a new owner demotes the old one.
        if !options.equalOccupants, updated.owners.count > 1, let newOwner = changes.first(where: { $0.value == .owner })?.key {
            for owner in updated.owners where owner != newOwner {
                updated.occupants[owner] = .member
                changes[owner] = .member
            }
        }
        // The owner left: the first member (by JID) takes over.
        if !options.equalOccupants, updated.owners.isEmpty,
           let heir = updated.occupants.keys.sorted(by: { $0.description < $1.description }).first {
            updated.occupants[heir] = .owner
            changes[heir] = .owner
        }
        room = updated
        return .changed(changes: changes)
    }
}
