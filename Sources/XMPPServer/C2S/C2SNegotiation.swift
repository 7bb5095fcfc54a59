import Foundation
import NIOCore
import XMPPConfig
import XMPPCore
import XMPPSASL
import XMPPTLS
import XMPPTransport

/// A SASL exchange in progress: which mechanism, and its server-side state.
struct SASLExchange {
    var mechanism: SASLMechanism
    var server: SASLServerMechanism
}

/// RFC 6120 stream negotiation: stream header, SASL (§6), restart, resource binding (§7).
extension C2SConnection {
    func streamOpened(_ header: XMLStreamHeader) {
        let requested = header.attributes["to"].flatMap { JID($0)?.domain }
        if domain == nil, let requested, env.hosts.contains(requested) { domain = requested }
        guard header.defaultNamespace == XMPPNamespace.client else {
            return failStream("invalid-namespace", text: "the default namespace must be jabber:client")
        }
        guard let requested, env.hosts.contains(requested), requested == domain else {
            return failStream("host-unknown")
        }
        // RFC 6120 §4.7.5: no version means 0.9, which we do not speak.
        guard let version = header.attributes["version"], version.hasPrefix("1.") else {
            return failStream("unsupported-version")
        }
        streamHeaderSent = false
        sendStreamHeader()
        switch state {
        case .awaitingStreamHeader:
            state = .awaitingAuth
            send(preAuthFeatures())
        case .awaitingRestart(let user):
            state = .awaitingBind(user: user)
            var features = "<stream:features>"
            // XEP-0138 §3: offered only after authentication (and TLS, where it is
            // on), so compression cannot leak secrets CRIME-style.
            if env.transport.zlibLimit != nil && !compressed {
                features += "<compression xmlns='\(Self.compressFeatureNS)'><method>zlib</method></compression>"
            }
            features += "<bind xmlns='\(XMPPNamespace.bind)'/><session xmlns='\(XMPPNamespace.session)'><optional/></session>"
            for feature in env.modules.streamFeatures { features += feature.serialized(parentNamespace: XMPPNamespace.stream) }
            send(features + "</stream:features>")
        default:
            failStream("bad-format", text: "unexpected stream restart")
        }
    }

    static let compressFeatureNS = "http://jabber.org/features/compress"
    static let compressNS = "http://jabber.org/protocol/compress"

    private func preAuthFeatures() -> String {
        var out = "<stream:features>"
        if env.transport.offersStartTLS && !tlsActive {
            out += "<starttls xmlns='\(XMPPNamespace.tls)'>"
            out += env.transport.tlsMode == .starttlsRequired ? "<required/></starttls>" : "</starttls>"
            // RFC 6120 §5.3.1: with TLS mandatory, nothing else is offered before it.
            if env.transport.tlsMode == .starttlsRequired { return out + "</stream:features>" }
        }
        out += "<mechanisms xmlns='\(XMPPNamespace.sasl)'>"
        for mechanism in offeredMechanisms { out += "<mechanism>\(mechanism.rawValue)</mechanism>" }
        out += "</mechanisms>"
        // XEP-0440: which channel bindings the -PLUS mechanisms accept here.
        let bindings = channelBindings.keys.sorted()
        if !bindings.isEmpty {
            out += "<sasl-channel-binding xmlns='urn:xmpp:sasl-cb:0'>"
            for type in bindings { out += "<channel-binding type='\(type)'/>" }
            out += "</sasl-channel-binding>"
        }
        return out + "</stream:features>"
    }

    private var tlsMissing: Bool { env.transport.requiresTLS && !tlsActive }

    /// RFC 6120 §5.4.2.3: `<proceed/>` in plaintext, then TLS under the stream, and
    /// the client opens a new stream over it.
    private func startTLS() {
        guard let context, let tls = env.transport.tls, env.transport.offersStartTLS, !tlsActive else {
            send("<failure xmlns='\(XMPPNamespace.tls)'/></stream:stream>")
            return close()
        }
        send("<proceed xmlns='\(XMPPNamespace.tls)'/>")
        context.flush()
        do {
            try context.pipeline.syncOperations.addHandler(OpenSSLHandler(context: tls), position: .before(self))
        } catch {
            return close()
        }
        tlsActive = true
        restartStream(then: .awaitingStreamHeader)
    }

    /// XEP-0138: `<compressed/>` uncompressed, then zlib under the stream and a new stream.
    private func startCompression(_ request: XMLElement, user: JID) {
        guard let context, let limit = env.transport.zlibLimit, !compressed else {
            return send("<failure xmlns='\(Self.compressNS)'><setup-failed/></failure>")
        }
        guard request.child("method")?.text == "zlib" else {
            return send("<failure xmlns='\(Self.compressNS)'><unsupported-method/></failure>")
        }
        send("<compressed xmlns='\(Self.compressNS)'/>")
        context.flush()
        do {
            try context.pipeline.syncOperations.addHandler(ZlibCompressionHandler(maxInflatedBytesPerRead: limit),
                                                           position: .before(self))
        } catch {
            return close()
        }
        compressed = true
        restartStream(then: .awaitingRestart(user: user))
    }

