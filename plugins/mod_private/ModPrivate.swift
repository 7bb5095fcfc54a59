import XMPPConfig
import XMPPCore
import XMPPModuleAPI
import XMPPStore

/// XEP-0049 Private XML Storage (jabber:iq:private), as MongooseIM's mod_private:
/// a user stores XML fragments on the server, one per namespace (a later set of a
/// namespace replaces it), and gets them back from any resource. Rows live in the
/// SQLite file the workers share (`private_storage`).
///
/// Options as MongooseIM's: `backend` ("rdbms": SQLite here) and `iqdisc`.
public final class ModPrivate: ServerModule {
    public static let name = "mod_private"
    public static let perUserTables = [PerUserTable("private_storage")]
    static let namespace = "jabber:iq:private"

    let store: PrivateStore

    static func parse(_ options: ModuleOptions) throws {
        try options.checkKnownKeys(["backend", "iqdisc"])
        _ = try options.oneOf("backend", ["rdbms"], default: "rdbms")
        _ = try options.string("iqdisc", default: "one_queue") // one queue per loop here
    }

    public static func validate(_ options: ModuleOptions) throws { try parse(options) }

    public required init(options: ModuleOptions, host: ModuleHost) throws {
        try Self.parse(options)
        store = try PrivateStore(path: host.databasePath)
        // XEP-0049 defines no disco feature (MongooseIM advertises none either).
        host.registerIQHandler(namespace: Self.namespace, target: .account) { [store] request in
            PrivateIQ.handle(request, store: store)
        }
    }
}
