/// What the server stores for SCRAM (RFC 5802 §3): enough to verify a client proof and
/// to prove itself to the client, but not enough to impersonate the user to another
/// server using the same salt. The plaintext password is never stored.
public struct SCRAMCredentials: Codable, Equatable, Sendable {
    public var hash: SCRAMHash
    public var salt: [UInt8]
    public var iterations: Int
    public var storedKey: [UInt8]
    public var serverKey: [UInt8]

    public init(hash: SCRAMHash, salt: [UInt8], iterations: Int, storedKey: [UInt8], serverKey: [UInt8]) {
        self.hash = hash
        self.salt = salt
        self.iterations = iterations
        self.storedKey = storedKey
        self.serverKey = serverKey
    }

    /// Iteration count used when the caller does not choose one (RFC 7677 recommends ≥ 4096).
    public static let defaultIterations = 4096

    /// SaltedPassword = Hi(SASLprep(password), salt, i); StoredKey = H(HMAC(SaltedPassword,
    /// "Client Key")); ServerKey = HMAC(SaltedPassword, "Server Key").
    public static func derive(password: String, salt: [UInt8], iterations: Int, hash: SCRAMHash) -> SCRAMCredentials {
        let salted = saltedPassword(password: password, salt: salt, iterations: iterations, hash: hash)
        return derive(saltedPassword: salted, salt: salt, iterations: iterations, hash: hash)
    }

    /// New credentials with a fresh random 16-byte salt.
    public static func generate(password: String, iterations: Int = defaultIterations, hash: SCRAMHash) -> SCRAMCredentials {
        derive(password: password, salt: SASLCrypto.randomBytes(16), iterations: iterations, hash: hash)
    }

    /// True when `password` produces these credentials (used by PLAIN).
    /// Compares StoredKey in constant time.
    public func verify(password: String) -> Bool {
        let candidate = SCRAMCredentials.derive(password: password, salt: salt, iterations: iterations, hash: hash)
        return SASLCrypto.constantTimeEqual(candidate.storedKey, storedKey)
    }

    static func saltedPassword(password: String, salt: [UInt8], iterations: Int, hash: SCRAMHash) -> [UInt8] {
        SASLCrypto.pbkdf2(hash, password: Array(SASLprep.prepare(password).utf8), salt: salt, iterations: iterations)
    }

    static func derive(saltedPassword: [UInt8], salt: [UInt8], iterations: Int, hash: SCRAMHash) -> SCRAMCredentials {
        let clientKey = SASLCrypto.hmac(hash, key: saltedPassword, data: Array("Client Key".utf8))
        let serverKey = SASLCrypto.hmac(hash, key: saltedPassword, data: Array("Server Key".utf8))
        return SCRAMCredentials(hash: hash, salt: salt, iterations: iterations,
                                storedKey: SASLCrypto.hash(hash, clientKey), serverKey: serverKey)
    }
}
