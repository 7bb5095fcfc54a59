import NIOCore
import XMPPConfig
import XMPPTransport

extension ListenerWorker {
    /// Every worker sends to other servers itself, whatever listener it serves.
    func makeS2SOutgoing(router: StanzaRouter) throws -> S2SOutgoing {
        let config = setup.config
        let secret = try DialbackKey.secret(configured: config.s2s.shared, stateDirectory: config.stateDirectory)
        var logger = self.logger
        logger[metadataKey: "s2s"] = "out"
        let outgoing = S2SOutgoing(config: config, keys: DialbackKey(secret: secret), group: group, logger: logger)
        outgoing.router = router
        return outgoing
    }

    /// The layers under an inbound s2s stream: PROXY header, and the shaper of the
    /// listener's `shaper` access rule (evaluated for the listener's first host: the
    /// peer's domain is not known when the connection is accepted).
    func s2sTransportHandlers() -> () -> [ChannelHandler] {
        let config = setup.config
        let listener = setup.listener
        let access = AccessRules(config: config.accessControl, hosts: config.hosts)
        let rule = listener.s2s?.shaper ?? "none"
        let maxRate = rule == "none" ? nil : access.shaper(forRule: rule, local: nil, domain: config.hosts[0])?.maxRate
        let proxy = listener.xmpp?.proxyProtocol == true
        return {
            var handlers: [ChannelHandler] = []
            if proxy { handlers.append(ProxyProtocolDecoder()) }
            if let maxRate { handlers.append(ShaperHandler(maxRate: maxRate)) }
            return handlers
        }
    }

    func makeS2SInboundEnvironment(router: StanzaRouter, modules: ModuleRuntime, outgoing: S2SOutgoing) -> S2SInboundEnvironment {
        let config = setup.config
        var logger = self.logger
        logger[metadataKey: "listener"] = "\(setup.listener.keyPath)"
        return S2SInboundEnvironment(
            hosts: Set(config.hosts),
            config: config.s2s,
            keys: outgoing.keys,
            router: router,
            modules: modules,
            outgoing: outgoing,
            stats: stats,
            connections: connections,
            maxStanzaSize: setup.listener.xmpp?.maxStanzaSize,
            hibernateAfter: .milliseconds(Int64(setup.listener.xmpp?.hibernateAfterMs ?? 0)),
            negotiationTimeout: .milliseconds(Int64(config.general.c2sStateTimeoutMs)),
            logger: logger)
    }
}
