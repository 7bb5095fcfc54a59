// One `[[listen.<type>]]` entry, with the options common to all listener types at the top
// level and the type-specific options in exactly one of the optional fields.

public enum ListenerType: String, Codable, Hashable, Sendable, CaseIterable {
    case c2s, s2s, service, http
}

public enum TransportProtocol: String, Codable, Hashable, Sendable {
    case tcp, udp
}

public struct ListenerConfig: Codable, Equatable, Hashable, Sendable {
    public var type: ListenerType
    /// 1-based position within its type, for key paths (`listen.c2s[2]`).
    public var index: Int
    public var port: Int
    /// Normalised textual form (inet_ntop of the parsed address).
    public var ipAddress: String
    /// 4 or 6.
    public var ipVersion: Int
    /// Always `.tcp` after validation: every listener type is TCP-only.
    public var proto: TransportProtocol
    /// c2s, s2s and service only.
    public var xmpp: XMPPListenerOptions?
    public var c2s: C2SOptions?
    public var s2s: S2SOptions?
    public var service: ServiceOptions?
    public var http: HTTPOptions?

    public init(type: ListenerType, index: Int, port: Int, ipAddress: String = "0.0.0.0", ipVersion: Int = 4,
                proto: TransportProtocol = .tcp, xmpp: XMPPListenerOptions? = nil, c2s: C2SOptions? = nil,
                s2s: S2SOptions? = nil, service: ServiceOptions? = nil, http: HTTPOptions? = nil) {
        self.type = type
        self.index = index
        self.port = port
        self.ipAddress = ipAddress
        self.ipVersion = ipVersion
        self.proto = proto
        self.xmpp = xmpp
        self.c2s = c2s
        self.s2s = s2s
        self.service = service
        self.http = http
    }

    public var keyPath: String { "listen.\(type.rawValue)[\(index)]" }

    /// Identity of the listening socket: two listeners with the same bindKey are a conflict,
    /// and a reload keeps a socket whose bindKey is unchanged.
    public var bindKey: String { "\(proto.rawValue)://\(ipVersion == 6 ? "[\(ipAddress)]" : ipAddress):\(port)" }

    public var backlog: Int { xmpp?.backlog ?? 1024 }
}
