import NIOCore
import XMPPConfig
import XMPPCore
import XMPPModuleAPI
import XMPPStore

/// XEP-0313 Message Archive Management (urn:xmpp:mam:2) for one-to-one messages and
/// rooms, as MongooseIM's mod_mam with the rdbms backend: an archive per user and per
/// room in SQLite (`mam_message`), queried with XEP-0004 filters and XEP-0059 paging.
///
/// Each archivable message is archived once per local party, both on the sender's
/// worker in user_send_packet: the sender's copy (outgoing) and, when the recipient
/// is a user of a served domain, the recipient's copy (incoming). The recipient's
/// copy cannot wait for user_receive_packet: that runs once per delivered resource,
/// and never for a recipient with no session (offline storage).
public final class ModMAM: ServerModule {
    public static let name = "mod_mam"
    public static let perUserTables = [PerUserTable("mam_message", userColumn: "owner_user", domainColumn: "owner_domain")]
    static let namespace = "urn:xmpp:mam:2"
    static let stanzaIDs = "urn:xmpp:sid:0"

    private let host: ModuleHost
    private let options: MAMOptions
    private let store: ArchiveStore

    public static func validate(_ options: ModuleOptions) throws { _ = try MAMOptions(options) }

    public required init(options moduleOptions: ModuleOptions, host: ModuleHost) throws {
        self.host = host
        self.options = try MAMOptions(moduleOptions)
        self.store = try ArchiveStore(path: host.databasePath, logger: host.logger)
        host.hooks.onPendingWrites { [store] committed in store.afterPendingWrites(committed) }
        if let archive = options.oneToOne { archiveOneToOne(archive) }
        if let rooms = options.rooms { archiveRooms(rooms.archive) }
    }

    private func archiveOneToOne(_ archive: MAMOptions.Archive) {
        // No core change: the account's disco#info belongs to mod_disco, so the
        // feature is advertised with the server's features.
        host.addServerFeature(Self.namespace)
        host.addServerFeature(Self.stanzaIDs)
        host.registerIQHandler(namespace: Self.namespace, target: .account) { [weak self] request in
            guard let self else { return request.fail("service-unavailable", "cancel") }
            // A user reads their own archive.
            guard request.to == request.from.bare else { return request.fail("forbidden", "auth") }
            MAMQueryHandler.handle(request, store: self.store, host: self.host, archive: archive)
        }
        // Hook order. To add <stanza-id/> to the delivered message, this hook routes
        // a rewritten copy itself and returns `.handled`, which stops the hooks
        // after it: so it must run after every other user_send_packet hook (the
        // carbons of mod_carboncopy, and any module that drops a message, which
        // then must not be archived): the last priority, whatever the config order.
        // It is the only hook that rewrites a sent message, so it also drops
        // XEP-0280's <private/> (§7: the server SHOULD remove it).
        host.hooks.onUserSendPacket(priority: Self.sendHookPriority) { [weak self] session, stanza in
            self?.userSent(stanza, by: session, archive: archive) ?? .pass
        }
    }

    /// MongooseIM's mod_mam_muc: a room's groupchat messages in the room's own archive
    /// (owner: the room's bare JID), as the room sends them, with the room's
    /// `<stanza-id/>`; its occupants query it with iqs to the room.
    private func archiveRooms(_ archive: MAMOptions.Archive) {
        let domains = Set(host.hosts.compactMap(options.roomDomain))
        host.registerIQHandler(namespace: Self.namespace, target: .room) { [weak self] request in
            guard let self, domains.contains(request.to.domain) else { return request.fail("service-unavailable", "cancel") }
            self.host.hooks.runCanAccessRoom(request.to, user: request.from) { allowed in
                guard allowed else { return request.fail("forbidden", "auth") }
                MAMQueryHandler.handle(request, store: self.store, host: self.host, archive: archive)
            }
        }
        host.hooks.onFilterRoomPacket { [weak self] room, sender, message in
            guard let self, domains.contains(room.domain),
                  Archivable.checkRoomMessage(message, archiveChatMarkers: archive.archiveChatMarkers) else { return message }
            let now = Timestamps.now()
            let id = StanzaIDs.make(at: now)
            var kept = Archivable.cleaned(message, parties: [room])
            self.store.append(ArchiveEntry(message: kept, timestamp: now, copies: [
                .init(stanzaID: id, owner: room.bare, remote: sender, outgoing: false)],
                retractedOriginID: archive.messageRetraction ? Retraction.target(of: message) : nil))
            if !archive.noStanzaIDElement { kept.append(MAMStanzas.stanzaID(id, by: room.bare)) }
            return kept
        }
    }

    /// After every other module's user_send_packet hook (the default is 50).
    static let sendHookPriority = 90

    private func userSent(_ stanza: XMLElement, by session: JID, archive: MAMOptions.Archive) -> Hooks.Verdict {
        guard stanza.name == "message",
              Archivable.check(stanza, archiveChatMarkers: archive.archiveChatMarkers) else { return .pass }
        let to = stanza[attribute: "to"].flatMap(JID.init) ?? session.bare
        let now = Timestamps.now()
        let kept = Archivable.cleaned(stanza, parties: [session, to])
        var entry = ArchiveEntry(message: kept, timestamp: now, copies: [
            .init(stanzaID: StanzaIDs.make(at: now), owner: session.bare, remote: to, outgoing: true)],
            retractedOriginID: archive.messageRetraction ? Retraction.target(of: stanza) : nil)
        var delivered = kept
        delivered.removeChildren("private", namespace: Archivable.carbons)
        if to.local != nil, host.hosts.contains(to.domain), to.bare != session.bare {
            let id = StanzaIDs.make(at: now)
            entry.copies.append(.init(stanzaID: id, owner: to.bare, remote: session, outgoing: false))
            if !archive.noStanzaIDElement { delivered.append(MAMStanzas.stanzaID(id, by: to.bare)) }
        }
        // A retraction tombstones the same sender's message to the same recipient in
        // each party's archive (see ArchiveEntry.retractedOriginID).
        store.append(entry)
        guard delivered != stanza else { return .pass }
        delivered[attribute: "to"] = to.description
        host.route(delivered)
        return .handled
    }
}
