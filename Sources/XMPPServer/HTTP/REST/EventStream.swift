import Foundation
import NIOCore
import NIOHTTP1
import XMPPCore

/// The client API's server-sent events (`lasse_handler` with
/// `mongoose_client_api_sse`): a long-lived HTTP response of `text/event-stream` that
/// carries every chat message the user receives as an event "message" whose data is
/// the message as `GET messages` gives it, and every groupchat message (MUC Light) as
/// an event "room.message", with ids counting from 1.
///
/// Behind it is a session of the user's own (see APIBackend.openEventSession), which
/// ends when the HTTP connection does.
final class EventStream: @unchecked Sendable {
    private let channel: Channel
    private var nextID = 1
    /// Events that came before the head went out (loop only); nil once it has.
    private var early: [String]? = []

    private init(channel: Channel) { self.channel = channel }

    /// Opens the stream's session and, once the other workers know of it, answers the
    /// request with the stream's head; the connection then carries the events.
    static func start(on channel: Channel, for user: JID, backend: APIBackend) {
        let stream = EventStream(channel: channel)
        let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: [
            "Content-Type": "text/event-stream", "Cache-Control": "no-cache", "Access-Control-Allow-Origin": "*",
        ])
        let session = backend.openEventSession(for: user, on: channel.eventLoop, deliver: { stanza in
            stream.deliver(stanza)
        }, terminate: { channel.close(promise: nil) }, ready: {
            channel.eventLoop.execute { stream.open(head) }
        })
        channel.closeFuture.whenComplete { _ in backend.closeEventSession(session) }
    }

    /// On the channel's loop: the head, then what came before it.
    private func open(_ head: HTTPResponseHead) {
        channel.write(HTTPServerResponsePart.head(head), promise: nil)
        for event in early ?? [] { send(event) }
        early = nil
        channel.flush()
    }

    private func send(_ event: String) {
        channel.write(HTTPServerResponsePart.body(.byteBuffer(channel.allocator.buffer(string: event))), promise: nil)
    }

    /// On the channel's loop. Chat and groupchat messages only, as MongooseIM's handler sends.
    private func deliver(_ stanza: XMLElement) {
        guard stanza.name == "message" else { return }
        let now = Int64((Date().timeIntervalSince1970 * 1000).rounded())
        let name: String, data: String
        switch stanza[attribute: "type"] {
        case "chat":
            (name, data) = ("message", JSONBody.encode(ArchiveLookup.Message(stanza, at: now).clientJSON))
        case "groupchat":
            (name, data) = ("room.message", JSONBody.encode(ClientAPI.roomEventJSON(stanza, at: now)))
        default:
            return
        }
        let event = "id: \(nextID)\nevent: \(name)\ndata: \(data)\n\n"
        nextID += 1
        guard early == nil else { return early!.append(event) }
        send(event)
        channel.flush()
    }
}
