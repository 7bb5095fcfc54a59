import XMPPConfig
import XMPPCore
import XMPPModuleAPI

/// XEP-0198 Stream Management, configured as MongooseIM's mod_stream_management.
///
/// Like MongooseIM's, this module is "a starter": counting, acks, the buffer of
/// unacked stanzas and resumption are about the connection, so they live in the
/// c2s core (Sources/XMPPServer/C2S/StreamManagement); this module validates the
/// options, advertises the stream feature and switches the core's part on.
/// Resumption works across worker processes: the worker that gets `<resume/>`
/// takes the session over from whichever worker holds it, through the mesh.
public final class ModStreamManagement: ServerModule {
    public static let name = "mod_stream_management"
    public static let namespace = "urn:xmpp:sm:3"

    static func settings(_ options: ModuleOptions) throws -> StreamManagementSettings {
        try options.checkKnownKeys(["backend", "buffer", "buffer_max", "ack", "ack_freq", "resume_timeout", "stale_h"])
        // Session tables are the workers' own memory, replicated over the mesh; the
        // names MongooseIM gives its backends are accepted so its configs load.
        _ = try options.oneOf("backend", ["mnesia", "cets"], default: "mnesia")
        var settings = StreamManagementSettings()
        settings.buffer = try options.bool("buffer", default: true)
        settings.bufferMax = try options.intOrKeyword("buffer_max", keyword: "infinity", default: 100)
        settings.ack = try options.bool("ack", default: true)
        settings.ackFrequency = try options.int("ack_freq", default: 1, minimum: 1)
        settings.resumeTimeout = try options.int("resume_timeout", default: 600, minimum: 1)
        let staleH = try options.table("stale_h")
        try staleH.checkKnownKeys(["enabled", "repeat_after", "geriatric"])
        settings.staleH = try staleH.bool("enabled", default: false)
        _ = try staleH.int("repeat_after", default: 1800, minimum: 1) // cleanup runs as entries expire
        settings.staleHGeriatric = try staleH.int("geriatric", default: 3600, minimum: 1)
        return settings
    }

    public static func validate(_ options: ModuleOptions) throws { _ = try settings(options) }

    public required init(options: ModuleOptions, host: ModuleHost) throws {
        let settings = try Self.settings(options)
        host.addStreamFeature(XMLElement(name: "sm", namespace: Self.namespace))
        host.enableStreamManagement(settings)
    }
}
