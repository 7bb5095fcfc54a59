import Logging
import NIOConcurrencyHelpers
import NIOCore
import XMPPConfig
import XMPPCore
import XMPPModuleAPI

/// The core's side of the module API in one worker: owns the hooks, the iq handler
/// table and outstanding server-sent iqs, and starts the configured modules.
public final class ModuleRuntime: ModuleHost, @unchecked Sendable {
    public let hosts: [String]
    public let databasePath: String
    public let logger: Logger
    public let hooks = Hooks()
    public let eventLoopGroup: EventLoopGroup
    let router: StanzaRouter
    let components: ComponentRegistry
    private let lock = NIOLock()
    private var iqHandlers: [IQTarget: [String: IQHandler]] = [:]
    private var services: [String: @Sendable (XMLElement) -> Void] = [:]
    private var pendingIQs: [String: EventLoopPromise<XMLElement>] = [:]
    private var features: [String] = []
    private var sessionFeatures: [XMLElement] = []
    private var modules: [ServerModule] = []
    private var nextIQ = 0

    init(config: ServerConfig, router: StanzaRouter, components: ComponentRegistry, group: EventLoopGroup, logger: Logger) {
        self.components = components
        self.hosts = config.hosts
        self.databasePath = config.databasePath
        self.router = router
        self.eventLoopGroup = group
        self.logger = logger
    }

    /// Creates every configured module (already validated by the supervisor).
    func start(_ configured: [ModuleConfig], catalog: [ServerModule.Type]) throws {
        for module in configured {
            guard let type = catalog.first(where: { $0.name == module.name }) else {
                throw module.reader.error(nil, "unknown module \(module.name)")
            }
            modules.append(try type.init(options: module.reader, host: self))
            logger.debug("module \(module.name) started")
        }
    }

    // MARK: ModuleHost

    public func route(_ stanza: XMLElement) {
        guard let to = stanza[attribute: "to"].flatMap(JID.init) else { return }
        if case .bounce(let error) = router.route(stanza, to: to),
           let back = error[attribute: "to"].flatMap(JID.init), back.local != nil {
            _ = router.route(error, to: back)
        }
    }

    public func registerService(domain: String, _ handler: @escaping @Sendable (XMLElement) -> Void) {
        lock.withLock { services[domain.lowercased()] = handler }
    }

    public var serviceDomains: [String] { lock.withLock { services.keys.sorted() } }

    public func registerIQHandler(namespace: String, target: IQTarget, _ handler: @escaping IQHandler) {
        lock.withLock { iqHandlers[target, default: [:]][namespace] = handler }
    }

    public var roomFeatures: [String] { lock.withLock { (iqHandlers[.room] ?? [:]).keys.sorted() } }

    public func sendIQ(_ iq: XMLElement, timeout: TimeAmount) -> EventLoopFuture<XMLElement> {
        let loop = eventLoopGroup.next()
        let promise = loop.makePromise(of: XMLElement.self)
        var request = iq
        let id: String = lock.withLock {
            nextIQ += 1
            let id = "xmppd-\(nextIQ)"
            pendingIQs[id] = promise
            return id
        }
        request[attribute: "id"] = id
        loop.scheduleTask(in: timeout) { [weak self] in
            if let pending = self?.lock.withLock({ self?.pendingIQs.removeValue(forKey: id) }) {
                pending.fail(IQTimeout())
            }
        }
        route(request)
        return promise.futureResult
    }

    public func availableResources(of bareJID: JID) -> [JID] {
        router.registry.availableSessions(of: bareJID).map(\.jid)
    }

    public func localSessions() -> [JID] { router.registry.localSessionJIDs() }

    public func boundResources(of bareJID: JID) -> [JID] { router.registry.sessions(of: bareJID).map(\.jid) }

    public func availablePresences(of bareJID: JID) -> [XMLElement] { router.registry.availablePresences(of: bareJID) }

    public func addStreamFeature(_ feature: XMLElement) { lock.withLock { sessionFeatures.append(feature) } }

