import XMPPCore

/// What a resumable session carries from the connection that held it to the one
/// that resumes it (XEP-0198 §5), in this worker or across the mesh.
struct SessionHandover {
    var resumptionID: String
    var jid: JID
    var presence: PresenceState
    /// The server's `h`: client stanzas handled so far.
    var handledInbound: UInt32
    /// The client's `h` from `<resume/>`: numbering continues from it.
    var clientHandled: UInt32
    /// Stanzas the client has not acked (numbers clientHandled+1 …), to be resent.
    var unacked: [XMLElement]
    /// Per-session state of modules (Hooks.onSessionExport), when the session moves
    /// to another worker process.
    var moduleState: [XMLElement] = []

    // MARK: as a mesh frame
    //
    //   <sm-handover req='7' id='…' jid='a@x/r' h='12' client-h='30' available='1' priority='0'>
    //     <presence-state><presence xmlns='jabber:client' …/></presence-state>
    //     <unacked><message …/>…</unacked>
    //     <module-state><enabled xmlns='urn:xmpp:carbons:2'/></module-state>
    //   </sm-handover>

    static let frameName = "sm-handover"

    func frame(request: String) -> XMLElement {
        var frame = XMLElement(name: Self.frameName, namespace: MeshFrame.namespace, attributes: [
            "req": request, "id": resumptionID, "jid": jid.description, "h": String(handledInbound),
            "client-h": String(clientHandled), "available": presence.available ? "1" : "0",
            "priority": String(presence.priority),
        ])
        if let stanza = presence.stanza { frame.append(Self.wrap("presence-state", [stanza])) }
        frame.append(Self.wrap("unacked", unacked))
        frame.append(Self.wrap("module-state", moduleState))
        return frame
    }

    init(resumptionID: String, jid: JID, presence: PresenceState, handledInbound: UInt32, clientHandled: UInt32,
         unacked: [XMLElement]) {
        self.resumptionID = resumptionID
        self.jid = jid
        self.presence = presence
        self.handledInbound = handledInbound
        self.clientHandled = clientHandled
        self.unacked = unacked
    }

    init?(frame: XMLElement) {
        guard let id = frame[attribute: "id"], let jid = frame[attribute: "jid"].flatMap(JID.init),
              let h = frame[attribute: "h"].flatMap(UInt32.init),
              let clientH = frame[attribute: "client-h"].flatMap(UInt32.init) else { return nil }
        let presence = PresenceState(available: frame[attribute: "available"] == "1",
                                     priority: Int(frame[attribute: "priority"] ?? "0") ?? 0,
                                     stanza: frame.child("presence-state")?.elements.first)
        self.init(resumptionID: id, jid: jid, presence: presence, handledInbound: h, clientHandled: clientH,
                  unacked: frame.child("unacked")?.elements ?? [])
        moduleState = frame.child("module-state")?.elements ?? []
    }

    private static func wrap(_ name: String, _ children: [XMLElement]) -> XMLElement {
        XMLElement(name: name, namespace: MeshFrame.namespace, children: children.map { .element($0) })
    }
}
