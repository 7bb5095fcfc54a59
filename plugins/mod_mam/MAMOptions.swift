import XMPPConfig

/// `[modules.mod_mam]` options, as MongooseIM's: common options, and the `pm` and
/// `muc` sections that enable the one-to-one and the room archive, each of which may
/// override a common option for itself (`muc.no_stanzaid_element = true`).
struct MAMOptions {
    /// What one archive does; the common options, or a section's overrides.
    struct Archive {
        /// Do not add `<stanza-id/>` to delivered messages.
        var noStanzaIDElement: Bool
        /// Also archive chat markers (XEP-0333) without a body.
        var archiveChatMarkers: Bool
        /// RSM page size when the query gives no `<max/>`.
        var defaultResultLimit: Int
        /// The largest page a query may ask for (larger `<max/>` is reduced to this).
        var maxResultLimit: Int
        /// `full_text_search`: queries may filter by words of the body (MongooseIM's
        /// `full-text-search` form field); default true.
        var fullTextSearch: Bool
        /// `message_retraction`: a XEP-0424 retraction turns the retracted message into
        /// a tombstone in the archives (the retraction itself is always archived); default true.
        var messageRetraction: Bool
    }

    /// One-to-one archives: on with a `pm` section, and (xmppd's choice, so that a bare
    /// `[modules.mod_mam]` keeps meaning what it always did) when neither section is given.
    var oneToOne: Archive?
    /// The room archive (a `muc` section): its settings and `host`, the domain of the
    /// rooms whose messages are archived ("@HOST@" is each served host; default
    /// "conference.@HOST@", for MUC Light its service domain).
    var rooms: (host: String, archive: Archive)?

    static let commonKeys = ["backend", "no_stanzaid_element", "is_archivable_message", "archive_chat_markers",
                             "default_result_limit", "max_result_limit", "full_text_search", "message_retraction",
                             "user_prefs_store"]

    init(_ options: ModuleOptions) throws {
        try options.checkKnownKeys(Self.commonKeys + ["pm", "muc"])
        let common = try Self.archive(options, defaults: nil)
        let hasPM = options.entries["pm"] != nil, hasMUC = options.entries["muc"] != nil
        if hasPM || !hasMUC {
            let pm = try options.table("pm")
            try pm.checkKnownKeys(Self.commonKeys + ["archive_groupchats", "same_mam_id_for_peers"])
            if try pm.bool("archive_groupchats", default: false) {
                throw pm.error("archive_groupchats",
                               "found true, expected false (rooms keep their own archive: use the muc section)")
            }
            if try pm.bool("same_mam_id_for_peers", default: false) {
                throw pm.error("same_mam_id_for_peers", "found true, expected false (each party's copy has its own id)")
            }
            oneToOne = try Self.archive(pm, defaults: common)
        }
        if hasMUC {
            let muc = try options.table("muc")
            try muc.checkKnownKeys(Self.commonKeys + ["host"])
            let host = try muc.string("host", default: "conference.@HOST@")
            guard !host.isEmpty else { throw muc.error("host", "found \"\", expected a domain such as \"muclight.@HOST@\"") }
            rooms = (host, try Self.archive(muc, defaults: common))
        }
    }

    /// A section's settings: its own values, else `defaults` (the common ones).
    private static func archive(_ options: ModuleOptions, defaults: Archive?) throws -> Archive {
        _ = try options.oneOf("backend", ["rdbms"], default: "rdbms")
        // MongooseIM keeps archiving preferences only with a store for them; without
        // one (its default) every message is archived and a client cannot change that.
        if options.entries["user_prefs_store"] != nil {
            throw options.error("user_prefs_store", "found a value, expected it unset (xmppd archives every message "
                                + "and keeps no archiving preferences, as MongooseIM without user_prefs_store)")
        }
        // MongooseIM names an Erlang module here; there is no such thing to call in xmppd.
        _ = try options.string("is_archivable_message", default: "mod_mam_utils")
        let archive = Archive(
            noStanzaIDElement: try options.bool("no_stanzaid_element", default: defaults?.noStanzaIDElement ?? false),
            archiveChatMarkers: try options.bool("archive_chat_markers", default: defaults?.archiveChatMarkers ?? false),
            defaultResultLimit: try options.int("default_result_limit", default: defaults?.defaultResultLimit ?? 50, minimum: 1),
            maxResultLimit: try options.int("max_result_limit", default: defaults?.maxResultLimit ?? 50, minimum: 1),
            fullTextSearch: try options.bool("full_text_search", default: defaults?.fullTextSearch ?? true),
            messageRetraction: try options.bool("message_retraction", default: defaults?.messageRetraction ?? true))
        if archive.defaultResultLimit > archive.maxResultLimit {
            throw options.error("default_result_limit", "found \(archive.defaultResultLimit), but it must not exceed "
                                + "max_result_limit (\(archive.maxResultLimit))")
        }
        return archive
    }

    /// The archived rooms' domain of a served host.
    func roomDomain(for host: String) -> String? {
        rooms?.host.replacingOccurrences(of: "@HOST@", with: host).lowercased()
    }
}
