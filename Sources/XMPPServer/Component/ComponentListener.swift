import NIOCore
import XMPPConfig
import XMPPTransport

extension ListenerWorker {
    /// The layers under a component stream: PROXY header and the shaper that
    /// `shaper_rule` names directly (unlike c2s, not through an access rule).
    func componentTransportHandlers() -> [ChannelHandler] {
        var handlers: [ChannelHandler] = []
        if setup.listener.xmpp?.proxyProtocol == true { handlers.append(ProxyProtocolDecoder()) }
        if let name = setup.listener.service?.shaperRule, name != "none",
           let shaper = setup.config.accessControl.shapers[name] {
            handlers.append(ShaperHandler(maxRate: shaper.maxRate))
        }
        return handlers
    }

    func makeComponentEnvironment(router: StanzaRouter) throws -> ComponentEnvironment {
        let listener = setup.listener
        guard let options = listener.service else {
            throw WorkerError.unsupported("\(listener.keyPath): no service options (password) in the worker's setup")
        }
        return makeComponentEnvironment(router: router, options: options, xmpp: listener.xmpp)
    }

    /// Also for components over WebSocket (`mod_websockets.service`), whose options
    /// come from the handler.
    func makeComponentEnvironment(router: StanzaRouter, options: ServiceOptions, xmpp: XMPPListenerOptions?) -> ComponentEnvironment {
        let config = setup.config
        let listener = setup.listener
        var logger = self.logger
        logger[metadataKey: "listener"] = "\(listener.keyPath)"
        return ComponentEnvironment(
            hosts: config.hosts,
            options: options,
            registry: components,
            router: router,
            stats: stats,
            connections: connections,
            maxStanzaSize: xmpp?.maxStanzaSize,
            maxQueuedStanzas: xmpp?.maxFSMQueue ?? config.general.maxFSMQueue,
            hibernateAfter: .milliseconds(Int64(xmpp?.hibernateAfterMs ?? 0)),
            access: AccessRules(config: config.accessControl, hosts: config.hosts),
            handshakeTimeout: .milliseconds(Int64(config.general.c2sStateTimeoutMs)),
            logger: logger)
    }
}
