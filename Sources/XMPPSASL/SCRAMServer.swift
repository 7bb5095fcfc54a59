/// Server side of SCRAM-SHA-1 / SCRAM-SHA-256 (RFC 5802, RFC 7677), and their -PLUS
/// variants with channel binding (tls-exporter, RFC 9266; tls-server-end-point, RFC 5929).
///
/// Exchange: client-first → challenge(server-first) → client-final → success(server-final).
/// Unknown users get deterministic fake credentials and walk the same path, so neither the
/// server-first message nor the number of steps reveals whether an account exists; the
/// final answer is not-authorized in both cases.
///
/// One instance per authentication attempt; not thread-safe. Any failure ends the exchange.
public final class SCRAMServer: SASLServerMechanism {
    public let hash: SCRAMHash
    /// SCRAM-*-PLUS: the client must bind to the TLS channel.
    public let plus: Bool
    public var mechanismName: String { hash.mechanismName + (plus ? "-PLUS" : "") }
    /// Channel binding data of this connection by type ("tls-exporter", ...); empty
    /// without TLS. When not empty the server offers -PLUS, so a client saying "y"
    /// (it could bind but believes the server cannot) is a downgrade and refused.
    private let channelBindings: [String: [UInt8]]

    private let lookup: CredentialLookup
    private let domain: String?
    private let makeServerNonce: () -> String
    private let unknownUserIterations: Int

    private enum State {
        case initial
        case awaitingClientFirst
        case awaitingClientFinal(Pending)
        case finished
    }

    private struct Pending {
        var clientFirst: SCRAMClientFirst
        var serverFirst: String
        var nonce: String
        var credentials: SCRAMCredentials
        var userExists: Bool
    }

    private var state = State.initial

    /// - Parameters:
    ///   - lookup: returns the user's credentials for `hash`; credentials of another hash
    ///     count as an unknown user.
    ///   - domain: the host the stream is for; an authzid is accepted only when it equals
    ///     "username@domain" (case-insensitively). With nil, any authzid is refused.
    ///   - unknownUserIterations: iteration count announced for unknown users; set it to
    ///     the count real accounts use so the two cannot be told apart.
    ///   - serverNonce: generates the server's nonce part; override only in tests.
    public init(hash: SCRAMHash,
                lookup: @escaping CredentialLookup,
                domain: String? = nil,
                plus: Bool = false,
                channelBindings: [String: [UInt8]] = [:],
                unknownUserIterations: Int = SCRAMCredentials.defaultIterations,
                serverNonce: @escaping () -> String = SCRAMServer.randomNonce) {
        self.hash = hash
        self.plus = plus
        self.channelBindings = channelBindings
        self.lookup = lookup
        self.domain = domain
        self.unknownUserIterations = unknownUserIterations
        self.makeServerNonce = serverNonce
    }

    /// 18 random bytes in base64: 144 bits, printable and free of ",".
    public static func randomNonce() -> String {
        Base64.encode(SASLCrypto.randomBytes(18))
    }

    public func start(initialResponse: [UInt8]?) -> SASLStep {
        guard case .initial = state else { return fail(.malformedRequest, "exchange already started") }
        guard let initialResponse else {
            // No initial response: ask for client-first with an empty challenge.
            state = .awaitingClientFirst
            return .challenge([])
        }
        return handleClientFirst(initialResponse)
    }

    public func respond(_ response: [UInt8]) -> SASLStep {
        switch state {
        case .initial:
            return fail(.malformedRequest, "response before auth")
        case .awaitingClientFirst:
            return handleClientFirst(response)
        case .awaitingClientFinal(let pending):
            return handleClientFinal(response, pending)
        case .finished:
            return fail(.malformedRequest, "exchange already finished")
        }
    }

