import NIOCore
import XMPPCore
import XMPPModuleAPI

/// Answers one held BOSH request with a `<body/>` document; hops to its own loop.
typealias BOSHResponder = @Sendable (_ body: String) -> Void

/// One BOSH session (XEP-0124, XEP-0206) on one event loop.
///
/// The c2s code runs unchanged behind it: the session owns one end of a socket pair
/// whose other end is an ordinary c2s connection. Payloads of requests, in `rid`
/// order, are written to the c2s stream; what the server writes is parsed into its
/// top-level elements and handed out in the responses of held requests (long polling:
/// a request is held until there is something to send or `wait` runs out).
final class BOSHSession {
    let sid: String
    let loop: EventLoop
    private let settings: BOSHSettings
    private let domain: String
    private let language: String?
    /// Seconds a request is held at most.
    let wait: Int
    /// Requests held at most (the client's `hold`, at most 1).
    let hold = 1
    var requests: Int { hold + 1 }

    private var lastRID: Int
    private var link: Channel?
    /// The server's stream, parsed to find element boundaries.
    private let output = XMLStreamParser(maxStanzaSize: nil)
    private var streamID: String?
    private var queued: [String] = []
    private var held: [(rid: Int, respond: BOSHResponder, timer: Scheduled<Void>?)] = []
    /// Requests that arrived ahead of a missing `rid`, until it comes.
    private var early: [Int: (body: XMLElement, respond: BOSHResponder)] = [:]
    /// The last response, sent again if its request is retransmitted (XEP-0124 §14.3).
    private var lastResponse: (rid: Int, body: String)?
    private var creationPending = true
    private var inactivityTimer: Scheduled<Void>?
    private var pauseSeconds: Int?
    private(set) var ended = false
    /// Removes the session from its service's table.
    var onEnd: (() -> Void)?

    init(sid: String, loop: EventLoop, settings: BOSHSettings, creation body: XMLElement, domain: String) {
        self.sid = sid
        self.loop = loop
        self.settings = settings
        self.domain = domain
        language = body[attribute: "xml:lang"]
        let asked = body[attribute: "wait"].flatMap(Int.init) ?? 60
        wait = max(1, min(asked, settings.maxWait ?? asked))
        lastRID = body[attribute: "rid"].flatMap(Int.init) ?? 0
    }

    /// The socket pair is up: open the c2s stream and hold the creation request.
    func start(link: Channel, respond: @escaping BOSHResponder) {
        self.link = link
        write(streamHeader())
        holdRequest(rid: lastRID, respond)
    }

    private func streamHeader() -> String {
        var header = "<?xml version='1.0'?><stream:stream xmlns='\(XMPPNamespace.client)' "
            + "xmlns:stream='\(XMPPNamespace.stream)' to='\(XMLEscaping.escapeAttribute(domain))' version='1.0'"
        if let language { header += " xml:lang='\(XMLEscaping.escapeAttribute(language))'" }
        return header + ">"
    }

    // MARK: requests

    func request(_ body: XMLElement, _ respond: @escaping BOSHResponder) {
        guard !ended else { return respond(BOSHBody.terminate("item-not-found")) }
        guard let rid = body[attribute: "rid"].flatMap(Int.init) else { return respond(BOSHBody.terminate("bad-request")) }
        inactivityTimer?.cancel()
        if rid <= lastRID {
            // A retransmission (XEP-0124 §14.3): the same answer again if it was sent;
            // if the request is still held, its old HTTP connection is likely gone, so
            // the answer goes to this one instead.
            if let last = lastResponse, last.rid == rid { return respond(last.body) }
            if let index = held.firstIndex(where: { $0.rid == rid }) {
                held[index].respond(BOSHBody.response([]))
                held[index].respond = respond
                return
            }
            respond(BOSHBody.terminate("item-not-found"))
            return end()
        }
        // XEP-0124 §14.2: at most `requests` ahead of what has been processed.
        guard rid <= lastRID + requests else {
            respond(BOSHBody.terminate("item-not-found"))
            return end()
        }
        early[rid] = (body, respond)
        while let next = early.removeValue(forKey: lastRID + 1), !ended {
            lastRID += 1
            process(next.body, rid: lastRID, next.respond)
        }
    }

    private func process(_ body: XMLElement, rid: Int, _ respond: @escaping BOSHResponder) {
        let payload = BOSHBody.payload(of: body)
        if body[attribute: "type"] == "terminate" {
            // The client ends the session: its last stanzas, then the stream end.
            write(payload + "</stream:stream>")
            respond(BOSHBody.terminate(payload: takeQueued()))
            return end()
        }
        if body[attribute: "xmpp:restart"] == "true" {
            write(streamHeader())   // XEP-0206 §5: a stream restart after SASL
        } else if !payload.isEmpty {
            write(payload)
        }
        if let pause = body[attribute: "pause"].flatMap(Int.init), pause > 0 {
            // XEP-0124 §10: answer everything now; the session waits `pause` seconds.
            pauseSeconds = min(pause, settings.maxPause)
            respond(response(rid: rid))
            while !held.isEmpty { respondOldest() }
            return
        }
        holdRequest(rid: rid, respond)
    }

