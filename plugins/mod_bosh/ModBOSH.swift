import XMPPConfig
import XMPPModuleAPI

/// XEP-0206 XMPP over BOSH, configured as MongooseIM's mod_bosh. As there, BOSH needs
/// both this module and a `mod_bosh` handler on a `[[listen.http]]` listener; the
/// sessions themselves (long polling, request ids, inactivity) live in the core's HTTP
/// listener (Sources/XMPPServer/HTTP/BOSH), which serves them as c2s sessions.
public final class ModBOSH: ServerModule {
    public static let name = "mod_bosh"

    static func settings(_ options: ModuleOptions) throws -> BOSHSettings {
        try options.checkKnownKeys(["backend", "inactivity", "max_wait", "server_acks", "max_pause"])
        // Sessions are the worker's own memory; MongooseIM's backend names are accepted.
        _ = try options.oneOf("backend", ["mnesia", "cets"], default: "mnesia")
        return BOSHSettings(
            inactivity: try options.intOrKeyword("inactivity", keyword: "infinity", default: 30),
            maxWait: try options.intOrKeyword("max_wait", keyword: "infinity", default: nil),
            serverAcks: try options.bool("server_acks", default: false),
            maxPause: try options.int("max_pause", default: 120, minimum: 1))
    }

    public static func validate(_ options: ModuleOptions) throws { _ = try settings(options) }

    public required init(options: ModuleOptions, host: ModuleHost) throws {
        host.enableBOSH(try Self.settings(options))
    }
}
