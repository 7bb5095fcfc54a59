import XMPPConfig

/// `[modules.mod_mam]` options, as MongooseIM's (one-to-one archive only).
struct MAMOptions {
    /// Do not add `<stanza-id/>` to delivered messages.
    var noStanzaIDElement: Bool
    /// Also archive chat markers (XEP-0333) without a body.
    var archiveChatMarkers: Bool
    /// RSM page size when the query gives no `<max/>`.
    var defaultResultLimit: Int
    /// The largest page a query may ask for (larger `<max/>` is reduced to this).
    var maxResultLimit: Int

    init(_ options: ModuleOptions) throws {
        try options.checkKnownKeys(["backend", "no_stanzaid_element", "is_archivable_message", "archive_chat_markers",
                                    "default_result_limit", "max_result_limit"])
        _ = try options.oneOf("backend", ["rdbms"], default: "rdbms")
        // MongooseIM names an Erlang module here; there is no such thing to call in xmppd.
        _ = try options.string("is_archivable_message", default: "mod_mam_utils")
        noStanzaIDElement = try options.bool("no_stanzaid_element", default: false)
        archiveChatMarkers = try options.bool("archive_chat_markers", default: false)
        defaultResultLimit = try options.int("default_result_limit", default: 50, minimum: 1)
        maxResultLimit = try options.int("max_result_limit", default: 50, minimum: 1)
        if defaultResultLimit > maxResultLimit {
            throw options.error("default_result_limit",
                                "found \(defaultResultLimit), but it must not exceed max_result_limit (\(maxResultLimit))")
        }
    }
}
