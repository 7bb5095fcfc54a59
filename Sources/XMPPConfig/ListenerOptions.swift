// Typed options of the XMPP listener types (c2s, s2s, service), defaults as documented
// in MongooseIM's `listen` section.

/// "XMPP listener options", shared by c2s, s2s and service listeners.
public struct XMPPListenerOptions: Codable, Equatable, Hashable, Sendable {
    public var backlog: Int = 100
    public var proxyProtocol: Bool = false
    /// 0 = hibernate at every opportunity.
    public var hibernateAfterMs: Int = 0
    /// nil = unlimited.
    public var maxStanzaSize: Int? = nil
    public var numAcceptors: Int = 100
    /// nil = use general.max_fsm_queue (ignored for s2s, as in MongooseIM).
    public var maxFSMQueue: Int? = nil

    public init() {}
}

public enum TLSMode: String, Codable, Hashable, Sendable, CaseIterable {
    case tls
    case starttls
    case starttlsRequired = "starttls_required"
}

public enum TLSModule: String, Codable, Hashable, Sendable, CaseIterable {
    case fastTLS = "fast_tls"
    case justTLS = "just_tls"
}

public enum TLSVerifyMode: String, Codable, Hashable, Sendable, CaseIterable {
    case peer
    case selfsignedPeer = "selfsigned_peer"
    case none
}

/// One element of an Erlang-style cipher suite list (`{cipher = ..., key_exchange = ..., ...}`).
public struct TLSCipherSuite: Codable, Equatable, Hashable, Sendable {
    public var cipher: String?
    public var keyExchange: String?
    public var mac: String?
    public var prf: String?

    public init(cipher: String? = nil, keyExchange: String? = nil, mac: String? = nil, prf: String? = nil) {
        self.cipher = cipher
        self.keyExchange = keyExchange
        self.mac = mac
        self.prf = prf
    }
}

/// `listen.c2s.tls.*`. Options that exist for only one TLS module are nil for the other.
public struct C2STLSOptions: Codable, Equatable, Hashable, Sendable {
    /// nil = no encryption.
    public var mode: TLSMode? = nil
    public var verifyPeer: Bool = false
    public var module: TLSModule = .fastTLS
    public var certfile: String? = nil
    public var cacertfile: String? = nil
    public var dhfile: String? = nil
    /// fast_tls only; default ["no_sslv2", "no_sslv3", "no_tlsv1", "no_tlsv1_1"].
    public var protocolOptions: [String]? = C2STLSOptions.defaultProtocolOptions
    /// fast_tls only: OpenSSL cipher string; default "TLSv1.2:TLSv1.3".
    public var ciphers: String? = C2STLSOptions.defaultCiphers
    /// just_tls only: `tls.ciphers` as cipher suite tables; nil = all supported.
    public var cipherSuites: [TLSCipherSuite]? = nil
    /// just_tls only.
    public var verifyMode: TLSVerifyMode? = nil
    /// just_tls only; default true.
    public var disconnectOnFailure: Bool? = nil
    /// just_tls only; nil = all supported.
    public var versions: [String]? = nil
    /// just_tls only.
    public var crlFiles: [String]? = nil

    public static let defaultProtocolOptions = ["no_sslv2", "no_sslv3", "no_tlsv1", "no_tlsv1_1"]
    public static let defaultCiphers = "TLSv1.2:TLSv1.3"

    public init() {}
}

/// `[[listen.c2s]]`.
public struct C2SOptions: Codable, Equatable, Hashable, Sendable {
    public var access: String = "all"
    public var shaper: String = "none"
    /// Decompressed size limit; nil = zlib disabled.
    public var zlib: Int? = nil
    public var tls: C2STLSOptions = C2STLSOptions()

    public init() {}
}

/// `listen.s2s.tls.*`.
public struct S2STLSOptions: Codable, Equatable, Hashable, Sendable {
    public var cacertfile: String? = nil
    public var dhfile: String? = nil
    public var ciphers: String = C2STLSOptions.defaultCiphers

    public init() {}
}

/// `[[listen.s2s]]`.
public struct S2SOptions: Codable, Equatable, Hashable, Sendable {
    public var shaper: String = "none"
    public var tls: S2STLSOptions = S2STLSOptions()

    public init() {}
}

public enum ConflictBehaviour: String, Codable, Hashable, Sendable, CaseIterable {
    case disconnect
    case kickOld = "kick_old"
}

/// `[[listen.service]]` (XEP-0114 components), also used for `mod_websockets.service`.
public struct ServiceOptions: Codable, Equatable, Hashable, Sendable {
    public var access: String = "all"
    /// Mandatory in the config.
    public var password: String
    public var shaperRule: String = "none"
    public var checkFrom: Bool = true
    public var hiddenComponents: Bool = false
    public var conflictBehaviour: ConflictBehaviour = .disconnect

    public init(password: String) { self.password = password }
}