    private func restartStream(then next: State) {
        state = next
        streamHeaderSent = false
        parser.reset()
    }

    /// An element received before the session is established.
    func negotiate(_ element: XMLElement) {
        switch state {
        case .awaitingAuth where element.namespace == XMPPNamespace.tls && element.name == "starttls":
            startTLS()
        case .awaitingAuth where tlsMissing:
            // starttls_required (and direct TLS): nothing but STARTTLS before TLS.
            failStream("policy-violation", text: "Use of STARTTLS required")
        case .awaitingAuth where element.namespace == XMPPNamespace.sasl && element.name == "auth":
            startSASL(element)
        case .awaitingBind(let user) where element.namespace == Self.compressNS && element.name == "compress":
            startCompression(element, user: user)
        case .authenticating(let exchange) where element.namespace == XMPPNamespace.sasl:
            switch element.name {
            case "response": continueSASL(exchange, payload: element.text)
            case "abort": saslFailed(.aborted, text: nil)
            default: failStream("unsupported-stanza-type")
            }
        case .awaitingBind(let user) where element.namespace == StreamManagementState.namespace && element.name == "resume":
            startResume(element, user: user)
        case .awaitingBind where element.namespace == StreamManagementState.namespace && element.name == "enable":
            // XEP-0198 §3: enabling comes after binding.
            sendNonza(StreamManagementState.failed("unexpected-request"))
        case .awaitingBind(let user) where element.name == "iq" && element.namespace == XMPPNamespace.client:
            handleBindingIQ(element, user: user)
        default:
            if ["iq", "message", "presence"].contains(element.name) {
                // RFC 6120 §6.4.8 / §7.2: no stanzas before authentication and binding.
                failStream("not-authorized")
            } else {
                failStream("unsupported-stanza-type")
            }
        }
    }

    // MARK: SASL

    private func startSASL(_ auth: XMLElement) {
        guard let name = auth[attribute: "mechanism"], let mechanism = SASLMechanism(rawValue: name),
              offeredMechanisms.contains(mechanism), let domain else {
            return saslFailed(.invalidMechanism, text: nil, countsAsAuthFailure: false)
        }
        let exchange = SASLExchange(mechanism: mechanism, server: makeMechanism(mechanism, domain: domain))
        // RFC 6120 §6.4.2: no text = no initial response; "=" = an empty one.
        let text = auth.text
        let initial: [UInt8]?
        if text.isEmpty {
            initial = nil
        } else if text == "=" {
            initial = []
        } else {
            guard let decoded = Base64.decode(text) else { return saslFailed(.incorrectEncoding, text: nil) }
            initial = decoded
        }
        state = .authenticating(exchange)
        apply(exchange.server.start(initialResponse: initial), exchange)
    }

    private func continueSASL(_ exchange: SASLExchange, payload: String) {
        let response: [UInt8]
        if payload.isEmpty || payload == "=" {
            response = []
        } else {
            guard let decoded = Base64.decode(payload) else { return saslFailed(.incorrectEncoding, text: nil) }
            response = decoded
        }
        apply(exchange.server.respond(response), exchange)
    }

    private func apply(_ step: SASLStep, _ exchange: SASLExchange) {
        switch step {
        case .challenge(let data):
            send("<challenge xmlns='\(XMPPNamespace.sasl)'>\(data.isEmpty ? "=" : Base64.encode(data))</challenge>")
        case .failure(let failure, let text):
            saslFailed(failure, text: text)
        case .success(let username, let additional):
            guard let domain, let user = JID(validatingLocal: username, domain: domain) else {
                return saslFailed(.notAuthorized, text: nil)
            }
            env.stats.authSucceeded()
            logger.info("authenticated \(user) with \(exchange.mechanism.rawValue)")
            let payload = additional.map { $0.isEmpty ? "=" : Base64.encode($0) } ?? ""
            send("<success xmlns='\(XMPPNamespace.sasl)'>\(payload)</success>")
            state = .awaitingRestart(user: user)
            parser.reset()
        }
    }

    private func saslFailed(_ failure: SASLFailure, text: String?, countsAsAuthFailure: Bool = true) {
        if countsAsAuthFailure { env.stats.authFailed() }
        var out = "<failure xmlns='\(XMPPNamespace.sasl)'><\(failure.rawValue)/>"
        if let text { out += "<text>\(XMLEscaping.escapeText(text))</text>" }
        send(out + "</failure>")
        state = .awaitingAuth
    }