    private func holdRequest(rid: Int, _ respond: @escaping BOSHResponder) {
        let timer: Scheduled<Void> = loop.scheduleTask(in: .seconds(Int64(wait))) { [weak self] in
            self?.expire(rid)
        }
        held.append((rid: rid, respond: respond, timer: timer))
        while held.count > hold { respondOldest() }
        if !queued.isEmpty { respondOldest() }
    }

    /// `wait` is over for `rid`: it (and any older one) is answered, empty or not.
    private func expire(_ rid: Int) {
        guard let index = held.firstIndex(where: { $0.rid == rid }) else { return }
        for _ in 0...index { respondOldest() }
    }

    private func respondOldest() {
        guard !held.isEmpty else { return }
        let request = held.removeFirst()
        request.timer?.cancel()
        request.respond(response(rid: request.rid))
        if held.isEmpty { startInactivityTimer() }
    }

    private func response(rid: Int) -> String {
        var attributes: [(String, String)] = []
        if creationPending {
            creationPending = false
            attributes = creationAttributes()
        }
        if settings.serverAcks { attributes.append(("ack", String(lastRID))) }
        let body = BOSHBody.response(attributes, payload: takeQueued())
        lastResponse = (rid, body)
        return body
    }

    /// XEP-0124 §7.1 and XEP-0206 §3: the session creation response.
    private func creationAttributes() -> [(String, String)] {
        var attributes: [(String, String)] = [
            ("sid", sid), ("wait", String(wait)), ("requests", String(requests)), ("hold", String(hold)),
            ("polling", "1"), ("ver", "1.11"), ("from", domain), ("maxpause", String(settings.maxPause)),
            ("xmpp:version", "1.0"), ("xmpp:restartlogic", "true"),
        ]
        if let inactivity = settings.inactivity { attributes.append(("inactivity", String(inactivity))) }
        if let streamID { attributes.append(("authid", streamID)) }
        return attributes
    }

    private func takeQueued() -> [String] {
        defer { queued = [] }
        return queued
    }

    /// No request held: the client has `inactivity` seconds (or its pause) to send one.
    private func startInactivityTimer() {
        let seconds = pauseSeconds ?? settings.inactivity
        pauseSeconds = nil
        guard let seconds, !ended else { return }
        inactivityTimer?.cancel()
        inactivityTimer = loop.scheduleTask(in: .seconds(Int64(seconds))) { [weak self] () -> Void in self?.end() }
    }

    // MARK: the c2s side

    private func write(_ text: String) {
        guard let link, !text.isEmpty else { return }
        link.writeAndFlush(link.allocator.buffer(string: text), promise: nil)
    }

    /// Bytes the c2s connection wrote.
    func serverWrote(_ buffer: ByteBuffer) {
        // A new server stream (after SASL) starts with an XML declaration: the old
        // stream's parser is done. (Escaped text can never contain "<?xml".)
        let bytes = Array(buffer.readableBytesView)
        var start = 0
        while start < bytes.count {
            let next = Self.declaration(in: bytes, after: start) ?? bytes.count
            if bytes[start...].starts(with: Self.xmlDeclaration) { output.reset() }
            do {
                try bytes[start..<next].withUnsafeBytes { chunk in try output.feed(chunk) { self.handle($0) } }
            } catch {
                return end()
            }
            start = next
        }
        output.hibernate()
        if !queued.isEmpty, !held.isEmpty { respondOldest() }
    }

    private static let xmlDeclaration = Array("<?xml".utf8)

    private static func declaration(in bytes: [UInt8], after start: Int) -> Int? {
        var i = start + 1
        while i + xmlDeclaration.count <= bytes.count {
            if bytes[i] == UInt8(ascii: "<"), bytes[i..<(i + xmlDeclaration.count)].elementsEqual(xmlDeclaration) { return i }
            i += 1
        }
        return nil
    }

    private func handle(_ event: XMLStreamEvent) {
        switch event {
        case .streamOpened(let header): streamID = header.attributes["id"]
        case .element(let element): queued.append(element.standaloneXML)
        case .streamClosed: serverEnded()
        }
    }

    /// The c2s side ended the stream or closed the connection.
    func serverEnded() {
        guard !ended else { return }
        if let first = held.first {
            held.removeFirst()
            first.timer?.cancel()
            first.respond(BOSHBody.terminate(payload: takeQueued()))
        }
        end()
    }

    /// The session is over: held requests get `terminate`, the c2s connection closes.
    func end() {
        guard !ended else { return }
        ended = true
        inactivityTimer?.cancel()
        for request in held {
            request.timer?.cancel()
            request.respond(BOSHBody.terminate())
        }
        held = []
        for (_, request) in early { request.respond(BOSHBody.terminate()) }
        early = [:]
        link?.close(promise: nil)
        link = nil
        onEnd?()
    }
}
