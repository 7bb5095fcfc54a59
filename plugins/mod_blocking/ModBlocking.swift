import NIOConcurrencyHelpers
import XMPPConfig
import XMPPCore
import XMPPModuleAPI
import XMPPStore

/// XEP-0191 Blocking Command (urn:xmpp:blocking), as MongooseIM's mod_blocking:
/// blocklist get / block / unblock (all, when no item is given) with pushes to every
/// bound resource of the user, the list in SQLite (`blocking_items`), and the block
/// enforced in both directions.
///
/// The two users may be on different workers, so each worker enforces what it can
/// see, reading the lists from SQLite (see BlocklistStore for why there is no cache):
/// - user_send_packet, on the sender's worker: a stanza to a JID the sender blocked
///   is refused (§3.3: `<not-acceptable/>` + `<blocked/>`), and a stanza to a local
///   user who blocked the sender is stopped before it is routed, stored offline,
///   archived or carbon-copied;
/// - user_receive_packet, on each recipient's worker: what reaches a session by
///   other paths (presence broadcast, probe answers and other stanzas modules route
///   on a user's behalf) is stopped the same way.
/// Both hooks run before the other modules' (priority 10, see Hooks).
public final class ModBlocking: ServerModule {
    public static let name = "mod_blocking"
    public static let perUserTables = [PerUserTable("blocking_items", userColumn: "owner_user", domainColumn: "owner_domain")]
    static let namespace = "urn:xmpp:blocking"
    static let errors = "urn:xmpp:blocking:errors"
    static let hookPriority = 10

    let host: ModuleHost
    let store: BlocklistStore
    let enforcement: BlockingEnforcement
    private let pushCounter = NIOLockedValueBox(0)

    public static func validate(_ options: ModuleOptions) throws { _ = try BlockingOptions(options) }

    public required init(options: ModuleOptions, host: ModuleHost) throws {
        _ = try BlockingOptions(options)
        self.host = host
        self.store = try BlocklistStore(path: host.databasePath, logger: host.logger)
        self.enforcement = BlockingEnforcement(store: store, host: host)
        host.addServerFeature(Self.namespace)
        host.registerIQHandler(namespace: Self.namespace, target: .account) { [weak self] request in
            guard let self else { return request.fail("service-unavailable", "cancel") }
            self.handle(request)
        }
        host.hooks.onUserSendPacket(priority: Self.hookPriority) { [enforcement] session, stanza in
            enforcement.userSent(stanza, by: session)
        }
        host.hooks.onUserReceivePacket(priority: Self.hookPriority) { [enforcement] session, stanza in
            enforcement.userReceives(stanza, at: session)
        }
    }

    /// §3.3 / §3.4 / §3.5: an iq set with the change to every bound resource of the
    /// user (the one that sent the command included), from the user's bare JID.
    func push(_ payload: XMLElement, to owner: JID) {
        for resource in host.boundResources(of: owner) {
            let id = pushCounter.withLockedValue { count -> Int in count += 1; return count }
            var iq = XMLElement(name: "iq", namespace: XMPPNamespace.client, attributes: [
                "type": "set", "id": "block-push-\(id)", "from": owner.bare.description, "to": resource.description])
            iq.append(payload)
            host.route(iq)
        }
    }
}
