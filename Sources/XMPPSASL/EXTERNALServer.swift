/// SASL EXTERNAL for XMPP (XEP-0178): the verified TLS client certificate names the
/// account in its xmppAddr fields; the client may name one of them as authzid.
public final class EXTERNALServer: SASLServerMechanism {
    private let certificateIdentities: [String]
    private let domain: String
    private let accountExists: (String) -> Bool
    private var finished = false

    /// - Parameters:
    ///   - certificateIdentities: the xmppAddr values of a certificate that passed
    ///     verification (empty when there is none: every attempt then fails).
    ///   - accountExists: whether a local user name has an account.
    public init(certificateIdentities: [String], domain: String, accountExists: @escaping (String) -> Bool) {
        self.certificateIdentities = certificateIdentities.map { $0.lowercased() }
        self.domain = domain.lowercased()
        self.accountExists = accountExists
    }

    public func start(initialResponse: [UInt8]?) -> SASLStep {
        // No initial response: ask for the (possibly empty) authzid.
        guard let initialResponse else { return .challenge([]) }
        return respond(initialResponse)
    }

    public func respond(_ response: [UInt8]) -> SASLStep {
        guard !finished else { return .failure(.malformedRequest, text: "exchange already finished") }
        finished = true
        let requested = String(decoding: response, as: UTF8.self).lowercased()
        // Identities of this server's domain; the requested one, or the only one.
        let candidates = certificateIdentities.filter { $0.hasSuffix("@" + domain) }
        let identity: String
        if requested.isEmpty {
            guard candidates.count == 1 else {
                return .failure(.invalidAuthzid, text: candidates.isEmpty
                    ? "the certificate names no account of \(domain)" : "the certificate names several accounts: give one")
            }
            identity = candidates[0]
        } else {
            guard candidates.contains(requested) else {
                return .failure(.invalidAuthzid, text: "the certificate does not name \(requested)")
            }
            identity = requested
        }
        let user = String(identity.dropLast(domain.count + 1))
        guard accountExists(user) else { return .failure(.notAuthorized, text: nil) }
        return .success(username: user, additionalData: nil)
    }
}
