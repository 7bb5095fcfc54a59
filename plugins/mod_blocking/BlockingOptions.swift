import XMPPConfig

/// `[modules.mod_blocking]` options, as MongooseIM's mod_blocking (which shares
/// mod_privacy's): `backend` ("rdbms": the shared SQLite file here) and `iqdisc`.
struct BlockingOptions: Sendable {
    init(_ options: ModuleOptions) throws {
        try options.checkKnownKeys(["backend", "iqdisc"])
        _ = try options.oneOf("backend", ["rdbms"], default: "rdbms")
        _ = try options.string("iqdisc", default: "one_queue") // one queue per loop here
    }
}
