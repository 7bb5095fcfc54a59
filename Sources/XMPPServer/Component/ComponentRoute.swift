import XMPPCore

/// Routes stanzas for component domains (any worker's components) to their
/// component. A domain with no component connected is not ours: the router then
/// answers `<remote-server-not-found/>`, as MongooseIM does once
/// mongoose_component_connection:unregister_routes/1 has run (the domain falls
/// through to s2s, which cannot reach it).
final class ComponentRoute: DomainRoute {
    let registry: ComponentRegistry

    init(registry: ComponentRegistry) { self.registry = registry }

    func route(_ stanza: XMLElement, to recipient: JID) -> StanzaRouter.Outcome? {
        guard let component = registry.component(for: recipient.domain) else { return nil }
        component.deliver(stanza)
        return .delivered
    }

    func serves(_ domain: String) -> Bool { registry.component(for: domain) != nil }
}

/// `jabber:component:accept`, the stream namespace of XEP-0114.
enum ComponentNamespace {
    static let accept = "jabber:component:accept"
}

extension XMLElement {
    /// The element with every `from` namespace in its tree (the stanza's own and its
    /// inherited children's) moved to `to`: a component speaks jabber:component:accept,
    /// the rest of the server jabber:client.
    func movingNamespace(_ from: String, to: String) -> XMLElement {
        var copy = self
        if copy.namespace == from { copy.namespace = to }
        copy.children = children.map { node in
            if case .element(let child) = node { return .element(child.movingNamespace(from, to: to)) }
            return node
        }
        return copy
    }
}
