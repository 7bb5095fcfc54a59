import NIOConcurrencyHelpers
import XMPPConfig
import XMPPCore
import XMPPModuleAPI
import XMPPStore

/// Rosters and presence subscriptions (RFC 6121), as MongooseIM's mod_roster:
/// jabber:iq:roster get / set / pushes with optional versioning, the subscription
/// state machine with pre-approval, presence broadcast to subscribers and the
/// presence of contacts at login. Rows live in the SQLite file the workers share.
public final class ModRoster: ServerModule, @unchecked Sendable {
    public static let name = "mod_roster"
    public static let perUserTables = [PerUserTable("roster_items"), PerUserTable("roster_versions")]

    let host: ModuleHost
    let options: RosterOptions
    let store: RosterStore
    let directed = DirectedPresence()
    private let pushCounter = NIOLockedValueBox(0)

    public static func validate(_ options: ModuleOptions) throws { _ = try RosterOptions(options) }

    public required init(options moduleOptions: ModuleOptions, host: ModuleHost) throws {
        self.host = host
        self.options = try RosterOptions(moduleOptions)
        self.store = try RosterStore(path: host.databasePath, hosts: host.hosts)
        host.addStreamFeature(XMLElement(name: "sub", namespace: RosterNamespace.preApproval))
        if options.versioning {
            host.addStreamFeature(XMLElement(name: "ver", namespace: RosterNamespace.rosterVersioning))
        }
        host.registerIQHandler(namespace: RosterNamespace.roster, target: .account) { [weak self] request in
            self?.handleRosterIQ(request)
        }
        host.hooks.onUserSendPacket { [weak self] session, stanza in
            guard let self, stanza.name == "presence" else { return .pass }
            return self.userSentPresence(stanza, from: session)
        }
        host.hooks.onS2SReceivePacket { [weak self] sender, stanza in
            guard let self, stanza.name == "presence" else { return .pass }
            return self.remotePresence(stanza, from: sender)
        }
        host.hooks.onUserAvailable { [weak self] session in self?.userBecameAvailable(session) }
        host.hooks.onSessionClosed { [weak self] session in self?.sessionClosed(session) }
    }

    // MARK: effects of a change, after its transaction

    func perform(_ effects: [RosterEffect]) {
        for effect in effects {
            switch effect {
            case .push(let owner, let item, let version):
                push(item, version: version, to: owner)
            case .route(let stanza):
                host.route(stanza)
            case .presences(let user, let target):
                for var presence in host.availablePresences(of: user) {
                    presence[attribute: "to"] = target.description
                    host.route(presence)
                }
            case .unavailable(let user, let target):
                for resource in host.availableResources(of: user) {
                    host.route(XMLElement(name: "presence", namespace: XMPPNamespace.client, attributes: [
                        "type": "unavailable", "from": resource.description, "to": target.description]))
                }
            }
        }
    }

    /// RFC 6121 §2.1.6: a push goes to every bound resource (interested or not: xmppd
    /// does not track roster gets per session), from the user's bare JID.
    private func push(_ item: XMLElement, version: Int, to owner: JID) {
        var query = XMLElement(name: "query", namespace: RosterNamespace.roster)
        if options.versioning { query[attribute: "ver"] = String(version) }
        query.append(item)
        for resource in host.boundResources(of: owner) {
            let id = pushCounter.withLockedValue { count -> Int in count += 1; return count }
            var iq = XMLElement(name: "iq", namespace: XMPPNamespace.client, attributes: [
                "type": "set", "id": "roster-push-\(id)", "from": owner.bare.description, "to": resource.description])
            iq.append(query)
            host.route(iq)
        }
    }
}
