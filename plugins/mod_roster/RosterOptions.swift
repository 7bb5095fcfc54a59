import XMPPConfig

/// `[modules.mod_roster]` options, as MongooseIM's mod_roster: `versioning`,
/// `store_current_id`, `backend` ("rdbms": the shared SQLite file here) and `iqdisc`.
struct RosterOptions: Sendable {
    /// RFC 6121 §2.6 roster versioning: `ver` on results and pushes, and an empty
    /// result when the client's version is current.
    var versioning: Bool
    /// MongooseIM keeps the version in the database instead of hashing the roster;
    /// xmppd always keeps a per-user counter, so this is accepted and changes nothing.
    var storeCurrentID: Bool

    init(_ options: ModuleOptions) throws {
        try options.checkKnownKeys(["versioning", "store_current_id", "backend", "iqdisc"])
        versioning = try options.bool("versioning", default: false)
        storeCurrentID = try options.bool("store_current_id", default: false)
        _ = try options.oneOf("backend", ["rdbms"], default: "rdbms")
        _ = try options.string("iqdisc", default: "one_queue") // one queue per loop here
    }
}
