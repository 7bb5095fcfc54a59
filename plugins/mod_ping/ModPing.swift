import NIOCore
import XMPPConfig
import XMPPCore
import XMPPModuleAPI

/// XEP-0199 XMPP Ping, as MongooseIM's mod_ping: answers pings to the server and,
/// with `send_pings = true`, pings every session each `ping_interval` seconds and
/// applies `timeout_action` ("none" or "kill") to those that do not answer within
/// `ping_req_timeout` seconds.
public final class ModPing: ServerModule {
    public static let name = "mod_ping"
    static let namespace = "urn:xmpp:ping"

    struct Options {
        var sendPings: Bool
        var pingInterval: Int
        var pingReqTimeout: Int
        var timeoutAction: String

        init(_ options: ModuleOptions) throws {
            try options.checkKnownKeys(["send_pings", "ping_interval", "ping_req_timeout", "timeout_action", "iqdisc"])
            sendPings = try options.bool("send_pings", default: false)
            pingInterval = try options.int("ping_interval", default: 60, minimum: 1)
            pingReqTimeout = try options.int("ping_req_timeout", default: 32, minimum: 1)
            timeoutAction = try options.oneOf("timeout_action", ["none", "kill"], default: "none")
            _ = try options.string("iqdisc", default: "one_queue") // accepted for MongooseIM configs; one queue per loop here
        }
    }

    private let host: ModuleHost
    private let options: Options
    private var timer: RepeatedTask?

    public static func validate(_ options: ModuleOptions) throws { _ = try Options(options) }

    public required init(options moduleOptions: ModuleOptions, host: ModuleHost) throws {
        self.host = host
        self.options = try Options(moduleOptions)
        host.addServerFeature(Self.namespace)
        host.registerIQHandler(namespace: Self.namespace, target: .server) { request in
            request.type == "get" ? request.reply(nil) : request.fail("bad-request", "modify")
        }
        if options.sendPings {
            timer = host.eventLoopGroup.next().scheduleRepeatedTask(
                initialDelay: .seconds(Int64(options.pingInterval)), delay: .seconds(Int64(options.pingInterval))
            ) { [weak self] _ in self?.pingEverySession() }
        }
    }

    private func pingEverySession() {
        for session in host.localSessions() {
            let iq = XMLElement(name: "iq", namespace: XMPPNamespace.client,
                                attributes: ["type": "get", "to": session.description, "from": session.domain],
                                children: [.element(XMLElement(name: "ping", namespace: Self.namespace))])
            host.sendIQ(iq, timeout: .seconds(Int64(options.pingReqTimeout))).whenFailure { [weak self] _ in
                guard let self, self.options.timeoutAction == "kill" else { return }
                self.host.logger.info("mod_ping: \(session) did not answer a ping; closing its session")
                self.host.terminateSession(session, condition: "connection-timeout")
            }
        }
    }
}
