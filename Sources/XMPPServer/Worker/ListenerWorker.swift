#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOPosix
import XMPPConfig
import XMPPModuleAPI
import XMPPTLS

/// Serves one listener in a worker process: adopts the listening socket the
/// supervisor passed, accepts only when told to, and stops accepting without
/// losing connections caught mid-accept (PLATFORM-NOTES, "Two NIO traps").
public final class ListenerWorker: @unchecked Sendable {
    public let setup: WorkerSetup
    public let stats = WorkerStats()
    public let connections = ConnectionTracker()
    public let registry = SessionRegistry()
    /// XEP-0198 sessions that can be resumed, here or from another worker.
    public let resumption = SessionResumption()
    /// External components (XEP-0114) of every worker: each worker routes to them.
    public let components: ComponentRegistry
    let group: MultiThreadedEventLoopGroup
    private let mailboxes: LoopMailboxes
    private var serverChannel: Channel?
    /// The routing mesh, for listener types that replicate tables of their own.
    public private(set) var mesh: Mesh?
    let logger: Logger

    /// A readable error for each configured HTTP handler this build cannot serve yet.
    public static func unservedListeners(in config: ServerConfig) -> [String] {
        config.listeners.flatMap { listener -> [String] in
            return (listener.http?.handlers ?? []).compactMap { handler in
                let path = "\(listener.keyPath).handlers.\(handler.type)[\(handler.index)]"
                switch handler.options {
                case .websockets:
                    return nil
                case .bosh:
                    // As in MongooseIM, BOSH needs the module as well as the handler.
                    return config.modules.contains { $0.name == "mod_bosh" } ? nil
                        : "\(path): BOSH needs [modules.mod_bosh] as well (MongooseIM's rule)"
                case .apiAdmin:
                    return nil
                case .clientAPI where handler.type.hasPrefix("mongoose_client_api_rooms") && ClientAPI.kind(of: handler) != nil:
                    // Like BOSH, the rooms need their module.
                    return config.modules.contains { $0.name == "mod_muc_light" } ? nil
                        : "\(path): the rooms of the client API need [modules.mod_muc_light] as well"
                case _ where ClientAPI.kind(of: handler) != nil:
                    return nil
                case .swaggerJSON, .swaggerRedirect:
                    return nil
                case .cowboyStatic(_, let app, _) where app == "cowboy_swagger":
                    return nil
                default:
                    return "\(path): \(handler.type) handlers are not served by this version of xmppd yet (served: mod_websockets, "
                        + "mod_bosh, mongoose_api_admin, the mongoose_client_api handlers (messages, contacts, rooms, "
                        + "rooms_config, rooms_users, rooms_messages), lasse_handler with module mongoose_client_api_sse, "
                        + "the cowboy_swagger handlers)"
                }
            }
        }
    }

    private let moduleCatalog: [ServerModule.Type]


