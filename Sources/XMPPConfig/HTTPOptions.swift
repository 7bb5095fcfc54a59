// Typed options of `[[listen.http]]` listeners and their handlers.

/// A limit that may be "infinity" in the config.
public enum Limit: Codable, Equatable, Hashable, Sendable {
    case infinity
    case value(Int)

    /// nil for infinity.
    public var intValue: Int? {
        if case .value(let n) = self { return n }
        return nil
    }
}

public struct HTTPTransportOptions: Codable, Equatable, Hashable, Sendable {
    public var numAcceptors: Int = 100
    public var maxConnections: Limit = .value(1024)

    public init() {}
}

/// `listen.http.tls.*` (Erlang ssl options). nil in HTTPOptions means plain HTTP.
public struct HTTPTLSOptions: Codable, Equatable, Hashable, Sendable {
    public var verifyPeer: Bool = false
    public var verifyMode: TLSVerifyMode? = nil
    public var certfile: String? = nil
    public var cacertfile: String? = nil
    public var dhfile: String? = nil
    public var keyfile: String? = nil
    public var password: String? = nil
    public var ciphers: [TLSCipherSuite]? = nil
    public var versions: [String]? = nil

    public init() {}
}

/// `mod_websockets` handler options.
public struct WebSocketHandlerOptions: Codable, Equatable, Hashable, Sendable {
    /// Inactivity timeout in ms; default infinity.
    public var timeout: Limit = .infinity
    /// Server ping interval in ms; nil = "none" (no server pings, the default).
    public var pingRate: Int? = nil
    public var maxStanzaSize: Limit = .infinity
    /// Components over WebSocket; nil = not enabled.
    public var service: WebSocketServiceOptions? = nil

    public init() {}
}

/// `mod_websockets.service`: the service listener options minus the socket ones.
public struct WebSocketServiceOptions: Codable, Equatable, Hashable, Sendable {
    public var service: ServiceOptions
    public var xmpp: XMPPListenerOptions

    public init(service: ServiceOptions, xmpp: XMPPListenerOptions = XMPPListenerOptions()) {
        self.service = service
        self.xmpp = xmpp
    }
}

/// The handler-type-specific part of an HTTP handler.
public enum HTTPHandlerOptions: Codable, Equatable, Hashable, Sendable {
    case bosh
    case websockets(WebSocketHandlerOptions)
    /// `mongoose_api_admin`: username and password are both set or both nil.
    case apiAdmin(username: String?, password: String?)
    /// `mongoose_api` (metrics): Erlang handler modules.
    case metricsAPI(handlers: [String])
    /// `lasse_handler` (SSE).
    case lasse(module: String)
    case swaggerRedirect
    case swaggerJSON
    case cowboyStatic(type: String?, app: String?, contentPath: String?)
    /// Any `mongoose_client_api_*` handler: host and path only.
    case clientAPI
}

/// One `[[listen.http.handlers.<type>]]` entry.
public struct HTTPHandlerConfig: Codable, Equatable, Hashable, Sendable {
    /// The handler type as written, e.g. "mod_bosh", "mongoose_client_api_messages".
    public var type: String
    /// 1-based within its type in this listener, for key paths.
    public var index: Int
    /// Host name or "_" for any host.
    public var host: String
    public var path: String
    public var options: HTTPHandlerOptions

    public init(type: String, index: Int, host: String, path: String, options: HTTPHandlerOptions) {
        self.type = type
        self.index = index
        self.host = host
        self.path = path
        self.options = options
    }

    /// Handler types with a fixed name; `mongoose_client_api_*` is accepted by prefix.
    public static let knownTypes = [
        "mod_bosh", "mod_websockets", "mongoose_api_admin", "mongoose_api", "lasse_handler",
        "cowboy_swagger_redirect_handler", "cowboy_swagger_json_handler", "cowboy_static",
    ]
    public static let clientAPIPrefix = "mongoose_client_api_"
}

/// `[[listen.http]]`.
public struct HTTPOptions: Codable, Equatable, Hashable, Sendable {
    /// In file order.
    public var handlers: [HTTPHandlerConfig] = []
    public var transport: HTTPTransportOptions = HTTPTransportOptions()
    /// nil = plain HTTP.
    public var tls: HTTPTLSOptions? = nil
    /// `protocol.compress`.
    public var compress: Bool = false

    public init() {}
}
