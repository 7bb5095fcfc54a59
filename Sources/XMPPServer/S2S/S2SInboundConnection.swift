import Foundation
import Logging
import NIOCore
import XMPPCore
import XMPPModuleAPI
import XMPPSASL

/// What inbound server-to-server streams need from their worker.
struct S2SInboundEnvironment: Sendable {
    var router: StanzaRouter
    var modules: ModuleRuntime
    /// Opens the dialback verification connections to authoritative servers; its
    /// `[s2s]` config, dialback keys and STARTTLS contexts serve inbound streams too.
    var outgoing: S2SOutgoing
    var stats: WorkerStats
    var connections: ConnectionTracker
    var maxStanzaSize: Int?
    var hibernateAfter: TimeAmount
    /// From connect until a first domain is verified: c2s_state_timeout as for the
    /// other listeners, but at least s2s.outgoing.connection_timeout.
    var negotiationTimeout: TimeAmount
    var logger: Logger

    /// One of this server's domains (StanzaRouter.isServed): streams and stanzas may
    /// be addressed to it, and a peer may never claim it.
    func serves(_ domain: String) -> Bool { router.isServed(domain) }
}

/// One inbound server-to-server stream (`[[listen.s2s]]`): RFC 6120's jabber:server
/// stream, authenticated by Server Dialback (XEP-0220). The peer asks for each
/// pair of domains with `<db:result/>`; this side checks the key with the peer's
/// authoritative server and answers valid or invalid. Stanzas are accepted for
/// verified pairs only. This side also answers `<db:verify/>` for keys its own
/// outgoing streams sent (any worker of this server made them with the same secret).
final class S2SInboundConnection: S2SStream, TrackedConnection, @unchecked Sendable {
    let env: S2SInboundEnvironment
    private let streamID = ComponentConnection.hex(SASLCrypto.randomBytes(12))
    private var headerSent = false
    /// (local domain, remote domain) pairs the authoritative server confirmed, or the
    /// pair SASL EXTERNAL authenticated.
    private var verified: Set<DomainPair> = []
    /// The pair the stream header names (`to`: ours, `from`: the peer's), once over TLS.
    private var streamPair: DomainPair?
    /// SASL EXTERNAL succeeded: the stream restarts, and no mechanism is offered again.
    private var authenticatedByCertificate = false

    init(env: S2SInboundEnvironment) {
        self.env = env
        var logger = env.logger
        logger[metadataKey: "s2s"] = "in"
        super.init(stats: env.stats, countsTransport: true, maxStanzaSize: env.maxStanzaSize,
                   maxQueuedStanzas: env.outgoing.maxQueuedStanzas, hibernateAfter: env.hibernateAfter, logger: logger)
    }

    override func started() {
        env.connections.add(self, on: context!.eventLoop)
        startNegotiationTimer(env.negotiationTimeout)
    }

    override func ended() {
        env.connections.remove(self)
        env.outgoing.directory.forget(self)
    }

    /// RFC 6120 §4.7: `to` must be one of our domains; the answer carries our stream id,
    /// and features only to a peer that speaks XMPP 1.0.
    override func streamOpened(_ header: XMLStreamHeader) {
        guard !headerSent else { return failStream("policy-violation", text: "the stream was already opened") }
        let to = header.attributes["to"]?.lowercased()
        if let to, !env.serves(to) {
            return failStream("host-unknown")
        }
        headerSent = true
        if let to, let from = header.attributes["from"]?.lowercased() { streamPair = DomainPair(local: to, remote: from) }
        let modern = header.attributes["version"].map { $0.hasPrefix("1.") } ?? false
        send(streamHeader(from: to, to: nil, id: streamID, version: modern))
        if modern { send(features) }
    }

    /// STARTTLS until it is done (required: nothing else), then dialback.
    private var features: String {
        var out = "<stream:features>"
        if env.outgoing.tls.server != nil, !tlsActive {
            out += "<starttls xmlns='\(XMPPNamespace.tls)'>\(env.outgoing.tls.required ? "<required/>" : "")</starttls>"
        }
        if let pair = streamPair, !authenticatedByCertificate, mayAuthenticateByCertificate(pair) {
            out += "<mechanisms xmlns='\(XMPPNamespace.sasl)'><mechanism>EXTERNAL</mechanism></mechanisms>"
        }
        if !tlsMissing {
            out += "<dialback xmlns='\(DialbackNamespace.feature)'><errors/></dialback>"
        }
        return out + "</stream:features>"
    }

