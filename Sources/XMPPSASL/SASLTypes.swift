// Shared vocabulary of the SASL layer: the c2s stream code (XMPPServer) drives
// any mechanism through `SASLServerMechanism` and maps `SASLStep` onto
// <challenge/>, <success/> and <failure/> elements (RFC 6120 §6.4).

/// Hash function of a SCRAM family member (RFC 5802, RFC 7677, and the SHA-2 variants
/// MongooseIM offers). The raw value is the IANA hash name, used as the storage key for
/// credentials.
public enum SCRAMHash: String, Codable, Sendable, CaseIterable {
    case sha1 = "SHA-1"
    case sha224 = "SHA-224"
    case sha256 = "SHA-256"
    case sha384 = "SHA-384"
    case sha512 = "SHA-512"

    /// SASL mechanism name as advertised in <mechanisms/>, e.g. "SCRAM-SHA-1".
    public var mechanismName: String { "SCRAM-" + rawValue }

    /// Output length of the hash in bytes.
    public var outputLength: Int {
        switch self {
        case .sha1: return 20
        case .sha224: return 28
        case .sha256: return 32
        case .sha384: return 48
        case .sha512: return 64
        }
    }

    /// MongooseIM's name in `auth.password.hash`: "sha" is SHA-1.
    public var configName: String { self == .sha1 ? "sha" : "sha" + rawValue.dropFirst(4) }

    public init?(configName name: String) {
        guard let hash = SCRAMHash.allCases.first(where: { $0.configName == name }) else { return nil }
        self = hash
    }

    /// The SCRAM hash whose mechanism name is `name` (case-sensitive, as SASL names are).
    public init?(mechanismName name: String) {
        guard let hash = SCRAMHash.allCases.first(where: { $0.mechanismName == name }) else { return nil }
        self = hash
    }
}

/// The defined SASL failure conditions of RFC 6120 §6.5; the raw value is the element name.
public enum SASLFailure: String, Error, Sendable {
    case aborted
    case accountDisabled = "account-disabled"
    case credentialsExpired = "credentials-expired"
    case encryptionRequired = "encryption-required"
    case incorrectEncoding = "incorrect-encoding"
    case invalidAuthzid = "invalid-authzid"
    case invalidMechanism = "invalid-mechanism"
    case malformedRequest = "malformed-request"
    case mechanismTooWeak = "mechanism-too-weak"
    case notAuthorized = "not-authorized"
    case temporaryAuthFailure = "temporary-auth-failure"
}

/// What the server sends next. Payloads are raw bytes; base64 for the wire is the caller's job.
public enum SASLStep: Sendable {
    /// Send <challenge/> with these bytes (empty array → "=" on the wire).
    case challenge([UInt8])
    /// Authentication succeeded for `username` (the authcid as sent, saslname-decoded).
    /// `additionalData` goes into <success/> (SCRAM's server-final message).
    case success(username: String, additionalData: [UInt8]?)
    /// Authentication failed; `text` is an optional human-readable explanation.
    case failure(SASLFailure, text: String?)
}

/// A server-side SASL mechanism instance: one object per authentication attempt.
/// Not thread-safe; it belongs to the connection that created it.
public protocol SASLServerMechanism: AnyObject {
    /// Called for <auth/>. `initialResponse` is nil when the client sent none,
    /// and an empty array when it sent "=" (an empty initial response).
    func start(initialResponse: [UInt8]?) -> SASLStep
    /// Called for each <response/>.
    func respond(_ response: [UInt8]) -> SASLStep
}

/// Looks up the stored credentials of `username` (the authcid as sent, saslname-decoded;
/// the caller normalises and maps it to an account). Returns nil for an unknown user.
///
/// `SCRAMServer(hash:lookup:)` expects credentials of its own hash; credentials of
/// another hash are treated like an unknown user. `PLAINServer` accepts credentials of
/// any hash, as they carry their hash, salt and iteration count (prefer SHA-256).
public typealias CredentialLookup = (_ username: String) -> SCRAMCredentials?
