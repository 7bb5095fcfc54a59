import XMPPConfig
import XMPPCore
import XMPPModuleAPI

/// XEP-0280 Message Carbons (urn:xmpp:carbons:2), as MongooseIM's mod_carboncopy.
///
/// Carbons state is per session, and a user's resources may live in other worker
/// processes, so the work is split by who knows what:
/// - the sender's worker (user_send_packet) routes a `<sent/>` carbon to every other
///   bound resource of the sender;
/// - the recipient's worker (user_receive_packet, once per delivered resource) routes
///   a `<received/>` carbon to every bound resource of the recipient that did not
///   get the message itself (one delivered resource is elected to do it);
/// - every worker, when a carbon is about to be written to one of its sessions,
///   drops it unless that session enabled carbons (only this worker knows).
/// Carbons are never carbon-copied themselves.
public final class ModCarbonCopy: ServerModule {
    public static let name = "mod_carboncopy"

    private let host: ModuleHost
    private let state = CarbonsState()

    static func parse(_ options: ModuleOptions) throws {
        try options.checkKnownKeys(["iqdisc"])
        _ = try options.string("iqdisc", default: "one_queue") // accepted for MongooseIM configs
    }

    public static func validate(_ options: ModuleOptions) throws { try parse(options) }

    public required init(options: ModuleOptions, host: ModuleHost) throws {
        try Self.parse(options)
        self.host = host
        host.addServerFeature(Carbons.namespace)
        host.registerIQHandler(namespace: Carbons.namespace, target: .account) { [state] request in
            CarbonsIQ.handle(request, state: state)
        }
        host.hooks.onUserSendPacket { [weak self] session, stanza in
            self?.userSent(stanza, by: session)
            return .pass
        }
        host.hooks.onUserReceivePacket { [weak self] session, stanza in
            self?.userReceives(stanza, at: session) ?? .pass
        }
        host.hooks.onSessionOpened { [state] session in state.opened(session) }
        host.hooks.onSessionClosed { [state] session in state.closed(session) }
        // XEP-0198 resumption in another worker: the session keeps its carbons state.
        host.hooks.onSessionExport { [state] session in
            defer { state.closed(session) }
            return state.isEnabled(session) ? [XMLElement(name: "enabled", namespace: Carbons.namespace)] : []
        }
        host.hooks.onSessionImport { [state] session, exported in
            state.opened(session)
            if exported.contains(where: { $0.name == "enabled" && $0.namespace == Carbons.namespace }) {
                state.set(session, enabled: true)
            }
        }
    }

    /// On the sender's worker: `<sent/>` carbons to the sender's other resources.
    private func userSent(_ stanza: XMLElement, by session: JID) {
        guard stanza.name == "message", Carbons.isEligible(stanza) else { return }
        let to = stanza[attribute: "to"].flatMap(JID.init)
        for resource in host.boundResources(of: session.bare) where resource != session && resource != to {
            host.route(Carbons.wrap(stanza, as: "sent", for: resource))
        }
    }

    /// On the recipient's worker, just before `stanza` is written to `session`.
    private func userReceives(_ stanza: XMLElement, at session: JID) -> Hooks.Verdict {
        guard stanza.name == "message" else { return .pass }
        if Carbons.isCarbon(stanza) {
            // Our own carbons come from the user's bare JID; filter them by this
            // session's state. Anything else merely looks like one: pass it, uncopied.
            guard stanza[attribute: "from"] == session.bare.description else { return .pass }
            return state.isEnabled(session) ? .pass : .handled
        }
        guard Carbons.isEligible(stanza), !Carbons.isOfflineDelivery(stanza, to: session) else { return .pass }
        // A user's message to their own resources is covered by the sent carbons.
        if let from = stanza[attribute: "from"].flatMap(JID.init), from.bare == session.bare { return .pass }
        let recipients = Carbons.deliveredResources(of: stanza, at: session, host: host)
        // Each delivered resource runs this hook; only the first (in any worker's
        // eyes: the smallest JID) sends the received carbons.
        guard recipients.min(by: { $0.description < $1.description }) == session else { return .pass }
        for resource in host.boundResources(of: session.bare) where !recipients.contains(resource) {
            host.route(Carbons.wrap(stanza, as: "received", for: resource))
        }
        return .pass
    }
}