    /// XEP-0178: over TLS, a peer whose certificate verified and names the domain it
    /// claims (not one of ours, and one the s2s policy allows) needs no dialback.
    private func mayAuthenticateByCertificate(_ pair: DomainPair) -> Bool {
        tlsActive && env.serves(pair.local) && !env.serves(pair.remote)
            && env.outgoing.config.allows(pair.remote) && peerCertificateNames(pair.remote)
    }

    private var tlsMissing: Bool { env.outgoing.tls.required && !tlsActive }

    override func sendHeaderBeforeError() {
        guard !headerSent else { return }
        headerSent = true
        send(streamHeader(from: nil, to: nil, id: streamID, version: true))
    }

    override func received(_ element: XMLElement) {
        if element.namespace == XMPPNamespace.tls, element.name == "starttls" { return startTLS() }
        if tlsMissing { return failStream("policy-violation", text: "Use of STARTTLS required") }
        switch (element.namespace, element.name) {
        case (XMPPNamespace.sasl, "auth"): saslExternal(element)
        case (DialbackNamespace.dialback, "result"): dialbackResult(element)
        case (DialbackNamespace.dialback, "verify"): dialbackVerify(element)
        case (XMPPNamespace.server, "message"), (XMPPNamespace.server, "presence"), (XMPPNamespace.server, "iq"):
            stanza(element)
        default:
            failStream("unsupported-stanza-type")
        }
    }

    /// RFC 6120 §5.4.2.3: `<proceed/>` in plaintext, then TLS, and the peer opens a
    /// new stream over it.
    private func startTLS() {
        guard let tls = env.outgoing.tls.server, !tlsActive else {
            send("<failure xmlns='\(XMPPNamespace.tls)'/></stream:stream>")
            return close()
        }
        send("<proceed xmlns='\(XMPPNamespace.tls)'/>")
        guard startTLS(tls) else { return }
        headerSent = false
        verified = []
        streamPair = nil
        env.outgoing.directory.forget(self)
    }

    // MARK: SASL EXTERNAL

    /// XEP-0178 §3 (RFC 6120 §6): the authzid is empty ("=") or the stream's `from`;
    /// success restarts the stream, and the pair it names is verified.
    private func saslExternal(_ auth: XMLElement) {
        guard auth[attribute: "mechanism"] == "EXTERNAL", let pair = streamPair, !authenticatedByCertificate,
              mayAuthenticateByCertificate(pair) else {
            return saslFailure("invalid-mechanism")
        }
        let text = auth.text.trimmingCharacters(in: .whitespacesAndNewlines)
        if !text.isEmpty, text != "=" {
            guard let authzid = Base64.decode(text).map({ String(decoding: $0, as: UTF8.self).lowercased() }) else {
                return saslFailure("incorrect-encoding")
            }
            guard authzid == pair.remote else { return saslFailure("invalid-authzid") }
        }
        authenticatedByCertificate = true
        verified = [pair]
        send("<success xmlns='\(XMPPNamespace.sasl)'/>")
        headerSent = false
        parser.reset()
        negotiationFinished()
        env.stats.authSucceeded()
        env.outgoing.directory.update(self, pair, direction: "in", state: "verified", tls: true, auth: "external")
        logger.info("\(pair.remote) authenticated for \(pair.local) by its certificate (SASL EXTERNAL)")
    }

    private func saslFailure(_ condition: String) {
        env.stats.authFailed()
        send("<failure xmlns='\(XMPPNamespace.sasl)'><\(condition)/></failure>")
    }

    // MARK: dialback

