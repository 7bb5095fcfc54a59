import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import XMPPCore

/// An iq a REST request sends on a user's behalf to a service served elsewhere in the
/// server (MUC Light's rooms): routed like the user's own client would send it, from a
/// short-lived session of its own (`user/client-api-…`) that waits for the answer and
/// is unbound once it is in, or after `timeout`.
struct ServiceRequest {
    let registry: SessionRegistry
    let router: StanzaRouter
    let eventLoop: EventLoop

    /// `done` gets the answering iq (result or error), or nil when none came in time.
    func send(_ type: String, _ payload: XMLElement, to: JID, as user: JID, timeout: TimeAmount = .seconds(10),
              _ done: @escaping @Sendable (XMLElement?) -> Void) {
        let collector = JID(local: user.local, domain: user.domain, resource: "client-api-\(UUID().uuidString)")
        let id = UUID().uuidString
        // Set until the answer (or the timeout) takes them: the session to unbind and
        // the timer to cancel.
        let pending = NIOLockedValueBox<(session: SessionHandle, timer: Scheduled<Void>?)?>(nil)
        let registry = self.registry
        let finish: @Sendable (XMLElement?) -> Void = { answer in
            guard let taken = pending.withLockedValue({ value in defer { value = nil }; return value }) else { return }
            taken.timer?.cancel()
            registry.unbind(taken.session)
            done(answer)
        }
        let session = SessionHandle(jid: collector, eventLoop: eventLoop, deliver: { stanza in
            if stanza.name == "iq", stanza[attribute: "id"] == id { finish(stanza) }
        }, terminate: { _ in finish(nil) })
        pending.withLockedValue { $0 = (session, nil) }
        _ = registry.bind(session, at: Date().timeIntervalSince1970)
        let timer = eventLoop.scheduleTask(in: timeout) { finish(nil) }
        pending.withLockedValue { if $0 != nil { $0!.timer = timer } }
        let iq = XMLElement(name: "iq", namespace: XMPPNamespace.client,
                            attributes: ["type": type, "id": id, "from": collector.description, "to": to.description],
                            children: [.element(payload)])
        eventLoop.execute { [router] in
            if case .bounce(let error) = router.route(iq, to: to) { finish(error) }
        }
    }
}

extension APIBackend {
    /// Sends the iq; a result goes to `success`, an error or silence to `reply` as HTTP.
    func askRooms(_ user: JID, _ type: String, _ payload: XMLElement, to: JID,
                     _ reply: @escaping @Sendable (RESTResponse) -> Void,
                     success: @escaping @Sendable (XMLElement?) -> Void) {
        services.send(type, payload, to: to, as: user) { answer in
            guard let answer else {
                return reply(RESTResponse(status: .internalServerError, body: JSONBody.encode("MUC Light did not answer")))
            }
            guard answer[attribute: "type"] == "error" else { return success(answer.elements.first) }
            let condition = answer.child("error")?.elements.first?.name ?? "undefined-condition"
            switch condition {
            case "item-not-found": reply(APIError.notFound("no such room").response)
            case "not-allowed", "forbidden": reply(RESTResponse(status: .forbidden, body: JSONBody.encode(condition)))
            case "service-unavailable", "remote-server-not-found":
                reply(APIError.notFound("no MUC Light service (enable mod_muc_light)").response)
            default: reply(APIError.badRequest(condition).response)
            }
        }
    }
}

/// The MUC Light iqs the REST APIs send (`urn:xmpp:muclight:0`, mod_muc_light).
enum MUCLightIQ {
    static let namespace = "urn:xmpp:muclight:0"

    /// `<query xmlns='urn:xmpp:muclight:0<fragment>'/>`, e.g. "#info".
    static func query(_ fragment: String) -> XMLElement { XMLElement(name: "query", namespace: namespace + fragment) }

    /// disco#items on the service: the user's rooms.
    static var roomList: XMLElement { XMLElement(name: "query", namespace: "http://jabber.org/protocol/disco#items") }

    static func create(name: String, subject: String) -> XMLElement {
        var create = query("#create")
        create.append(XMLElement(name: "configuration", namespace: namespace + "#create", children: [
            .element(XMLElement(name: "roomname", namespace: namespace + "#create", children: [.text(name)])),
            .element(XMLElement(name: "subject", namespace: namespace + "#create", children: [.text(subject)])),
        ]))
        return create
    }

    static func configuration(name: String, subject: String) -> XMLElement {
        var config = query("#configuration")
        config.append(XMLElement(name: "roomname", namespace: namespace + "#configuration", children: [.text(name)]))
        config.append(XMLElement(name: "subject", namespace: namespace + "#configuration", children: [.text(subject)]))
        return config
    }

    static func affiliation(_ member: JID, _ affiliation: String) -> XMLElement {
        var change = query("#affiliations")
        change.append(XMLElement(name: "user", namespace: namespace + "#affiliations", attributes: ["affiliation": affiliation],
                                 children: [.text(member.description)]))
        return change
    }

    /// 16 hex digits: a room name nobody picked.
    static func newRoomID() -> String {
        UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16).description
    }
}