    private func makeMechanism(_ mechanism: SASLMechanism, domain: String) -> SASLServerMechanism {
        let credentials = env.credentials
        let bindings = channelBindings
        func scram(_ hash: SCRAMHash, plus: Bool) -> SCRAMServer {
            SCRAMServer(hash: hash, lookup: { credentials.credentials(user: $0.lowercased(), domain: domain, hash: hash) },
                        domain: domain, plus: plus, channelBindings: bindings)
        }
        if let name = mechanism.scramHashName, let hash = SCRAMHash(rawValue: name) {
            return scram(hash, plus: mechanism.isPlus)
        }
        switch mechanism {
        case .external:
            let identities = tlsInfo?.peerCertificateVerified == true ? (tlsInfo?.peerCertificate?.xmppAddrs ?? []) : []
            return EXTERNALServer(certificateIdentities: identities, domain: domain) {
                credentials.exists(user: $0, domain: domain)
            }
        default:
            return PLAINServer { credentials.anyCredentials(user: $0.lowercased(), domain: domain) }
        }
    }

    /// Mechanisms offered on this stream: -PLUS and EXTERNAL only over TLS, and
    /// EXTERNAL only with a verified client certificate (XEP-0178).
    var offeredMechanisms: [SASLMechanism] {
        env.mechanisms.filter { mechanism in
            guard mechanism.needsTLS else { return true }
            guard tlsActive, tlsInfo != nil else { return false }
            return mechanism != .external || tlsInfo?.peerCertificateVerified == true
        }
    }

    /// Channel binding data of this TLS connection, when -PLUS is offered. tls-exporter
    /// only on TLS 1.3 (RFC 9266 needs the extended master secret before it).
    private var channelBindings: [String: [UInt8]] {
        guard let tlsInfo, offeredMechanisms.contains(where: \.isPlus) else {
            return [:]
        }
        var bindings: [String: [UInt8]] = [:]
        if let endPoint = tlsInfo.tlsServerEndPoint { bindings["tls-server-end-point"] = endPoint }
        if tlsInfo.protocolVersion == "TLSv1.3", let exporter = tlsInfo.tlsExporter { bindings["tls-exporter"] = exporter }
        return bindings
    }

    // MARK: resource binding

    private func handleBindingIQ(_ iq: XMLElement, user: JID) {
        let type = iq[attribute: "type"]
        if type == "set", let bind = iq.child("bind", namespace: XMPPNamespace.bind) {
            bindResource(requested: bind.child("resource")?.text, iq: iq, user: user)
        } else if type == "set", iq.child("session", namespace: XMPPNamespace.session) != nil {
            // RFC 3921 session establishment is a no-op kept for old clients.
            send(result(for: iq))
        } else {
            failStream("not-authorized")
        }
    }

    private func bindResource(requested: String?, iq: XMLElement, user: JID) {
        guard let context else { return }
        let resource = (requested?.isEmpty == false) ? requested! : Self.generatedResource()
        guard let full = JID(validatingLocal: user.local, domain: user.domain, resource: resource) else {
            if let reply = StanzaErrors.reply(to: iq, condition: "bad-request", type: "modify") { send(reply) }
            return
        }
        // The listener's `access` rule decides who may open a session. Like
        // MongooseIM (mongoose_c2s.erl, verify_user_allowed), a denied user gets
        // <not-allowed/> on the bind iq and may not go further.
        guard env.access.allows(env.accessRule, local: full.local, domain: full.domain, resource: full.resource) else {
            logger.info("\(full): session refused by access rule \(env.accessRule)")
            env.stats.authFailed()
            if let reply = StanzaErrors.reply(to: iq, condition: "not-allowed") { send(reply) }
            return
        }
        let session = SessionHandle(jid: full, eventLoop: context.eventLoop,
                                    mailbox: env.mailboxes.mailbox(for: context.eventLoop), connection: self)
        // RFC 6120 §7.7.2.2: a bind of an already-bound full JID replaces the old session.
        if let replaced = env.registry.bind(session, at: Date().timeIntervalSince1970) {
            replaced.terminate(condition: "conflict")
        }
        state = .established(session)
        negotiationFinished()
        logger.info("session bound for \(full) from \(clientAddress.map { "\($0)" } ?? "?")")
        applyUserShaper(user: full)
        var reply = result(for: iq)
        var bind = XMLElement(name: "bind", namespace: XMPPNamespace.bind)
        var jid = XMLElement(name: "jid", namespace: XMPPNamespace.bind)
        jid.append(text: full.description)
        bind.append(jid)
        reply.append(bind)
        send(reply)
        env.hooks.runSessionOpened(full)
    }

    /// The `shaper` rule may give this user another shaper than the anonymous one
    /// the connection started with (e.g. none for admins).
    private func applyUserShaper(user: JID) {
        guard env.transport.shaperRule != "none", let channel = context?.channel else { return }
        let rate = env.access.shaper(forRule: env.transport.shaperRule, local: user.local, domain: user.domain)?.maxRate
        _ = ShaperHandler.setMaxRate(rate ?? Int.max, on: channel)
    }

    func result(for iq: XMLElement) -> XMLElement {
        var attributes = ["type": "result"]
        if let id = iq[attribute: "id"] { attributes["id"] = id }
        return XMLElement(name: "iq", namespace: XMPPNamespace.client, attributes: attributes)
    }

    private static func generatedResource() -> String {
        var generator = SystemRandomNumberGenerator()
        return "xmppd-" + String(generator.next() as UInt64, radix: 36)
    }
}
