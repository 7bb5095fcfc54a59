/// The opening `<stream:stream>` tag of an XMPP stream.
public struct XMLStreamHeader: Sendable, Equatable {
    /// Local name of the root element (always "stream" once validated).
    public var name: String
    /// Namespace of the root element (always `XMPPNamespace.stream` once validated).
    public var namespace: String
    /// Prefix the root was written with ("stream" usually; nil if unprefixed).
    public var prefix: String?
    /// Default namespace declared on the root, e.g. `jabber:client`.
    public var defaultNamespace: String?
    /// Attributes by qualified name: `to`, `from`, `version`, `id`, `xml:lang` …
    public var attributes: [String: String]
    /// All namespace declarations on the root: prefix → URI ("" is the default namespace).
    public var namespaces: [String: String]

    public init(name: String = "stream", namespace: String = XMPPNamespace.stream, prefix: String? = "stream",
                defaultNamespace: String?, attributes: [String: String], namespaces: [String: String] = [:]) {
        self.name = name
        self.namespace = namespace
        self.prefix = prefix
        self.defaultNamespace = defaultNamespace
        self.attributes = attributes
        self.namespaces = namespaces
    }
}

/// What the stream parser reports, in document order.
public enum XMLStreamEvent: Sendable, Equatable {
    case streamOpened(XMLStreamHeader)
    /// A complete depth-1 element: stanza (message/presence/iq) or nonza (auth, starttls …).
    case element(XMLElement)
    case streamClosed
}

/// Stream-level failures, each mapping to an RFC 6120 §4.9.3 stream error condition.
public enum XMLStreamError: Error, Equatable, Sendable {
    case notWellFormed(String)
    case restrictedXML(String)
    case policyViolation(String)
    case invalidNamespace(String)
    case badFormat(String)

    /// Element name of the `urn:ietf:params:xml:ns:xmpp-streams` condition to send.
    public var condition: String {
        switch self {
        case .notWellFormed: return "not-well-formed"
        case .restrictedXML: return "restricted-xml"
        case .policyViolation: return "policy-violation"
        case .invalidNamespace: return "invalid-namespace"
        case .badFormat: return "bad-format"
        }
    }

    /// Human-readable detail (for logs, or the optional `<text/>` of the stream error).
    public var detail: String {
        switch self {
        case .notWellFormed(let d), .restrictedXML(let d), .policyViolation(let d),
             .invalidNamespace(let d), .badFormat(let d):
            return d
        }
    }
}
