import XMPPConfig
import XMPPCore
import XMPPModuleAPI

/// XEP-0030 Service Discovery, as MongooseIM's mod_disco: the server's identity
/// and features (every module adds its own with `addServerFeature`), its items
/// (connected external components and `extra_domains`), and the account identity
/// for a user's bare JID. Components of a listener with `hidden_components = true`
/// are left out of the items unless `users_can_see_hidden_services = true`.
public final class ModDisco: ServerModule {
    public static let name = "mod_disco"
    static let info = "http://jabber.org/protocol/disco#info"
    static let items = "http://jabber.org/protocol/disco#items"

    private let host: ModuleHost
    private let extraDomains: [String]
    private let usersCanSeeHidden: Bool

    static func parse(_ options: ModuleOptions) throws -> (extraDomains: [String], usersCanSeeHidden: Bool) {
        try options.checkKnownKeys(["extra_domains", "users_can_see_hidden_services", "iqdisc"])
        let seeHidden = try options.bool("users_can_see_hidden_services", default: true)
        _ = try options.string("iqdisc", default: "one_queue")
        return (try extraDomains(options), seeHidden)
    }

    private static func extraDomains(_ options: ModuleOptions) throws -> [String] {
        guard let value = options.entries["extra_domains"] else { return [] }
        guard case .array(let items) = value else {
            throw options.error("extra_domains", "expected an array of domain names")
        }
        return try items.map {
            guard case .string(let domain) = $0, JID(domain) != nil else {
                throw options.error("extra_domains", "expected an array of domain names")
            }
            return domain
        }
    }

    public static func validate(_ options: ModuleOptions) throws { _ = try parse(options) }

    public required init(options: ModuleOptions, host: ModuleHost) throws {
        self.host = host
        (self.extraDomains, self.usersCanSeeHidden) = try Self.parse(options)
        host.addServerFeature(Self.info)
        host.addServerFeature(Self.items)
        host.registerIQHandler(namespace: Self.info, target: .server) { [weak self] request in
            guard request.type == "get", let self else { return request.fail("bad-request", "modify") }
            var query = XMLElement(name: "query", namespace: Self.info)
            query.append(XMLElement(name: "identity", namespace: Self.info,
                                    attributes: ["category": "server", "type": "im", "name": "xmppd"]))
            for feature in Set(self.host.serverFeatures).sorted() {
                query.append(XMLElement(name: "feature", namespace: Self.info, attributes: ["var": feature]))
            }
            request.reply(query)
        }
        host.registerIQHandler(namespace: Self.items, target: .server) { [weak self] request in
            guard request.type == "get", let self else { return request.fail("bad-request", "modify") }
            var query = XMLElement(name: "query", namespace: Self.items)
            let components = self.host.externalComponents()
                .filter { self.usersCanSeeHidden || !$0.hidden }.map(\.domain).sorted()
            // Modules' services (MUC Light) are listed as MongooseIM's modules list theirs.
            for domain in components + self.host.serviceDomains + self.extraDomains {
                query.append(XMLElement(name: "item", namespace: Self.items, attributes: ["jid": domain]))
            }
            request.reply(query)
        }
        // XEP-0030 §3.1: the server answers for a user's bare JID.
        host.registerIQHandler(namespace: Self.info, target: .account) { request in
            guard request.type == "get" else { return request.fail("bad-request", "modify") }
            var query = XMLElement(name: "query", namespace: Self.info)
            query.append(XMLElement(name: "identity", namespace: Self.info,
                                    attributes: ["category": "account", "type": "registered"]))
            query.append(XMLElement(name: "feature", namespace: Self.info, attributes: ["var": Self.info]))
            request.reply(query)
        }
    }
}
