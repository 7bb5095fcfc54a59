import XMPPCore

/// The mesh protocol between workers: an XML stream over a Unix socket, one frame
/// per depth-1 element, reusing the stanza parser and serializer.
///
///     <stream:stream xmlns='urn:xmppd:mesh' xmlns:stream='…' pid='1234' route-bytes='1' version='1.0'>
///     <bound jid='a@x/r' available='0' priority='0' at='1732500000.123'/>   a session bound here
///     <presence jid='a@x/r' available='1' priority='5'><presence …/></presence>   its presence changed
///     <unbound jid='a@x/r'/>                                                 it ended
///     <route to='a@x/r'><message xmlns='jabber:client' …/></route>            deliver to a session here
///       (between workers that both announce route-bytes='1', routes go as binary
///       frames instead: MeshRouteFrame)
///     <kick jid='a@x/r' condition='conflict'/>                               end a session here
///     <sync id='7'/> … <synced id='7'/>                                        barrier (MeshBarrier)
enum MeshFrame {
    static let namespace = "urn:xmppd:mesh"

    /// A worker's header says it answers `sync` frames (MeshBarrier); a control
    /// tool's (`worker: false`) does not, so nobody waits for it.
    static func header(pid: Int32, worker: Bool = true) -> String {
        "<?xml version='1.0'?><stream:stream xmlns='\(namespace)' xmlns:stream='\(XMPPNamespace.stream)' "
            + "pid='\(pid)' \(MeshRouteFrame.headerAttribute)='1'\(worker ? " \(MeshBarrier.headerAttribute)='1'" : "") version='1.0'>"
    }

    static func element(for change: RegistryChange) -> XMLElement {
        switch change {
        case .bound(let jid, let presence, let boundAt):
            return bound(jid, presence, boundAt: boundAt)
        case .unbound(let jid):
            return XMLElement(name: "unbound", namespace: namespace, attributes: ["jid": jid.description])
        case .presence(let jid, let presence):
            return withPresence(XMLElement(name: "presence", namespace: namespace, attributes: ["jid": jid.description]),
                                presence)
        }
    }

    static func bound(_ jid: JID, _ presence: PresenceState, boundAt: Double) -> XMLElement {
        withPresence(XMLElement(name: "bound", namespace: namespace, attributes: ["jid": jid.description, "at": String(boundAt)]),
                     presence)
    }

    private static func withPresence(_ frame: XMLElement, _ presence: PresenceState) -> XMLElement {
        var frame = frame
        frame[attribute: "available"] = presence.available ? "1" : "0"
        frame[attribute: "priority"] = String(presence.priority)
        if let stanza = presence.stanza { frame.append(stanza) }
        return frame
    }

    static func presence(of frame: XMLElement) -> PresenceState {
        PresenceState(available: frame[attribute: "available"] == "1",
                      priority: Int(frame[attribute: "priority"] ?? "0") ?? 0,
                      stanza: frame.elements.first)
    }

    static func route(_ stanza: XMLElement, to jid: JID) -> XMLElement {
        XMLElement(name: "route", namespace: namespace, attributes: ["to": jid.description],
                   children: [.element(stanza)])
    }

    /// The bytes of `route(stanza, to: jid)` without building the frame element: the
    /// opening tag is made once per remote session (`routePrefix`), the stanza is
    /// serialised straight after it. One buffer per routed stanza.
    static func routeBytes(_ stanza: XMLElement, prefix: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(prefix.count + 256)
        out.append(contentsOf: prefix)
        stanza.serialize(into: &out, parentNamespace: namespace)
        out.append(contentsOf: routeSuffix)
        return out
    }

    /// `<route to='jid'>`, as `bytes(route(_, to: jid))` begins.
    static func routePrefix(to jid: JID) -> [UInt8] {
        var out = Array("<route to='".utf8)
        XMLEscaping.appendAttribute(jid.description, to: &out)
        out.append(contentsOf: Array("'>".utf8))
        return out
    }

    static let routeSuffix = Array("</route>".utf8)

    static func kick(_ jid: JID, condition: String) -> XMLElement {
        XMLElement(name: "kick", namespace: namespace, attributes: ["jid": jid.description, "condition": condition])
    }

    static func bytes(_ element: XMLElement) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        element.serialize(into: &out, parentNamespace: namespace)
        return out
    }
}
