/// A parsed PLAIN message (RFC 4616): `[authzid] NUL authcid NUL passwd`.
public struct PLAINMessage: Equatable, Sendable {
    public var authzid: String?
    public var authcid: String
    public var password: String
}

/// Parsing and verification for SASL PLAIN, separate from the state machine so that
/// other code paths (e.g. an admin CLI checking a password) can reuse them.
public enum PLAINAuthenticator {
    /// Splits and validates a PLAIN message. authzid may be empty (→ nil);
    /// authcid and password must not be; all parts must be UTF-8.
    public static func parse(_ bytes: [UInt8]) -> Result<PLAINMessage, SASLFailure> {
        let parts = bytes.split(separator: 0, omittingEmptySubsequences: false)
        guard parts.count == 3 else { return .failure(.malformedRequest) }
        guard let authzid = String(validating: parts[0], as: UTF8.self),
              let authcid = String(validating: parts[1], as: UTF8.self),
              let password = String(validating: parts[2], as: UTF8.self) else {
            return .failure(.incorrectEncoding)
        }
        guard !authcid.isEmpty, !password.isEmpty else { return .failure(.malformedRequest) }
        return .success(PLAINMessage(authzid: authzid.isEmpty ? nil : authzid, authcid: authcid, password: password))
    }

    /// Derives from `password` with the stored salt and iteration count and compares
    /// StoredKey in constant time. Works with credentials of either hash.
    public static func verify(password: String, against credentials: SCRAMCredentials) -> Bool {
        credentials.verify(password: password)
    }
}

/// Server side of SASL PLAIN. Only offer it over TLS: the password crosses the wire.
///
/// The lookup may return credentials of either hash (prefer SHA-256); they carry their own
/// salt and iteration count. Unknown users are checked against fake credentials so that
/// the response time does not reveal whether the account exists.
///
/// One instance per authentication attempt; not thread-safe.
public final class PLAINServer: SASLServerMechanism {
    public let mechanismName = "PLAIN"

    private let lookup: CredentialLookup
    private let domain: String?
    private let unknownUserIterations: Int
    private var finished = false
    private var started = false

    /// - Parameters:
    ///   - domain: as for `SCRAMServer`: an authzid is accepted only if it is "authcid@domain".
    ///   - unknownUserIterations: the PBKDF2 cost spent on unknown users; match real accounts.
    public init(lookup: @escaping CredentialLookup,
                domain: String? = nil,
                unknownUserIterations: Int = SCRAMCredentials.defaultIterations) {
        self.lookup = lookup
        self.domain = domain
        self.unknownUserIterations = unknownUserIterations
    }

    public func start(initialResponse: [UInt8]?) -> SASLStep {
        guard !started, !finished else { return fail(.malformedRequest, "exchange already started") }
        started = true
        // PLAIN is client-first; without an initial response ask for one with an empty challenge.
        guard let initialResponse else { return .challenge([]) }
        return authenticate(initialResponse)
    }

    public func respond(_ response: [UInt8]) -> SASLStep {
        guard started, !finished else { return fail(.malformedRequest, "response outside an exchange") }
        return authenticate(response)
    }

    private func authenticate(_ bytes: [UInt8]) -> SASLStep {
        let message: PLAINMessage
        switch PLAINAuthenticator.parse(bytes) {
        case .success(let m): message = m
        case .failure(let failure): return fail(failure, "invalid PLAIN message")
        }
        if let authzid = message.authzid {
            guard let domain, authzid.lowercased() == "\(message.authcid)@\(domain)".lowercased() else {
                return fail(.invalidAuthzid, "authzid must be absent or the authenticating user's bare JID")
            }
        }
        let stored = lookup(message.authcid)
        let credentials = stored ?? FakeCredentials.make(username: message.authcid, hash: .sha256,
                                                         iterations: unknownUserIterations)
        let valid = PLAINAuthenticator.verify(password: message.password, against: credentials)
        guard valid, stored != nil else { return fail(.notAuthorized, nil) }
        finished = true
        return .success(username: message.authcid, additionalData: nil)
    }

    private func fail(_ failure: SASLFailure, _ text: String?) -> SASLStep {
        finished = true
        return .failure(failure, text: text)
    }
}
