import NIOCore
import XMPPConfig
import XMPPTLS

extension ListenerWorker {
    /// Every worker sends to other servers itself, whatever listener it serves.
    func makeS2SOutgoing(router: StanzaRouter) throws -> S2SOutgoing {
        let config = setup.config
        let secret = try DialbackKey.secret(configured: config.s2s.shared, stateDirectory: config.stateDirectory)
        var logger = self.logger
        logger[metadataKey: "s2s"] = "out"
        let outgoing = S2SOutgoing(config: config, keys: DialbackKey(secret: secret), tls: try S2STLS.make(config), group: group,
                                   logger: logger)
        outgoing.router = router
        return outgoing
    }

    /// An s2s listener's shaper: its `shaper` access rule, evaluated for the first
    /// host (the peer's domain is not known when the connection is accepted).
    var s2sShaperRate: Int? {
        let config = setup.config
        guard let rule = setup.listener.s2s?.shaper, rule != "none" else { return nil }
        return AccessRules(config: config.accessControl, hosts: config.hosts)
            .shaper(forRule: rule, local: nil, domain: config.hosts[0])?.maxRate
    }

    func makeS2SInboundEnvironment(router: StanzaRouter, modules: ModuleRuntime, outgoing: S2SOutgoing) -> S2SInboundEnvironment {
        let config = setup.config
        var logger = self.logger
        logger[metadataKey: "listener"] = "\(setup.listener.keyPath)"
        return S2SInboundEnvironment(
            router: router,
            modules: modules,
            outgoing: outgoing,
            stats: stats,
            connections: connections,
            maxStanzaSize: setup.listener.xmpp?.maxStanzaSize,
            hibernateAfter: .milliseconds(Int64(setup.listener.xmpp?.hibernateAfterMs ?? 0)),
            // A peer's first dialback waits for our connection to its authoritative
            // server: never less time than that connection may take.
            negotiationTimeout: .milliseconds(Int64(max(config.general.c2sStateTimeoutMs,
                                                        config.s2s.connectionTimeoutMs ?? 60_000))),
            logger: logger)
    }
}

/// STARTTLS for server-to-server streams, from `s2s.use_starttls` and `s2s.certfile`
/// (and the s2s listener's `tls` table: CA file, DH parameters, ciphers).
struct S2STLS: Sendable {
    /// Inbound streams (the s2s listener); nil when STARTTLS is off.
    var server: TLSContext?
    /// Outgoing streams: presents `certfile` too, for a peer that verifies it.
    var client: TLSContext?
    /// "required" and "required_trusted": no dialback or stanzas without TLS.
    var required: Bool

    static let off = S2STLS(server: nil, client: nil, required: false)

    /// "required_trusted" verifies the peer's certificate both ways, against the s2s
    /// listener's `tls.cacertfile` (or the system's CAs when it has none).
    static func make(_ config: ServerConfig) throws -> S2STLS {
        let s2s = config.s2s
        guard s2s.useStartTLS != .disabled, let certfile = s2s.certfile else { return .off }
        let trusted = s2s.useStartTLS == .requiredTrusted
        let listenerTLS = config.listeners.lazy.compactMap { $0.s2s?.tls }.first ?? S2STLSOptions()
        var server = TLSConfiguration.s2s(listenerTLS, certfile: certfile)
        server.verification = trusted ? .peer : .none
        let client = TLSConfiguration(role: .client, certificateChainFile: certfile, caFile: listenerTLS.cacertfile,
                                      cipherString: s2s.ciphers, verification: trusted ? .peer : .none)
        let base = config.xmppd.configDirectory
        return S2STLS(server: try TLSContext(server, baseDirectory: base), client: try TLSContext(client, baseDirectory: base),
                      required: s2s.useStartTLS != .optional)
    }
}
