import NIOCore
import XMPPConfig
import XMPPTransport

extension ListenerWorker {
    /// The layers under a component stream or an inbound s2s stream, made for each
    /// connection: the PROXY header when the listener takes one, then a shaper at
    /// `shaperRate` bytes per second.
    func streamTransportHandlers(shaperRate: Int?) -> () -> [ChannelHandler] {
        let proxy = setup.listener.xmpp?.proxyProtocol == true
        return {
            var handlers: [ChannelHandler] = []
            if proxy { handlers.append(ProxyProtocolDecoder()) }
            if let shaperRate { handlers.append(ShaperHandler(maxRate: shaperRate)) }
            return handlers
        }
    }

    /// A component listener's shaper: the one `shaper_rule` names directly (unlike
    /// c2s, not through an access rule).
    var componentShaperRate: Int? {
        guard let name = setup.listener.service?.shaperRule, name != "none" else { return nil }
        return setup.config.accessControl.shapers[name]?.maxRate
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
