import XMPPConfig

/// `[modules.mod_muc_light]`, MongooseIM's options and defaults.
struct MUCLightOptions: Sendable {
    /// The rooms' domain; "@HOST@" is each served host.
    var host = "muclight.@HOST@"
    var equalOccupants = false
    var maxOccupants = Int.max
    var roomsPerUser = Int.max
    /// Members may change every field, not only the subject.
    var allCanConfigure = false
    var allCanInvite = false

    /// The defaults.
    init() {}

    init(_ options: ModuleOptions) throws {
        try options.checkKnownKeys(["host", "backend", "equal_occupants", "legacy_mode", "rooms_per_user", "blocking",
                                    "all_can_configure", "all_can_invite", "max_occupants", "rooms_per_page",
                                    "rooms_in_rosters", "allow_multiple_owners", "iqdisc"])
        host = try options.string("host", default: host)
        _ = try options.oneOf("backend", ["mnesia", "rdbms", "cets"], default: "mnesia")
        equalOccupants = try options.bool("equal_occupants", default: false)
        if try options.bool("legacy_mode", default: false) {
            throw options.error("legacy_mode", "found true, expected false (xmppd has no legacy MUC mode)")
        }
        roomsPerUser = try options.intOrKeyword("rooms_per_user", keyword: "infinity", default: nil) ?? Int.max
        maxOccupants = try options.intOrKeyword("max_occupants", keyword: "infinity", default: nil) ?? Int.max
        _ = try options.bool("blocking", default: true)
        allCanConfigure = try options.bool("all_can_configure", default: false)
        allCanInvite = try options.bool("all_can_invite", default: false)
        _ = try options.intOrKeyword("rooms_per_page", keyword: "infinity", default: 10)
        if try options.bool("rooms_in_rosters", default: false) {
            throw options.error("rooms_in_rosters", "found true, expected false (rooms in rosters are not supported)")
        }
        if try options.bool("allow_multiple_owners", default: false) {
            throw options.error("allow_multiple_owners", "found true, expected false (one owner per room)")
        }
        _ = try options.string("iqdisc", default: "one_queue")
    }

    /// The rooms' domain of a served host.
    func domain(for host: String) -> String { self.host.replacingOccurrences(of: "@HOST@", with: host).lowercased() }
}
