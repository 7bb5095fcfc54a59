import Logging
import NIOCore
import XMPPCore
import XMPPSASL
import XMPPTLS

/// One outgoing server-to-server stream, to a remote domain's server: opens the
/// stream, then either authenticates a link for stanzas — with our certificate when
/// the peer offers SASL EXTERNAL over TLS (XEP-0178), else with `<db:result/>`
/// (XEP-0220 §2.1.1, key as XEP-0185) — or asks that server, as the authoritative
/// one, whether a key it received is ours to verify (`<db:verify/>`, §2.1.3).
final class S2SOutgoingConnection: S2SStream, @unchecked Sendable {
    enum Purpose {
        /// Carries stanzas for the link once dialback says valid.
        case link(S2SLink)
        /// Asks the authoritative server about `key`, received on our stream `streamID`.
        case verify(key: String, streamID: String, done: (Bool?) -> Void)
    }

    let pair: DomainPair
    private var purpose: Purpose?
    private let keys: DialbackKey
    private let timeout: TimeAmount?
    private let tls: S2STLS
    private var remoteStreamID: String?
    private var dialbackSent = false
    private var externalAuthSent = false
    /// The peer took our certificate (SASL EXTERNAL, XEP-0178): no dialback on this stream.
    private(set) var authenticatedByCertificate = false

    init(pair: DomainPair, purpose: Purpose, keys: DialbackKey, tls: S2STLS, timeout: TimeAmount?, maxQueuedStanzas: Int?,
         stats: WorkerStats, logger: Logger) {
        self.pair = pair
        self.tls = tls
        self.purpose = purpose
        self.keys = keys
        self.timeout = timeout
        var logger = logger
        logger[metadataKey: "s2s"] = "out \(pair.local) -> \(pair.remote)"
        super.init(stats: stats, countsTransport: false, maxStanzaSize: nil, maxQueuedStanzas: maxQueuedStanzas,
                   hibernateAfter: .zero, logger: logger)
    }

    override func started() {
        startNegotiationTimer(timeout)
        send(streamHeader(from: pair.local, to: pair.remote, id: nil, version: true))
    }

    override func streamOpened(_ header: XMLStreamHeader) {
        remoteStreamID = header.attributes["id"]
        // A server older than XMPP 1.0 sends no features: dialback starts at once.
        if header.attributes["version"] == nil { startDialback() }
    }

    override func received(_ element: XMLElement) {
        switch (element.namespace, element.name) {
        case (XMPPNamespace.stream, "features"):
            if !tlsActive, tls.client != nil, element.child("starttls", namespace: XMPPNamespace.tls) != nil {
                return send("<starttls xmlns='\(XMPPNamespace.tls)'/>")
            }
            if tls.required, !tlsActive {
                logger.info("\(pair.remote) does not offer STARTTLS, which use_starttls requires")
                return close()
            }
            if authenticatedByCertificate { return linkUp() }
            if offersExternal(element) {
                // XEP-0178 §2: the authzid is our domain, as the stream's `from`.
                externalAuthSent = true
                return send("<auth xmlns='\(XMPPNamespace.sasl)' mechanism='EXTERNAL'>"
                            + Base64.encode(Array(pair.local.utf8)) + "</auth>")
            }
            startDialback()
        case (XMPPNamespace.sasl, "success"):
            guard externalAuthSent else { return close() }
            authenticatedByCertificate = true
            logger.info("\(pair.remote) took our certificate (SASL EXTERNAL)")
            // RFC 6120 §6.4.6: a new stream; its features end the negotiation.
            parser.reset()
            remoteStreamID = nil
            send(streamHeader(from: pair.local, to: pair.remote, id: nil, version: true))
        case (XMPPNamespace.sasl, "failure"):
            logger.info("\(pair.remote) refused SASL EXTERNAL (\(element.elements.first?.name ?? "no condition")): dialback")
            startDialback()
        case (XMPPNamespace.tls, "proceed"):
            guard let context = tls.client, startTLS(context, serverHostname: pair.remote) else { return close() }
            remoteStreamID = nil
            send(streamHeader(from: pair.local, to: pair.remote, id: nil, version: true))
        case (XMPPNamespace.tls, "failure"):
            logger.info("\(pair.remote) refused STARTTLS")
            close()
        case (XMPPNamespace.stream, "error"):
            logger.info("the remote server ended the stream: \(element.elements.first?.name ?? "?")")
            close()
        case (DialbackNamespace.dialback, "result"):
            guard case .link(let link) = purpose else { return }
            let valid = element[attribute: "type"] == "valid"
            if valid { negotiationFinished() } else {
                logger.info("dialback refused by \(pair.remote): \(element[attribute: "type"] ?? "no type")")
            }
            link.streamAuthenticated(self, valid: valid)
            if !valid { close() }
        case (DialbackNamespace.dialback, "verify"):
            guard case .verify(_, _, let done) = purpose else { return }
            purpose = nil
            done(element[attribute: "type"] == "valid")
            send("</stream:stream>")
            close()
        default:
            // An outgoing stream carries stanzas one way (RFC 6120 §4.2.3).
            logger.debug("ignored <\(element.name)/> on an outgoing stream")
        }
    }

    /// Over TLS, on a link (a verify connection always uses dialback), when the peer
    /// offers EXTERNAL: it verified the certificate we presented.
    private func offersExternal(_ features: XMLElement) -> Bool {
        guard tlsActive, !externalAuthSent, case .link = purpose,
              let mechanisms = features.child("mechanisms", namespace: XMPPNamespace.sasl) else { return false }
        return mechanisms.children("mechanism", namespace: XMPPNamespace.sasl).contains { $0.text == "EXTERNAL" }
    }

    private func linkUp() {
        guard case .link(let link) = purpose else { return }
        negotiationFinished()
        link.streamAuthenticated(self, valid: true)
    }

    private func startDialback() {
        guard !dialbackSent, let purpose else { return }
        dialbackSent = true
        guard let streamID = remoteStreamID else {
            logger.info("the remote server sent no stream id: dialback is impossible")
            return close()
        }
        switch purpose {
        case .link:
            let key = keys.key(receiving: pair.remote, originating: pair.local, streamID: streamID)
            sendDialback("result", from: pair.local, to: pair.remote, key: key)
        case .verify(let key, let verifiedStreamID, _):
            sendDialback("verify", from: pair.local, to: pair.remote, id: verifiedStreamID, key: key)
        }
    }

    override func ended() {
        switch purpose {
        case .link(let link): link.connectionEnded(self)
        case .verify(_, _, let done): done(nil)
        case nil: break
        }
        purpose = nil
    }
}
