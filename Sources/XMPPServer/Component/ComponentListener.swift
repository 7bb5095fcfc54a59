import NIOCore
import XMPPConfig

/// Options of `[[listen.service]]` this version cannot honour yet. Refusing the
/// config (at start and at reload) is safer than ignoring them: an `access` rule
/// that silently allowed every component would be a hole.
public enum ComponentListenerLimits {
    public static func unsupportedOptions(in config: ServerConfig) -> [String] {
        var problems: [String] = []
        for listener in config.listeners where listener.type == .service {
            guard let service = listener.service else { continue }
            if service.access != "all" {
                problems.append("\(listener.keyPath).access: access rules are not supported yet "
                                + "(found \"\(service.access)\", expected \"all\")")
            }
            if service.shaperRule != "none" {
                problems.append("\(listener.keyPath).shaper_rule: shapers are not supported yet "
                                + "(found \"\(service.shaperRule)\", expected \"none\")")
            }
            if listener.xmpp?.proxyProtocol == true {
                problems.append("\(listener.keyPath).proxy_protocol: the PROXY protocol is not supported on "
                                + "service listeners yet (found true, expected false)")
            }
        }
        return problems
    }
}

extension ListenerWorker {
    func makeComponentEnvironment(router: StanzaRouter) throws -> ComponentEnvironment {
        let config = setup.config
        let listener = setup.listener
        guard let options = listener.service else {
            throw WorkerError.unsupported("\(listener.keyPath): no service options (password) in the worker's setup")
        }
        var logger = self.logger
        logger[metadataKey: "listener"] = "\(listener.keyPath)"
        return ComponentEnvironment(
            hosts: config.hosts,
            options: options,
            registry: components,
            router: router,
            stats: stats,
            connections: connections,
            maxStanzaSize: listener.xmpp?.maxStanzaSize,
            handshakeTimeout: .milliseconds(Int64(config.general.c2sStateTimeoutMs)),
            logger: logger)
    }
}