    /// XEP-0220 §2.1.2: the peer (originating server) asks to send as `from` to `to`.
    private func dialbackResult(_ request: XMLElement) {
        guard let from = request[attribute: "from"].flatMap(JID.init), from.local == nil, from.resource == nil,
              let to = request[attribute: "to"].flatMap(JID.init), to.local == nil, to.resource == nil else {
            return failStream("improper-addressing")
        }
        let pair = DomainPair(local: to.domain, remote: from.domain)
        guard env.serves(pair.local) else {
            return dialbackError(pair, "item-not-found", type: "cancel")
        }
        guard !env.serves(pair.remote) else {
            // Our own domain, from outside: never valid.
            return dialbackError(pair, "forbidden", type: "auth")
        }
        guard env.outgoing.config.allows(pair.remote) else {
            logger.info("dialback from \(pair.remote) refused by the s2s host policy")
            return dialbackError(pair, "forbidden", type: "auth")
        }
        let key = request.text
        env.outgoing.verify(key: key, pair: pair, streamID: streamID, on: context!.eventLoop) { [weak self] valid in
            self?.dialbackVerified(pair, valid: valid)
        }
    }

    private func dialbackVerified(_ pair: DomainPair, valid: Bool?) {
        guard !isClosed else { return }
        guard let valid else {
            // The authoritative server could not be asked (XEP-0220 §2.4).
            return sendDialback("result", from: pair.local, to: pair.remote, type: "error",
                                error: ("remote-server-not-found", "cancel"))
        }
        if valid {
            verified.insert(pair)
            env.outgoing.directory.update(self, pair, direction: "in", state: "verified", tls: tlsActive, auth: "dialback")
            negotiationFinished()
            env.stats.authSucceeded()
            logger.info("\(pair.remote) verified by dialback for \(pair.local)")
        } else {
            env.stats.authFailed()
            logger.info("dialback key of \(pair.remote) for \(pair.local) is invalid")
        }
        sendDialback("result", from: pair.local, to: pair.remote, type: valid ? "valid" : "invalid")
    }

    private func dialbackError(_ pair: DomainPair, _ condition: String, type: String) {
        env.stats.authFailed()
        sendDialback("result", from: pair.local, to: pair.remote, type: "error", error: (condition, type))
    }

    /// XEP-0220 §2.1.3: we are the authoritative server of `to`; was the key ours?
    private func dialbackVerify(_ request: XMLElement) {
        guard let from = request[attribute: "from"].flatMap(JID.init), let to = request[attribute: "to"].flatMap(JID.init),
              let id = request[attribute: "id"] else {
            return failStream("improper-addressing")
        }
        let valid = env.serves(to.domain)
            && env.outgoing.keys.verify(request.text, receiving: from.domain, originating: to.domain, streamID: id)
        sendDialback("verify", from: to.domain, to: from.domain, id: id, type: valid ? "valid" : "invalid")
    }

    // MARK: stanzas

    /// RFC 6120 §8.1.1.2 / §4.9.3: both addresses are required, `to` must be ours and
    /// `from` a domain verified for it on this stream.
    private func stanza(_ incoming: XMLElement) {
        guard let from = incoming[attribute: "from"].flatMap(JID.init),
              let to = incoming[attribute: "to"].flatMap(JID.init) else {
            return failStream("improper-addressing")
        }
        guard env.serves(to.domain) else { return failStream("host-unknown") }
        guard verified.contains(DomainPair(local: to.domain, remote: from.domain)) else {
            return failStream("invalid-from")
        }
        env.stats.stanzaReceived()
        let stanza = incoming.movingNamespace(XMPPNamespace.server, to: XMPPNamespace.client)
        let router = env.router
        if router.hooks?.runS2SReceivePacket(from, stanza) == .handled { return }
        // An iq to a served host itself is the server's; one to a service's domain
        // (MUC Light's, a component's) is routed to the service.
        if stanza.name == "iq", to.local == nil, to.resource == nil, router.hosts.contains(to.domain) {
            let type = stanza[attribute: "type"]
            guard type == "get" || type == "set" else { return env.modules.handleIQResponse(stanza) }
            return env.modules.dispatchIQ(stanza, from: from, to: to, target: .server) { response in
                _ = router.route(response, to: from)
            }
        }
        if case .bounce(let error) = router.route(stanza, to: to) { _ = router.route(error, to: from) }
    }

    /// TrackedConnection: the worker ends this stream (drain deadline, shutdown).
    func terminate(_ condition: String, allowResumption: Bool) { failStream(condition) }
}

/// A local domain and a remote one: what dialback authorizes, one direction at a time.
struct DomainPair: Hashable, Sendable {
    let local: String
    let remote: String
}
