/// Namespace names used throughout the server, so that no module spells them by hand.
public enum XMPPNamespace {
    public static let client = "jabber:client"
    public static let server = "jabber:server"
    public static let stream = "http://etherx.jabber.org/streams"
    public static let streams = "urn:ietf:params:xml:ns:xmpp-streams"
    public static let stanzas = "urn:ietf:params:xml:ns:xmpp-stanzas"
    public static let sasl = "urn:ietf:params:xml:ns:xmpp-sasl"
    public static let bind = "urn:ietf:params:xml:ns:xmpp-bind"
    public static let session = "urn:ietf:params:xml:ns:xmpp-session"
    public static let tls = "urn:ietf:params:xml:ns:xmpp-tls"
    /// The namespace bound to the reserved `xml` prefix (for `xml:lang`).
    public static let xml = "http://www.w3.org/XML/1998/namespace"
}
