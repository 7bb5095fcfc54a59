import NIOCore
import XMPPCore
import XMPPSASL
import XMPPTLS

/// Settings of the message phase, the same for every sender.
struct MessagePlan: Sendable {
    /// Monotonic time after which no new message is sent.
    var deadline: Int64
    /// Messages each sender may have in flight.
    var window: Int
}

/// One bench client: logs in (stream, SCRAM-SHA-256, restart, bind, presence), then
/// sends chat messages to its peer and measures the latency of those it receives.
/// Every method runs on the channel's event loop.
final class BenchConnection: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Phase {
        case connecting, awaitingFeatures, awaitingProceed, awaitingChallenge, awaitingSuccess
        case awaitingBindFeatures, awaitingBind, established, closing
    }

    let index: Int
    let username: String
    let domain: String
    let loop: EventLoop
    let stats: LoopStats
    let peers: PeerTable
    private var phase = Phase.connecting
    private let parser = XMLStreamParser()
    private var scram: SCRAMClient
    private let login: EventLoopPromise<BenchConnection>
    private var loginTimeout: Scheduled<Void>?
    private var context: ChannelHandlerContext?
    /// Set when the listener offers STARTTLS: negotiated before SASL, once.
    private var startTLS: TLSContext?

    // Message phase.
    private var plan: MessagePlan?
    private var quota = 0
    private var sentCount = 0
    private var messagePrefix: [UInt8] = []
    private static let messageSuffix = Array("</body></message>".utf8)
    private var flushQueued = false
    /// Reads the message phase's stream in place of `parser` (see MessageScanner).
    private var scanner: MessageScanner?
    /// Messages this session received (for the fairness figure).
    private(set) var receivedCount = 0

    static let resource = "r"

    init(index: Int, domain: String, loop: EventLoop, stats: LoopStats, peers: PeerTable,
         keys: SCRAMKeyCache, login: EventLoopPromise<BenchConnection>, startTLS: TLSContext? = nil) {
        self.startTLS = startTLS
        self.index = index
        self.username = Accounts.username(index)
        self.domain = domain
        self.loop = loop
        self.stats = stats
        self.peers = peers
        self.login = login
        self.scram = SCRAMClient(username: username, password: Accounts.password, cache: keys)
    }

    // MARK: channel events

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        loginTimeout = context.eventLoop.scheduleTask(in: .seconds(30)) { [weak self] in
            self?.fail("login timed out in phase \(self.map { "\($0.phase)" } ?? "?")")
        }
        openStream()
        phase = .awaitingFeatures
    }

    func channelInactive(context: ChannelHandlerContext) {
        switch phase {
        case .closing: break
        case .established: stats.disconnects += 1
        default: loginFailed("connection closed by server in phase \(phase)")
        }
        phase = .closing
        self.context = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if case .established = phase { stats.disconnects += 1 } else { loginFailed("\(error)") }
        phase = .closing
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        stats.inRead = true
        if scanner != nil {
            buffer.withUnsafeReadableBytes { bytes in scanner!.feed(bytes) { self.received($0) } }
            if scanner!.streamEnded { fail("server ended the stream during the message phase") }
            return
        }
        do {
            try buffer.withUnsafeReadableBytes { bytes in
                try parser.feed(bytes) { event in self.handle(event) }
            }
        } catch {
            fail("unparsable server stream: \(error)")
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        stats.inRead = false
        let pending = stats.pendingFlush
        if !pending.isEmpty {
            stats.pendingFlush.removeAll(keepingCapacity: true)
            for connection in pending { connection.flushQueued = false; connection.context?.flush() }
        }
    }

    // MARK: negotiation

    private func handle(_ event: XMLStreamEvent) {
        switch event {
        case .streamOpened:
            break
        case .streamClosed:
            fail("server closed the stream in phase \(phase)")
        case .element(let element):
            if phase == .established { return received(element) }
            negotiate(element)
        }
    }

    private func negotiate(_ element: XMLElement) {
        if element.name == "error" {
            return fail("stream error: \(element.elements.first?.name ?? "?") in phase \(phase)")
        }
        switch (phase, element.name) {
        case (.awaitingFeatures, "features") where startTLS != nil:
            send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
            phase = .awaitingProceed
        case (.awaitingProceed, "proceed"):
            guard let tls = startTLS, let context else { return }
            startTLS = nil
            do { try context.pipeline.syncOperations.addHandler(OpenSSLHandler(context: tls), position: .first) } catch {
                return fail("cannot start TLS: \(error)")
            }
            parser.reset()
            openStream()
            phase = .awaitingFeatures
        case (.awaitingFeatures, "features"):
            let offered = element.child("mechanisms")?.children("mechanism").map(\.text) ?? []
            guard offered.contains("SCRAM-SHA-256") else {
                return fail("server does not offer SCRAM-SHA-256 (offers \(offered))")
            }
            send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>"
                 + Base64.encode(scram.clientFirst) + "</auth>")
            phase = .awaitingChallenge
        case (.awaitingChallenge, "challenge"):
            do {
                guard let serverFirst = Base64.decode(element.text) else { return fail("challenge is not base64") }
                let final = try scram.clientFinal(serverFirst: serverFirst)
                send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + Base64.encode(final) + "</response>")
                phase = .awaitingSuccess
            } catch {
                fail("\(error)")
            }
        case (.awaitingSuccess, "success"):
            do {
                guard let serverFinal = Base64.decode(element.text) else { return fail("success payload is not base64") }
                try scram.verify(serverFinal: serverFinal)
            } catch {
                return fail("\(error)")
            }
            parser.reset()   // RFC 6120 §6.4.6: a new stream follows.
            openStream()
            phase = .awaitingBindFeatures
        case (_, "failure"):
            fail("SASL failure: \(element.elements.first?.name ?? "?")")
        case (.awaitingBindFeatures, "features"):
            guard element.child("bind") != nil else { return fail("no <bind/> offered after SASL") }
            send("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>"
                 + Self.resource + "</resource></bind></iq>")
            phase = .awaitingBind
        case (.awaitingBind, "iq"):
            guard element[attribute: "type"] == "result",
                  let jid = element.child("bind")?.child("jid")?.text,
                  jid == "\(username)@\(domain)/\(Self.resource)" else {
                return fail("bind failed: \(element)")
            }
            send("<presence/>")
            phase = .established
            loginTimeout?.cancel()
            loginTimeout = nil
            login.succeed(self)
        default:
            fail("unexpected <\(element.name)> in phase \(phase)")
        }
    }

    private func openStream() {
        send("<?xml version='1.0'?><stream:stream to='\(domain)' version='1.0' xml:lang='en' "
             + "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")
    }

    private func loginFailed(_ reason: String) {
        login.fail(BenchError("\(username): \(reason)"))
    }

    private func fail(_ reason: String) {
        if case .established = phase { stats.disconnects += 1 } else { loginFailed(reason) }
        phase = .closing
        loginTimeout?.cancel()
        context?.close(promise: nil)
    }

    // MARK: messages

    /// Starts the closed loop: `window` messages in flight to the peer, one more per answer.
    func startSending(plan: MessagePlan, quota: Int, to peer: Int) {
        self.plan = plan
        self.quota = quota
        messagePrefix = Array("<message to='\(Accounts.username(peer))@\(domain)/\(Self.resource)' type='chat'><body>\(index) ".utf8)
        scanner = MessageScanner()   // logins are over: nothing of the negotiation is left unread
        for _ in 0..<plan.window { sendMessage() }
    }

    private func sendMessage() {
        guard let plan, let context, phase == .established, sentCount < quota else { return }
        let now = monotonicNanos()
        guard now < plan.deadline else { return }
        var buffer = context.channel.allocator.buffer(capacity: messagePrefix.count + 20 + Self.messageSuffix.count)
        buffer.writeBytes(messagePrefix)
        buffer.writeString(String(now))
        buffer.writeBytes(Self.messageSuffix)
        context.write(wrapOutboundOut(buffer), promise: nil)
        sentCount += 1
        stats.sent += 1
        if now < stats.firstSend { stats.firstSend = now }
        // Inside a read on this loop: flush once when that read completes.
        if stats.inRead {
            if !flushQueued { flushQueued = true; stats.pendingFlush.append(self) }
        } else {
            context.flush()
        }
    }

    /// The peer received one of our messages: refill the window.
    func acknowledged() {
        sendMessage()
    }

    // MARK: open loop (fixed rate, see OpenLoopPhase)

    /// Set by the open-loop scheduler of this loop when this connection has unflushed writes.
    var openLoopFlushPending = false

    /// Addresses open-loop messages to `peer`.
    func prepareOpenLoop(to peer: Int) {
        messagePrefix = Array("<message to='\(Accounts.username(peer))@\(domain)/\(Self.resource)' type='chat'><body>\(index) ".utf8)
        scanner = MessageScanner()
    }

    /// Writes (without flushing) one open-loop message whose body carries the step and
    /// the time it was scheduled for, so its latency counts from the schedule, not from
    /// when the bench got round to sending it. False if the session is gone.
    func writeScheduled(step: Int, at scheduled: Int64) -> Bool {
        guard let context, phase == .established else { return false }
        var buffer = context.channel.allocator.buffer(capacity: messagePrefix.count + 32 + Self.messageSuffix.count)
        buffer.writeBytes(messagePrefix)
        buffer.writeString(String(step))
        buffer.writeInteger(UInt8(ascii: " "))
        buffer.writeString(String(scheduled))
        buffer.writeBytes(Self.messageSuffix)
        context.write(wrapOutboundOut(buffer), promise: nil)
        return true
    }

    func flushOpenLoop() {
        openLoopFlushPending = false
        context?.flush()
    }

    private func received(_ element: XMLElement) {
        guard element.name == "message" else { return }
        received(MessageScanner.Message(isError: element[attribute: "type"] == "error",
                                        body: element.child("body").map { Array($0.text.utf8)[...] }))
    }

    private func received(_ message: MessageScanner.Message) {
        if message.isError {
            stats.bounced += 1
            return
        }
        guard let body = message.body else { return }
        let fields = Self.numbers(in: body)
        let now = monotonicNanos()
        // Open loop: "sender step scheduledAt"; nobody waits for an answer.
        if fields.count == 3 {
            stats.recordOpenLoop(step: Int(fields[1]), latency: now - fields[2], at: now)
            receivedCount += 1
            return
        }
        // Closed loop: "sender sentAt"; the sender refills its window.
        guard fields.count == 2 else { return }
        stats.record(latency: now - fields[1], at: now)
        receivedCount += 1
        guard let from = peers.connection(Int(fields[0])) else { return }
        if from.loop === loop {
            from.acknowledged()
        } else {
            from.loop.execute { from.acknowledged() }
        }
    }

    /// The space-separated decimal numbers of a bench body; empty if anything else is in it.
    static func numbers(in body: ArraySlice<UInt8>) -> [Int64] {
        var fields: [Int64] = []
        var value: Int64 = 0, digits = 0
        for byte in body {
            if byte == UInt8(ascii: " ") {
                guard digits > 0 else { return [] }
                fields.append(value)
                value = 0
                digits = 0
            } else if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") && digits < 18 {
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
                digits += 1
            } else {
                return []
            }
        }
        guard digits > 0 else { return [] }
        fields.append(value)
        return fields
    }

    // MARK: output

    private func send(_ text: String) {
        guard let context else { return }
        var buffer = context.channel.allocator.buffer(capacity: text.utf8.count)
        buffer.writeString(text)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    /// Ends the stream politely and closes the connection.
    func close() -> EventLoopFuture<Void> {
        guard let context, phase != .closing else { return loop.makeSucceededFuture(()) }
        phase = .closing
        send("</stream:stream>")
        let promise = loop.makePromise(of: Void.self)
        context.close(promise: promise)
        return promise.futureResult.recover { _ in }
    }
}

/// Connections by index, filled in once all logins are done and read-only afterwards.
final class PeerTable: @unchecked Sendable {
    private(set) var connections: [BenchConnection?] = []
    func set(_ all: [BenchConnection?]) { connections = all }
    func connection(_ i: Int) -> BenchConnection? { i >= 0 && i < connections.count ? connections[i] : nil }
}