    public var streamFeatures: [XMLElement] { lock.withLock { sessionFeatures } }

    public func terminateSession(_ fullJID: JID, condition: String) {
        if let session = router.registry.session(for: fullJID), session.peer == nil {
            session.terminate(condition: condition)
        }
    }

    public func externalComponents() -> [(domain: String, hidden: Bool)] {
        components.domains().map { ($0.domain, $0.hidden) }
    }

    public func addServerFeature(_ namespace: String) { lock.withLock { features.append(namespace) } }

    public var serverFeatures: [String] { lock.withLock { features } }

    private var streamManagementSettings: StreamManagementSettings?

    public func enableStreamManagement(_ settings: StreamManagementSettings) {
        lock.withLock { streamManagementSettings = settings }
    }

    /// Set by mod_stream_management; nil: XEP-0198 is not offered.
    public var streamManagement: StreamManagementSettings? { lock.withLock { streamManagementSettings } }

    private var boshSettings: BOSHSettings?

    public func enableBOSH(_ settings: BOSHSettings) { lock.withLock { boshSettings = settings } }

    /// Set by mod_bosh; nil: the `mod_bosh` HTTP handlers cannot serve sessions.
    public var bosh: BOSHSettings? { lock.withLock { boshSettings } }

    // MARK: used by the core

    /// An iq result or error addressed to the server: completes a `sendIQ`.
    func handleIQResponse(_ iq: XMLElement) {
        guard let id = iq[attribute: "id"],
              let promise = lock.withLock({ pendingIQs.removeValue(forKey: id) }) else { return }
        promise.succeed(iq)
    }

    /// An iq get/set for the server or an account. Unknown namespaces get
    /// `<service-unavailable/>` (RFC 6120 §8.4). `respond` delivers to the sender.
    func dispatchIQ(_ iq: XMLElement, from: JID, to: JID, target: IQTarget,
                    respond: @escaping @Sendable (XMLElement) -> Void) {
        let namespace = iq.elements.first?.namespace ?? ""
        guard let handler = lock.withLock({ iqHandlers[target]?[namespace] }) else {
            if let error = StanzaErrors.reply(to: iq, condition: "service-unavailable") { respond(error) }
            return
        }
        let request = IQRequest(
            stanza: iq, from: from, to: to,
            reply: { payload in
                var result = XMLElement(name: "iq", namespace: XMPPNamespace.client,
                                        attributes: ["type": "result", "to": from.description, "from": to.description])
                if let id = iq[attribute: "id"] { result[attribute: "id"] = id }
                if let payload { result.append(payload) }
                respond(result)
            },
            fail: { condition, type in
                if let error = StanzaErrors.reply(to: iq, condition: condition, type: type) { respond(error) }
            })
        handler(request)
    }
}

/// Domains served by modules (`registerService`): asked after the components and
/// before s2s.
extension ModuleRuntime: DomainRoute {
    public func route(_ stanza: XMLElement, to recipient: JID) -> StanzaRouter.Outcome? {
        guard let handler = lock.withLock({ services[recipient.domain] }) else { return nil }
        if let from = roomIQSender(stanza, to: recipient) {
            dispatchIQ(stanza, from: from, to: recipient, target: .room) { [weak self] answer in self?.route(answer) }
        } else {
            handler(stanza)
        }
        return .delivered
    }

    public func serves(_ domain: String) -> Bool { lock.withLock { services[domain] != nil } }

    /// The sender of an iq get / set to a room whose namespace another module handles
    /// for rooms (`IQTarget.room`); nil for everything the service keeps.
    private func roomIQSender(_ stanza: XMLElement, to recipient: JID) -> JID? {
        guard stanza.name == "iq", recipient.local != nil, recipient.resource == nil,
              let type = stanza[attribute: "type"], type == "get" || type == "set",
              let namespace = stanza.elements.first?.namespace,
              lock.withLock({ iqHandlers[.room]?[namespace] }) != nil else { return nil }
        return stanza[attribute: "from"].flatMap(JID.init)
    }
}
