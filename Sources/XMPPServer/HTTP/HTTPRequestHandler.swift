import NIOCore
import NIOHTTP1
import XMPPTransport

/// The HTTP requests of a `[[listen.http]]` listener that are not WebSocket upgrades:
/// BOSH (`mod_bosh` paths: POST a `<body/>`, OPTIONS for CORS), 426 for a WebSocket path
/// asked without the upgrade or the "xmpp" subprotocol (RFC 7395 §3.1), 404 for the
/// rest. BOSH keeps the connection open between requests; the errors close it. A
/// connection that sends no complete request within `HTTPListener.requestTimeout` is
/// closed, so idle sockets cannot pile up; an upgrade removes this handler and its timer.
final class HTTPRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let routes: HTTPListener
    private var request: HTTPRequestHead?
    private var body: ByteBuffer?
    private var timeout: Scheduled<Void>?
    /// The connection carries a server-sent event stream: nothing more is read as requests.
    private var streaming = false
    /// The request being answered takes a gzip body (`protocol.compress` and its
    /// Accept-Encoding).
    private var gzip = false

    /// A BOSH request body may not exceed this.
    static let maxBody = 10 << 20

    init(routes: HTTPListener) { self.routes = routes }

    func handlerAdded(context: ChannelHandlerContext) { armTimeout(context) }

    func handlerRemoved(context: ChannelHandlerContext) { timeout?.cancel() }

    private func armTimeout(_ context: ChannelHandlerContext) {
        timeout?.cancel()
        timeout = context.eventLoop.scheduleTask(in: HTTPListener.requestTimeout) { context.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !streaming else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
            body = nil
        case .body(var chunk):
            guard request != nil else { return }
            if (body?.readableBytes ?? 0) + chunk.readableBytes > Self.maxBody {
                request = nil
                return reply(context, .payloadTooLarge, "request body over \(Self.maxBody) bytes\n", close: true)
            }
            if body == nil { body = chunk } else { body!.writeBuffer(&chunk) }
        case .end:
            guard let head = request else { return }
            request = nil
            timeout?.cancel()
            answer(context, head, body.map { String(buffer: $0) } ?? "")
        }
    }

    private func answer(_ context: ChannelHandlerContext, _ head: HTTPRequestHead, _ text: String) {
        gzip = routes.compress && Self.acceptsGzip(head)
        if let bosh = routes.bosh(for: head) {
            switch head.method {
            case .OPTIONS:
                return reply(context, .ok, "", headers: Self.cors, close: false)
            case .POST:
                let respond = laterReply(context, close: false)
                bosh.handle(text, from: context.remoteAddress, on: context.eventLoop) { status, xml in
                    respond(RESTResponse(status: status, body: xml, headers: Self.cors + [("Content-Type", "text/xml; charset=utf-8")]))
                }
                return
            default:
                return reply(context, .methodNotAllowed, "BOSH (XEP-0124) takes POST\n",
                             headers: [("Allow", "POST, OPTIONS")], close: true)
            }
        }
        if let (api, path) = routes.adminAPI(for: head) {
            return api.handle(method: head.method, path: path, query: JSONBody.queryItems(head.uri),
                              authorization: head.headers["Authorization"].first, body: text,
                              reply: laterReply(context, close: !head.isKeepAlive))
        }
        if let (api, endpoint, bindings) = routes.clientEndpoint(for: head) {
            return answerClientAPI(context, head, text, api: api, endpoint: endpoint, bindings: bindings)
        }
        if let route = routes.docsRoute(for: head), let docs = routes.docs {
            switch route {
            case .json: return reply(context, .ok, docs.description, headers: [("Content-Type", "application/json")], close: !head.isKeepAlive)
            case .page(let jsonPath):
                return reply(context, .ok, APIDocs.page(jsonPath: jsonPath), headers: [("Content-Type", "text/html; charset=utf-8")],
                             close: !head.isKeepAlive)
            case .redirect(let target): return reply(context, .found, "", headers: [("Location", target)], close: !head.isKeepAlive)
            }
        }
        if routes.route(for: head) != nil {
            return reply(context, .upgradeRequired, "this path serves XMPP over WebSocket (RFC 7395): "
                         + "ask for an upgrade with the \"xmpp\" subprotocol\n",
                         headers: [("Upgrade", "websocket"), ("Sec-WebSocket-Protocol", "xmpp")], close: true)
        }
        reply(context, .notFound, "no handler for \(head.uri)\n", close: true)
    }

    /// The client API authenticates every request as the user, then answers it, or for
    /// server-sent events keeps the connection as the event stream.
    private func answerClientAPI(_ context: ChannelHandlerContext, _ head: HTTPRequestHead, _ text: String,
                                 api: ClientAPI, endpoint: ClientAPI.Endpoint, bindings: [String: String]) {
        let loop = context.eventLoop
        let channel = context.channel
        let handler = NIOLoopBound(self, eventLoop: loop)
        let respond = laterReply(context, close: !head.isKeepAlive)
        // The password check runs on the accounts queue; what follows, back on this loop,
        // as for every other request.
        api.backend.authenticate(JSONBody.basicCredentials(head.headers["Authorization"].first)) { user in
            loop.execute {
                guard let user else { return respond(.unauthorized) }
                guard endpoint.kind == .events else {
                    return api.handle(endpoint.kind, method: head.method, bindings: bindings, query: JSONBody.queryItems(head.uri),
                                      user: user, body: text, reply: respond)
                }
                guard head.method == .GET else {
                    return respond(RESTResponse(status: .methodNotAllowed, body: JSONBody.encode("server-sent events take GET")))
                }
                guard channel.isActive else { return }
                handler.value.streaming = true
                EventStream.start(on: channel, for: user, backend: api.backend)
            }
        }
    }

    /// A reply that may come from any thread: written on the connection's loop, if the
    /// connection is still open then.
    private func laterReply(_ context: ChannelHandlerContext, close: Bool) -> @Sendable (RESTResponse) -> Void {
        let loop = context.eventLoop
        let channel = context.channel
        let handler = NIOLoopBound(self, eventLoop: loop)
        let contextBox = NIOLoopBound(context, eventLoop: loop)
        let gzip = self.gzip
        return { response in
            loop.execute {
                guard channel.isActive else { return }
                handler.value.gzip = gzip
                handler.value.reply(contextBox.value, response.status, response.body, headers: response.headers, close: close)
            }
        }
    }

    /// "gzip" among the codings of Accept-Encoding, without q=0.
    static func acceptsGzip(_ head: HTTPRequestHead) -> Bool {
        head.headers["Accept-Encoding"].flatMap { $0.split(separator: ",") }.contains { coding in
            let parts = coding.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            return (parts.first == "gzip" || parts.first == "*") && !parts.dropFirst().contains { $0 == "q=0" || $0 == "q=0.0" }
        }
    }

    /// Bodies smaller than this go as they are: gzip's own 18 bytes would eat the gain.
    static let compressionThreshold = 256

    /// Browsers call BOSH from pages of other origins.
    static let cors: [(String, String)] = [
        ("Access-Control-Allow-Origin", "*"), ("Access-Control-Allow-Methods", "POST, OPTIONS"),
        ("Access-Control-Allow-Headers", "Content-Type"), ("Access-Control-Max-Age", "86400"),
    ]

    private func reply(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, _ text: String,
                       headers extra: [(String, String)] = [], close: Bool) {
        var body = Array(text.utf8)
        var headers = HTTPHeaders()
        if routes.compress { headers.add(name: "Vary", value: "Accept-Encoding") }
        if gzip, body.count >= Self.compressionThreshold, let compressed = GzipBody.compress(body) {
            body = compressed
            headers.add(name: "Content-Encoding", value: "gzip")
        }
        headers.add(name: "Content-Length", value: String(body.count))
        if !extra.contains(where: { $0.0 == "Content-Type" }) { headers.add(name: "Content-Type", value: "text/plain; charset=utf-8") }
        for (name, value) in extra { headers.add(name: name, value: value) }
        if close { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        if !body.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if close {
            done.whenComplete { _ in context.close(promise: nil) }
        } else {
            armTimeout(context)
        }
    }
}