    public init(setup: WorkerSetup, modules: [ServerModule.Type], logger: Logger) {
        self.moduleCatalog = modules
        self.setup = setup
        self.logger = logger
        self.components = ComponentRegistry(hosts: setup.config.hosts)
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: setup.config.xmppd.eventLoopsPerWorker(
            cores: System.coreCount, listeners: setup.config.listeners.count))
        self.mailboxes = LoopMailboxes(
            group: group, pacingWindow: .microseconds(Int64(setup.config.xmppd.pollIntervalUnderLoadMicros)))
    }

    /// Adopts the listening fd paused: nothing is accepted until `startAccepting`.
    public func adopt(listeningFD: Int32) throws {
        let listener = setup.listener
        let router = StanzaRouter(hosts: setup.config.hosts, registry: registry)
        router.addDomainRoute(ComponentRoute(registry: components))
        let modules = ModuleRuntime(config: setup.config, router: router, components: components, group: group,
                                    logger: logger)
        router.addDomainRoute(modules)
        // Last: every domain nobody here serves is another server's.
        let s2s = try makeS2SOutgoing(router: router)
        router.addDomainRoute(s2s)
        router.hooks = modules.hooks
        try modules.start(setup.config.modules, catalog: moduleCatalog)
        try joinMesh(router: router, hooks: modules.hooks)
        if let mesh { s2s.directory.attach(to: mesh) }
        let initializer: @Sendable (Channel) -> EventLoopFuture<Void>
        switch listener.type {
        case .c2s:
            let env = try makeC2SEnvironment(router: router, modules: modules)
            let sharedEnv = C2SEnvironment.Shared(env)
            // Before authentication the shaper rule is evaluated for the domain alone;
            // C2SConnection re-evaluates it for the user once bound.
            let shaperRate = env.transport.shaperRule == "none" ? nil
                : env.access.shaper(forRule: env.transport.shaperRule, local: nil, domain: setup.config.hosts[0])?.maxRate ?? Int.max
            initializer = { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandlers(env.transport.initialHandlers(shaperRate: shaperRate))
                    try pipeline.addHandler(C2SConnection(env: sharedEnv))
                }
            }
        case .s2s:
            let env = makeS2SInboundEnvironment(router: router, modules: modules, outgoing: s2s)
            let transport = streamTransportHandlers(shaperRate: s2sShaperRate)
            initializer = { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(transport())
                    try channel.pipeline.syncOperations.addHandler(S2SInboundConnection(env: env))
                }
            }
        case .service:
            let env = try makeComponentEnvironment(router: router)
            let transport = streamTransportHandlers(shaperRate: componentShaperRate)
            initializer = { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(transport())
                    try channel.pipeline.syncOperations.addHandler(ComponentConnection(env: env))
                }
            }
        case .http:
            let http = try makeHTTPListener(router: router, modules: modules)
            initializer = { channel in channel.eventLoop.makeCompletedFuture { try http.initialize(channel) } }
        }
        var bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.autoRead, value: false)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: false)
            .childChannelInitializer(initializer)
        // Read buffers start small and adapt: NIO keeps a channel's last one for
        // reuse (and never shrinks it), so an idle session holds one of these. Logins
        // and most stanzas fit 256 bytes; a larger read doubles the size at once.
        bootstrap = bootstrap.childChannelOption(ChannelOptions.recvAllocator,
                                                 value: AdaptiveRecvByteBufferAllocator(minimum: 256, initial: 256, maximum: 65536))
        if (listener.c2s?.shaper ?? listener.service?.shaperRule ?? listener.s2s?.shaper ?? "none") != "none" {
            // A shaper pauses reads; small reads keep a burst from outrunning it
            // (NIO would otherwise take up to 4 x 64 KiB in one read cycle).
            bootstrap = bootstrap
                .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 1)
                .childChannelOption(ChannelOptions.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 4096))
        }
        serverChannel = try bootstrap.withBoundSocket(listeningFD).wait()
    }

    /// `[[listen.http]]`: one c2s environment per mod_websockets handler (each has its
    /// own `max_stanza_size`), all from one base, so they share its credential store.
    private func makeHTTPListener(router: StanzaRouter, modules: ModuleRuntime) throws -> HTTPListener {
        let http = setup.listener.http ?? HTTPOptions()
        var base = try makeC2SEnvironment(router: router, modules: modules)
        base.countsTransport = false
        let routes = http.handlers.compactMap { handler -> HTTPListener.WebSocketRoute? in
            guard case .websockets(let options) = handler.options else { return nil }
            var env = base
            env.maxStanzaSize = options.maxStanzaSize.intValue
            let component = options.service.map { service -> ComponentEnvironment in
                var env = makeComponentEnvironment(router: router, options: service.service, xmpp: service.xmpp)
                env.countsTransport = false
                return env
            }
            return HTTPListener.WebSocketRoute(handler: handler, options: options, env: C2SEnvironment.Shared(env),
                                               componentEnv: component)
        }
        let boshHandlers = http.handlers.filter { $0.options == .bosh }
        var bosh: BOSHService?
        if !boshHandlers.isEmpty {
            // ListenerWorker.unservedListeners refused the start without mod_bosh.
            guard let settings = modules.bosh else { throw WorkerError.unsupported("\(setup.listener.keyPath): BOSH needs [modules.mod_bosh]") }
            let service = BOSHService(settings: settings, env: C2SEnvironment.Shared(base),
                                      maxSessions: http.transport.maxConnections.intValue)
            if let mesh { service.relay = BOSHRelay(mesh: mesh, service: service) }
            bosh = service
        }
        let admin = APIBackend(config: setup.config, registry: registry, router: router, modules: modules,
                                 userData: moduleCatalog.flatMap { $0.perUserTables }, eventLoop: group.next())
        let adminAPIs = http.handlers.compactMap { handler -> AdminAPI? in
            guard case .apiAdmin(let username, let password) = handler.options else { return nil }
            return AdminAPI(handler: handler, username: username, password: password, backend: admin)
        }
        let clientHandlers = http.handlers.filter { ClientAPI.kind(of: $0) != nil }
        let clientAPI = clientHandlers.isEmpty ? nil : ClientAPI(handlers: clientHandlers, backend: admin)
        var listener = HTTPListener(routes: routes, boshHandlers: boshHandlers, bosh: bosh, adminAPIs: adminAPIs, clientAPI: clientAPI,
                            docs: APIDocs(handlers: http.handlers),
                            tls: try ListenerTLSMaterial.context(for: setup.listener, in: setup.config),
                            maxConnections: http.transport.maxConnections.intValue)
        listener.compress = http.compress
        listener.stats = stats
        return listener
    }

    private func makeC2SEnvironment(router: StanzaRouter, modules: ModuleRuntime) throws -> C2SEnvironment {
        let config = setup.config
        let listener = setup.listener
        var logger = self.logger
        logger[metadataKey: "listener"] = "\(listener.keyPath)"
        return C2SEnvironment(
            hosts: Set(config.hosts),
            mechanisms: config.auth.saslMechanisms,
            credentials: try CredentialSource(databasePath: config.databasePath),
            router: router,
            modules: modules,
            stats: stats,
            mailboxes: mailboxes,
            connections: connections,
            resumption: resumption,
            accessRule: listener.c2s?.access ?? "all",
            access: AccessRules(config: config.accessControl, hosts: config.hosts),
            maxStanzaSize: listener.xmpp?.maxStanzaSize,
            maxQueuedStanzas: listener.xmpp?.maxFSMQueue ?? config.general.maxFSMQueue,
            transport: C2STransport(listener: listener, tls: try ListenerTLSMaterial.context(for: listener, in: config)),
            hibernateAfter: .milliseconds(Int64(listener.xmpp?.hibernateAfterMs ?? 0)),
            negotiationTimeout: .milliseconds(Int64(config.general.c2sStateTimeoutMs)),
            logger: logger)
    }

    /// Joins the other workers' routing mesh, so sessions anywhere reach each other.
    private func joinMesh(router: StanzaRouter, hooks: Hooks) throws {
        let mesh = Mesh(directory: setup.config.stateDirectory + "/mesh", registry: registry, group: group,
                        mailboxes: mailboxes, logger: logger)
        mesh.peerGone = { gone, announce in router.announceUnavailable(gone, toContacts: announce) }
        mesh.recipientGone = { stanza, to in router.routeReturningErrors(stanza, to: to) }
        components.attach(to: mesh) // before start: peers' snapshots need its frame handlers
        resumption.attach(to: mesh, hooks: hooks)
        BOSHRelay.answerUnknownSessions(on: mesh)
        SessionListing.attach(to: mesh, registry: registry)
        try mesh.start()
        self.mesh = mesh
    }

    /// Leaves the mesh as the process ends (the socket file goes with it).
    public func leaveMesh() {
        mesh?.stop()
        mesh = nil
    }

    public func startAccepting() throws {
        try serverChannel?.setOption(ChannelOptions.autoRead, value: true).wait()
    }

    /// Stops accepting and closes this process's copy of the listening socket.
    /// Pending connections stay in the kernel backlog for the next worker.
    public func stopAccepting() throws {
        guard let server = serverChannel else { return }
        serverChannel = nil
        try server.setOption(ChannelOptions.autoRead, value: false).wait()
        // Let accepts already in flight finish their setup before the close.
        for _ in 0..<3 {
            for loop in group.makeIterator() { try loop.submit {}.wait() }
        }
        try server.close().wait()
    }

    public enum WorkerError: Error, CustomStringConvertible {
        case unsupported(String)
        public var description: String {
            switch self { case .unsupported(let message): return message }
        }
    }
}
