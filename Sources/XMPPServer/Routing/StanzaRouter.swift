import XMPPCore
import XMPPModuleAPI

/// Routes stanzas between the sessions of the served domains (RFC 6121 §8).
/// Recipients may live in this worker or another: `SessionRegistry` holds both, and
/// a `SessionHandle` hides where a session is (and on which transport).
public final class StanzaRouter: @unchecked Sendable {
    public let hosts: Set<String>
    public let registry: SessionRegistry

    /// Routes for domains that are not served hosts (external components, later
    /// s2s), asked in order before giving up on a domain.
    private var domainRoutes: [DomainRoute] = []
    /// Set once modules are started: offline storage takes undeliverable messages.
    public var hooks: Hooks?

    public init(hosts: [String], registry: SessionRegistry) {
        self.hosts = Set(hosts)
        self.registry = registry
    }

    /// Called while the worker is set up, before any stanza flows.
    public func addDomainRoute(_ route: DomainRoute) { domainRoutes.append(route) }

    /// Whether `domain` is this server's: a served host, or a domain of its own that
    /// a route serves (a module's service such as MUC Light's, a connected
    /// component). Federation (s2s) sends and accepts stanzas for these.
    public func isServed(_ domain: String) -> Bool {
        hosts.contains(domain) || domainRoutes.contains { $0.serves(domain) }
    }

    public enum Outcome {
        case delivered
        /// Nothing to do (e.g. presence to nobody, a bounced error).
        case dropped
        /// Send this error back to the sender.
        case bounce(XMLElement)
    }

    /// Routes a stanza whose `from` the session already stamped and whose `to`
    /// names a user of a served domain or another domain.
    public func route(_ stanza: XMLElement, to recipient: JID) -> Outcome {
        guard hosts.contains(recipient.domain) else {
            for route in domainRoutes {
                if let outcome = route.route(stanza, to: recipient) { return outcome }
            }
            // No s2s yet: every other domain is unreachable.
            return bounce(stanza, "remote-server-not-found")
        }
        guard recipient.local != nil else {
            return bounce(stanza, "service-unavailable")
        }
        switch stanza.name {
        case "message": return routeMessage(stanza, to: recipient)
        case "presence": return routePresence(stanza, to: recipient)
        default: return routeIQ(stanza, to: recipient)
        }
    }

    private func routeMessage(_ stanza: XMLElement, to recipient: JID) -> Outcome {
        if recipient.resource != nil, let session = registry.session(for: recipient) {
            session.deliver(stanza)
            return .delivered
        }
        let recipients = registry.messageRecipients(of: recipient.bare)
        if recipients.isEmpty {
            // RFC 6121 §8.5.2.2: offline storage (a module) may take it; otherwise
            // tell the sender. Headlines and errors are silently dropped.
            let type = stanza[attribute: "type"]
            if type == "headline" || type == "error" { return .dropped }
            if hooks?.runOfflineMessage(stanza, recipient.bare) == true { return .delivered }
            return bounce(stanza, "service-unavailable")
        }
        for session in recipients { session.deliver(stanza) }
        return .delivered
    }

    private func routePresence(_ stanza: XMLElement, to recipient: JID) -> Outcome {
        let targets: [SessionHandle]
        if recipient.resource != nil {
            targets = registry.session(for: recipient).map { [$0] } ?? []
        } else {
            targets = registry.availableSessions(of: recipient.bare)
        }
        for session in targets { session.deliver(stanza) }
        return targets.isEmpty ? .dropped : .delivered
    }

    private func routeIQ(_ stanza: XMLElement, to recipient: JID) -> Outcome {
        if recipient.resource != nil, let session = registry.session(for: recipient) {
            session.deliver(stanza)
            return .delivered
        }
        // An iq to a bare JID is answered by the server on the user's behalf; no
        // module handles any namespace there yet.
        return bounce(stanza, "service-unavailable")
    }

    /// Sessions of a worker that is gone: their users' other resources here learn
    /// they are unavailable (RFC 6121 §4.5.2), and modules (the roster: contacts) see
    /// a synthesized unavailable as for a session that ends — on one survivor only
    /// (`toContacts`), so contacts get it once however many workers survive.
    public func announceUnavailable(_ gone: [JID], toContacts: Bool) {
        for jid in gone {
            if toContacts {
                _ = hooks?.runUserSendPacket(jid, XMLElement(name: "presence", namespace: XMPPNamespace.client,
                                                             attributes: ["from": jid.description, "type": "unavailable"]))
            }
            for local in registry.availableSessions(of: jid.bare) where local.peer == nil && local.jid != jid {
                local.deliver(XMLElement(name: "presence", namespace: XMPPNamespace.client,
                                         attributes: ["from": jid.description, "to": local.jid.description,
                                                      "type": "unavailable"]))
            }
        }
    }

    /// Routes a stanza no session of this worker sent (one from another worker, or a
    /// module's): an error it earns goes back to its `from`.
    public func routeReturningErrors(_ stanza: XMLElement, to recipient: JID) {
        if case .bounce(let error) = route(stanza, to: recipient), let sender = error[attribute: "to"].flatMap(JID.init) {
            _ = route(error, to: sender)
        }
    }

    public func bounce(_ stanza: XMLElement, _ condition: String) -> Outcome {
        StanzaErrors.reply(to: stanza, condition: condition).map { .bounce($0) } ?? .dropped
    }
}

/// Something that serves whole domains other than the served hosts: external
/// components (XEP-0114), and later s2s. Returns nil for a domain it does not serve.
public protocol DomainRoute: AnyObject {
    func route(_ stanza: XMLElement, to recipient: JID) -> StanzaRouter.Outcome?
    /// Whether `domain` is one this route owns (false for s2s, which only passes
    /// stanzas on to other servers).
    func serves(_ domain: String) -> Bool
}

extension DomainRoute {
    public func serves(_ domain: String) -> Bool { false }
}
