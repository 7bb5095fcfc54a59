import XMPPConfig

/// TLS protocol versions, with OpenSSL's wire numbers (TLS1_x_VERSION).
public enum TLSVersion: String, Sendable, CaseIterable, Comparable {
    case tlsv1 = "tlsv1"
    case tlsv1_1 = "tlsv1.1"
    case tlsv1_2 = "tlsv1.2"
    case tlsv1_3 = "tlsv1.3"

    var openSSLValue: Int {
        switch self {
        case .tlsv1: return 0x0301
        case .tlsv1_1: return 0x0302
        case .tlsv1_2: return 0x0303
        case .tlsv1_3: return 0x0304
        }
    }

    public static func < (a: TLSVersion, b: TLSVersion) -> Bool { a.openSSLValue < b.openSSLValue }
}

/// Which peers a verifying endpoint accepts (just_tls `verify_mode`).
public enum TLSPeerVerification: Sendable, Equatable {
    /// Do not ask for / check the peer certificate.
    case none
    /// Ask for a certificate, and require one that chains to the CA file.
    case peer
    /// Like `.peer`, but a self-signed peer certificate is also accepted.
    case selfSignedPeer
    /// Ask for a certificate and verify it, but never fail the handshake because of it:
    /// the result is reported in `TLSHandshakeCompleted` for the SASL layer to judge
    /// (just_tls `disconnect_on_failure = false`, and fast_tls' behaviour).
    case report
    /// Accept any certificate (just_tls `verify_mode = "none"` with `verify_peer`).
    case acceptAny
}

/// Everything needed to build one `TLSContext`, independent of the config file's shape.
/// Paths are used as given; `TLSContext` resolves relative ones against a base directory.
public struct TLSConfiguration: Sendable, Equatable {
    public enum Role: Sendable, Equatable { case server, client }

    public var role: Role
    /// PEM with the certificate, then its chain; it also holds the key when `privateKeyFile` is nil
    /// (fast_tls' "certfile": chain and key in one file).
    public var certificateChainFile: String?
    public var privateKeyFile: String?
    public var privateKeyPassword: String?
    /// Trust anchors for verifying the peer.
    public var caFile: String?
    /// Diffie-Hellman parameters (PEM) for DHE cipher suites in TLS ≤ 1.2.
    public var dhFile: String?
    /// fast_tls style OpenSSL option names ("no_tlsv1_1", "cipher_server_preference", ...).
    public var protocolOptions: [String]
    /// OpenSSL cipher string; "TLS_*" names go to the TLS 1.3 suites, the rest to the ≤1.2 list.
    public var cipherString: String?
    /// just_tls cipher suite tables, mapped onto OpenSSL ciphers.
    public var cipherSuites: [TLSCipherSuite]?
    /// Allowed versions; nil = what OpenSSL allows. Only min and max matter (OpenSSL has no holes).
    public var versions: [TLSVersion]?
    public var verification: TLSPeerVerification
    /// PEM CRLs; when non-empty the peer's certificate is checked against them.
    public var crlFiles: [String]
    /// Server side: TLS 1.3 connections drop OpenSSL's per-connection state after the
    /// handshake and continue on `TLS13Session` (`[xmppd] compact_tls_sessions`).
    public var compactSessions = false

    public init(role: Role,
                certificateChainFile: String? = nil, privateKeyFile: String? = nil,
                privateKeyPassword: String? = nil, caFile: String? = nil, dhFile: String? = nil,
                protocolOptions: [String] = [], cipherString: String? = nil,
                cipherSuites: [TLSCipherSuite]? = nil, versions: [TLSVersion]? = nil,
                verification: TLSPeerVerification = .none, crlFiles: [String] = []) {
        self.role = role
        self.certificateChainFile = certificateChainFile
        self.privateKeyFile = privateKeyFile
        self.privateKeyPassword = privateKeyPassword
        self.caFile = caFile
        self.dhFile = dhFile
        self.protocolOptions = protocolOptions
        self.cipherString = cipherString
        self.cipherSuites = cipherSuites
        self.versions = versions
        self.verification = verification
        self.crlFiles = crlFiles
    }

    /// Parses just_tls / Erlang version names ("tlsv1.2"); unknown ones are a configuration error.
    public static func parseVersions(_ names: [String]) throws -> [TLSVersion] {
        try names.map { name in
            guard let v = TLSVersion(rawValue: name.lowercased()) else {
                throw TLSConfigurationError(.version, "unknown TLS version \"\(name)\" in tls.versions; supported: \(TLSVersion.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return v
        }
    }
}
