import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOWebSocket
import XMPPConfig
import XMPPTLS

/// The pipeline of a `[[listen.http]]` connection: [TLS] → HTTP/1.1 → a WebSocket
/// upgrade for the `mod_websockets` handlers (RFC 7395: XMPP c2s over WebSocket), and a
/// plain answer (404, 426) for every other request.
struct HTTPListener: Sendable {
    /// One `[[listen.http.handlers.mod_websockets]]`: its own c2s environment, since its
    /// `max_stanza_size` is its own.
    struct WebSocketRoute: Sendable {
        let handler: HTTPHandlerConfig
        let options: WebSocketHandlerOptions
        let env: C2SEnvironment.Shared
        /// With `service`: components may connect here too.
        let componentEnv: ComponentEnvironment?
    }

    let routes: [WebSocketRoute]
    /// The `mod_bosh` handlers, all served by one session table.
    let boshHandlers: [HTTPHandlerConfig]
    let bosh: BOSHService?
    /// The `mongoose_api_admin` handlers.
    let adminAPIs: [AdminAPI]
    /// The client API's handlers (messages, contacts, server-sent events), if any.
    let clientAPI: ClientAPI?
    /// The API documentation handlers, if any.
    let docs: APIDocs?
    /// `protocol.compress`: gzip response bodies for clients that accept it.
    var compress = false
    /// The worker's counters (connections, bytes); nil in unit tests.
    var stats: WorkerStats?
    let tls: TLSContext?
    /// `transport.max_connections`; nil is "infinity".
    let maxConnections: Int?
    /// Connections open now, across the worker's event loops.
    let open = NIOLockedValueBox(0)
    /// How long a connection may take to send a complete request (cowboy's default).
    static let requestTimeout = TimeAmount.seconds(60)

    /// Whatever `max_stanza_size` says, one message may not exceed this (as c2s streams).
    static let maxMessageSize = 10 << 20

    func initialize(_ channel: Channel) throws {
        // Over `max_connections` a new connection is closed at once (ranch would leave it
        // in the backlog; closing tells the client without tying up the socket).
        let admitted = open.withLockedValue { count -> Bool in
            if let maxConnections, count >= maxConnections { return false }
            count += 1
            return true
        }
        guard admitted else {
            channel.close(promise: nil)
            return
        }
        let open = self.open
        channel.closeFuture.whenComplete { _ in open.withLockedValue { $0 -= 1 } }
        let pipeline = channel.pipeline.syncOperations
        if let tls { try pipeline.addHandler(OpenSSLHandler(context: tls)) }
        if let stats { try pipeline.addHandler(HTTPTrafficCounter(stats: stats)) }
        let fallback = HTTPRequestHandler(routes: self)
        let routes = self
        let upgrader = NIOWebSocketServerUpgrader(
            maxFrameSize: Self.maxMessageSize,
            automaticErrorHandling: true,
            shouldUpgrade: { channel, head in
                // RFC 7395 §3.1: only for our paths, and only for the "xmpp" subprotocol.
                guard routes.route(for: head) != nil, Self.offersXMPP(head) else {
                    return channel.eventLoop.makeSucceededFuture(nil)
                }
                return channel.eventLoop.makeSucceededFuture(HTTPHeaders([("Sec-WebSocket-Protocol", "xmpp")]))
            },
            upgradePipelineHandler: { channel, head in
                channel.eventLoop.makeCompletedFuture {
                    guard let route = routes.route(for: head) else { return }
                    try route.install(on: channel)
                }
            })
        try pipeline.configureHTTPServerPipeline(withServerUpgrade: (upgraders: [upgrader], completionHandler: { context in
            context.pipeline.syncOperations.removeHandler(fallback, promise: nil)
        }))
        try pipeline.addHandler(fallback)
    }

    /// The WebSocket handler for a request, by path and `host` ("_" is any host).
    func route(for head: HTTPRequestHead) -> WebSocketRoute? {
        routes.first { Self.matches($0.handler, head) }
    }

    /// The admin API a request is for, with the command path below the handler's.
    func adminAPI(for head: HTTPRequestHead) -> (api: AdminAPI, path: [String])? {
        for api in adminAPIs where api.handler.serves(host: head.hostName) {
            if let path = api.commandPath(head.path) { return (api, path) }
        }
        return nil
    }

    /// The client API endpoint a request is for, with its path bindings.
    func clientEndpoint(for head: HTTPRequestHead) -> (api: ClientAPI, endpoint: ClientAPI.Endpoint, bindings: [String: String])? {
        guard let clientAPI, let (endpoint, bindings) = clientAPI.endpoint(path: head.path, host: head.hostName) else { return nil }
        return (clientAPI, endpoint, bindings)
    }

    /// The API documentation route of a request, if it is one.
    func docsRoute(for head: HTTPRequestHead) -> APIDocs.Route? {
        docs?.route(head.path, host: head.hostName)
    }

    /// The BOSH sessions, when the request is for a `mod_bosh` path.
    func bosh(for head: HTTPRequestHead) -> BOSHService? {
        boshHandlers.contains { Self.matches($0, head) } ? bosh : nil
    }

    static func matches(_ handler: HTTPHandlerConfig, _ head: HTTPRequestHead) -> Bool {
        handler.path == head.path && handler.serves(host: head.hostName)
    }

    static func offersXMPP(_ head: HTTPRequestHead) -> Bool {
        head.headers["Sec-WebSocket-Protocol"].flatMap { $0.split(separator: ",") }
            .contains { $0.trimmingCharacters(in: .whitespaces) == "xmpp" }
    }

    /// "Example.COM:5280" → "example.com"; "[::1]:5280" → "[::1]".
    static func hostName(_ header: String) -> String {
        let lower = header.lowercased()
        if lower.hasPrefix("[") { return lower.split(separator: "]").first.map { $0 + "]" } ?? lower }
        return lower.split(separator: ":").first.map(String.init) ?? lower
    }
}

extension HTTPListener.WebSocketRoute {
    /// The upgraded channel: frames are reassembled, translated, and handed to c2s.
    func install(on channel: Channel) throws {
        let maxSize = min(options.maxStanzaSize.intValue ?? HTTPListener.maxMessageSize, HTTPListener.maxMessageSize)
        let framing = WebSocketFraming(pingInterval: options.pingRate.map { .milliseconds(Int64($0)) },
                                       idleTimeout: options.timeout.intValue.map { .milliseconds(Int64($0)) })
        let pipeline = channel.pipeline.syncOperations
        try pipeline.addHandlers([
            NIOWebSocketFrameAggregator(minNonFinalFragmentSize: 1, maxAccumulatedFrameCount: 1024,
                                        maxAccumulatedFrameSize: maxSize + 1),
            framing,
        ])
        let context = try pipeline.context(handler: framing)
        guard let componentEnv else {
            try pipeline.addHandler(C2SConnection(env: env))
            return framing.activate(context: context)
        }
        let env = self.env
        framing.activate(context: context, firstMessageTimeout: componentEnv.handshakeTimeout) { component in
            component ? ComponentConnection(env: componentEnv) as ChannelHandler : C2SConnection(env: env)
        }
    }
}

extension HTTPRequestHead {
    /// The request's path, without the query string.
    var path: String { uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? uri }
    /// The Host header's name, lowercased and without the port.
    var hostName: String? { headers["Host"].first.map(HTTPListener.hostName) }
}

extension HTTPHandlerConfig {
    /// Whether the handler answers requests for `host` ("_" is any host).
    func serves(host: String?) -> Bool { self.host == "_" || self.host.lowercased() == host }
}