    private func handleClientFirst(_ bytes: [UInt8]) -> SASLStep {
        let clientFirst: SCRAMClientFirst
        do {
            clientFirst = try SCRAMMessages.parseClientFirst(bytes)
        } catch let error as SCRAMParseError {
            return fail(error.failure, error.text)
        } catch {
            return fail(.malformedRequest, nil)
        }
        switch clientFirst.bindingFlag {
        case .required(let type):
            guard plus else { return fail(.malformedRequest, "channel binding requested with a non-PLUS mechanism") }
            guard channelBindings[type] != nil else {
                return fail(.malformedRequest, "channel binding type \(type) is not supported here")
            }
        case .none, .supportedByClient:
            if plus { return fail(.malformedRequest, "SCRAM-*-PLUS requires channel binding") }
            if clientFirst.bindingFlag == .supportedByClient && !channelBindings.isEmpty {
                // RFC 5802 §6: we do offer binding, so "y" means someone stripped -PLUS.
                return fail(.notAuthorized, "channel binding downgrade detected")
            }
        }
        if let authzid = clientFirst.authzid {
            // Depends only on what the client sent, not on whether the user exists.
            guard let domain, authzid.lowercased() == "\(clientFirst.username)@\(domain)".lowercased() else {
                return fail(.invalidAuthzid, "authzid must be absent or the authenticating user's bare JID")
            }
        }

        var credentials: SCRAMCredentials
        var userExists = false
        if let stored = lookup(clientFirst.username), stored.hash == hash {
            credentials = stored
            userExists = true
        } else {
            credentials = FakeCredentials.make(username: clientFirst.username, hash: hash,
                                               iterations: unknownUserIterations)
        }
        if credentials.iterations < 1 { credentials.iterations = 1 }

        let nonce = clientFirst.clientNonce + makeServerNonce()
        let serverFirst = "r=\(nonce),s=\(Base64.encode(credentials.salt)),i=\(credentials.iterations)"
        state = .awaitingClientFinal(Pending(clientFirst: clientFirst, serverFirst: serverFirst, nonce: nonce,
                                             credentials: credentials, userExists: userExists))
        return .challenge(Array(serverFirst.utf8))
    }

    private func handleClientFinal(_ bytes: [UInt8], _ pending: Pending) -> SASLStep {
        let final: SCRAMClientFinal
        do {
            final = try SCRAMMessages.parseClientFinal(bytes)
        } catch let error as SCRAMParseError {
            return fail(error.failure, error.text)
        } catch {
            return fail(.malformedRequest, nil)
        }
        // c= is the gs2 header verbatim, followed by the channel's binding data with -PLUS.
        var expectedBinding = Array(pending.clientFirst.gs2Header.utf8)
        if case .required(let type) = pending.clientFirst.bindingFlag { expectedBinding += channelBindings[type] ?? [] }
        guard SASLCrypto.constantTimeEqual(final.channelBinding, expectedBinding) else {
            return fail(.malformedRequest, "channel binding does not match the gs2 header")
        }
        guard final.nonce == pending.nonce else {
            return fail(.malformedRequest, "nonce mismatch")
        }

        let credentials = pending.credentials
        let authMessage = Array("\(pending.clientFirst.bare),\(pending.serverFirst),\(final.withoutProof)".utf8)
        // ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage); valid iff H(ClientKey) == StoredKey.
        let clientSignature = SASLCrypto.hmac(hash, key: credentials.storedKey, data: authMessage)
        let proofValid: Bool
        if final.proof.count == clientSignature.count {
            let clientKey = SASLCrypto.xor(final.proof, clientSignature)
            proofValid = SASLCrypto.constantTimeEqual(SASLCrypto.hash(hash, clientKey), credentials.storedKey)
        } else {
            proofValid = false
        }
        guard proofValid && pending.userExists else {
            return fail(.notAuthorized, nil)
        }

        let serverSignature = SASLCrypto.hmac(hash, key: credentials.serverKey, data: authMessage)
        state = .finished
        return .success(username: pending.clientFirst.username,
                        additionalData: Array("v=\(Base64.encode(serverSignature))".utf8))
    }

    private func fail(_ failure: SASLFailure, _ text: String?) -> SASLStep {
        state = .finished
        return .failure(failure, text: text)
    }
}

/// Stand-in credentials for unknown users: stable per username for the life of the process
/// (a repeated probe sees the same salt, as it would for a real account), yet unpredictable
/// to clients because they are keyed with a per-process random secret.
enum FakeCredentials {
    private static let secret = SASLCrypto.randomBytes(32)

    static func make(username: String, hash: SCRAMHash, iterations: Int) -> SCRAMCredentials {
        let seed = SASLCrypto.hmac(.sha256, key: secret, data: Array("\(hash.rawValue)\u{0}\(username)".utf8))
        let salt = Array(seed.prefix(16))
        // Random-looking keys; no password produces them, so no proof can match.
        let storedKey = SASLCrypto.hmac(hash, key: seed, data: Array("stored".utf8))
        let serverKey = SASLCrypto.hmac(hash, key: seed, data: Array("server".utf8))
        return SCRAMCredentials(hash: hash, salt: salt, iterations: iterations,
                                storedKey: storedKey, serverKey: serverKey)
    }
}
