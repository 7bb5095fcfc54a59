import Foundation
import NIOConcurrencyHelpers
import NIOCore
import XMPPCore
import XMPPModuleAPI

/// The REST APIs' archive reads (MongooseIM's get_last_messages, the client API's
/// messages and room messages): a XEP-0313 query on the reader's behalf, answered by
/// whichever module keeps the archive (mod_mam).
///
/// A MAM module sends its results as messages to the full JID that asked, then
/// answers the iq. So the lookup binds a short-lived session of the reader's
/// (`reader/api-…`) that only collects what it is sent, asks from it, and unbinds it
/// once the answer is in.
struct ArchiveLookup {
    struct Message {
        var from: String
        var to: String
        var id: String
        var body: String?
        var thread: String?
        var threadParent: String
        /// When the archive stored it, in milliseconds since 1970.
        var milliseconds: Int64

        /// As the admin API's get_last_messages (mod_commands:record_to_map).
        var adminJSON: [String: Any] {
            ["sender": from, "timestamp": milliseconds / 1000, "message_id": id, "body": body ?? NSNull()]
        }

        /// As the client API's messages (mongoose_client_api_messages:encode/2).
        var clientJSON: [String: Any] {
            ["from": from, "to": to, "id": id, "body": body ?? NSNull(), "thread": thread ?? NSNull(),
             "parent": threadParent, "timestamp": milliseconds]
        }

        /// A message stanza in the client API's form, stamped now (for server-sent events).
        init(_ message: XMLElement, at milliseconds: Int64) {
            from = message[attribute: "from"] ?? ""
            to = message[attribute: "to"] ?? ""
            id = message[attribute: "id"] ?? ""
            body = message.child("body")?.text
            thread = message.child("thread")?.text
            threadParent = message.child("thread")?[attribute: "parent"] ?? ""
            self.milliseconds = milliseconds
        }
    }

    /// The module's iq error.
    struct Failure: Error { let iq: XMLElement }

    let registry: SessionRegistry
    let modules: ModuleRuntime
    let eventLoop: EventLoop

    static let mam = "urn:xmpp:mam:2"
    static let rsm = "http://jabber.org/protocol/rsm"

    /// The last `limit` messages of `owner`'s archive (with `with` only, if given) sent
    /// before `before`, oldest first; `done` gets them or the module's iq error.
    func lastMessages(of owner: JID, with: JID?, before: Date, limit: Int,
                      _ done: @escaping @Sendable (Result<[Message], Failure>) -> Void) {
        lastStanzas(of: owner, asking: owner, target: .account, with: with, before: before, limit: limit) { result in
            done(result.map { $0.map { Message($0.message, at: $0.milliseconds) } })
        }
    }

    /// The same for a room's archive, asked as `requester` (who must be an occupant),
    /// as the archived stanzas: the client API encodes room messages from them.
    func lastRoomMessages(of room: JID, asking requester: JID, before: Date, limit: Int,
                          _ done: @escaping @Sendable (Result<[(message: XMLElement, milliseconds: Int64)], Failure>) -> Void) {
        lastStanzas(of: room, asking: requester, target: .room, with: nil, before: before, limit: limit, done)
    }

    private func lastStanzas(of owner: JID, asking requester: JID, target: IQTarget, with: JID?, before: Date, limit: Int,
                             _ done: @escaping @Sendable (Result<[(message: XMLElement, milliseconds: Int64)], Failure>) -> Void) {
        let collected = NIOLockedValueBox<[XMLElement]>([])
        let collector = JID(local: requester.local, domain: requester.domain, resource: "api-\(UUID().uuidString)")
        let session = SessionHandle(jid: collector, eventLoop: eventLoop, deliver: { stanza in
            collected.withLockedValue { $0.append(stanza) }
        }, terminate: { _ in })
        _ = registry.bind(session, at: Date().timeIntervalSince1970)
        let loop = eventLoop
        modules.dispatchIQ(Self.query(with: with, before: before, limit: limit, from: collector), from: collector, to: owner,
                           target: target) { [registry] answer in
            // Results were routed to the collector (queued on its loop) before the
            // module answered: reading them on that loop comes after all of them.
            loop.execute {
                registry.unbind(session)
                guard answer[attribute: "type"] == "result" else { return done(.failure(Failure(iq: answer))) }
                done(.success(collected.withLockedValue { $0 }.compactMap(Self.forwarded)))
            }
        }
    }

    private static func query(with: JID?, before: Date, limit: Int, from: JID) -> XMLElement {
        var form = XMLElement(name: "x", namespace: "jabber:x:data", attributes: ["type": "submit"])
        func field(_ name: String, _ value: String) {
            form.append(XMLElement(name: "field", namespace: "jabber:x:data", attributes: ["var": name],
                                   children: [.element(XMLElement(name: "value", namespace: "jabber:x:data", children: [.text(value)]))]))
        }
        field("FORM_TYPE", mam)
        if let with { field("with", with.description) }
        // Milliseconds kept: `before` comes in milliseconds.
        field("end", ISO8601DateFormatter.withFractions.string(from: before))
        let set = XMLElement(name: "set", namespace: rsm, children: [
            .element(XMLElement(name: "max", namespace: rsm, children: [.text(String(limit))])),
            .element(XMLElement(name: "before", namespace: rsm)),   // the last page
        ])
        let query = XMLElement(name: "query", namespace: mam, children: [.element(form), .element(set)])
        return XMLElement(name: "iq", namespace: XMPPNamespace.client,
                          attributes: ["type": "set", "id": UUID().uuidString, "from": from.description],
                          children: [.element(query)])
    }

    /// One `<result><forwarded><delay/><message/></forwarded></result>` message: the
    /// archived message and when it was archived.
    private static func forwarded(_ wrapper: XMLElement) -> (message: XMLElement, milliseconds: Int64)? {
        guard let forwarded = wrapper.child("result", namespace: mam)?.child("forwarded", namespace: "urn:xmpp:forward:0"),
              let message = forwarded.child("message") else { return nil }
        let stamp = forwarded.child("delay", namespace: "urn:xmpp:delay")?[attribute: "stamp"]
        let date = stamp.flatMap { ISO8601DateFormatter.withFractions.date(from: $0) ?? ISO8601DateFormatter().date(from: $0) }
        return (message, Int64(((date?.timeIntervalSince1970 ?? 0) * 1000).rounded()))
    }
}

private extension ISO8601DateFormatter {
    static var withFractions: ISO8601DateFormatter {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }
}
