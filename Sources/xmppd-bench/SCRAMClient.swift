import Foundation
import XMPPSASL

/// Keys a SCRAM client derives from the password, salt and iteration count
/// (RFC 5802 §3). Real clients cache these so they need not run PBKDF2 on every login.
struct SCRAMClientKeys: Sendable {
    var clientKey: [UInt8]
    var storedKey: [UInt8]
    var serverKey: [UInt8]

    init(password: String, salt: [UInt8], iterations: Int, hash: SCRAMHash) {
        // The bench passwords are ASCII, for which SASLprep is the identity.
        let salted = SASLCrypto.pbkdf2(hash, password: Array(password.utf8), salt: salt, iterations: iterations)
        clientKey = SASLCrypto.hmac(hash, key: salted, data: Array("Client Key".utf8))
        storedKey = SASLCrypto.hash(hash, clientKey)
        serverKey = SASLCrypto.hmac(hash, key: salted, data: Array("Server Key".utf8))
    }
}

/// Cache of derived keys per (password, salt, iterations), shared by all connections.
final class SCRAMKeyCache: @unchecked Sendable {
    private let lock = NSLock()
    private var keys: [String: SCRAMClientKeys] = [:]
    let hash: SCRAMHash

    init(hash: SCRAMHash) { self.hash = hash }

    private static func key(_ password: String, _ salt: [UInt8], _ iterations: Int) -> String {
        password + "\u{0}" + Base64.encode(salt) + "\u{0}" + String(iterations)
    }

    func keys(password: String, salt: [UInt8], iterations: Int) -> SCRAMClientKeys {
        let k = Self.key(password, salt, iterations)
        lock.lock()
        if let found = keys[k] { lock.unlock(); return found }
        lock.unlock()
        let derived = SCRAMClientKeys(password: password, salt: salt, iterations: iterations, hash: hash)
        lock.lock()
        keys[k] = derived
        lock.unlock()
        return derived
    }

    var count: Int { lock.lock(); defer { lock.unlock() }; return keys.count }
}

/// Client side of SCRAM-SHA-1 / SCRAM-SHA-256 without channel binding (RFC 5802, RFC 7677).
struct SCRAMClient {
    enum Failure: Error, CustomStringConvertible {
        case malformedServerFirst(String)
        case nonceMismatch
        case badServerSignature
        var description: String {
            switch self {
            case .malformedServerFirst(let s): return "malformed server-first message: \(s)"
            case .nonceMismatch: return "server nonce does not extend the client nonce"
            case .badServerSignature: return "server signature does not verify"
            }
        }
    }

    let username: String
    let password: String
    let cache: SCRAMKeyCache
    let clientNonce: String
    private(set) var clientFirstBare: String
    private var expectedServerSignature: [UInt8] = []

    init(username: String, password: String, cache: SCRAMKeyCache) {
        self.username = username
        self.password = password
        self.cache = cache
        self.clientNonce = Base64.encode(SASLCrypto.randomBytes(18))
        // Bench usernames contain neither '=' nor ','; no saslname escaping needed.
        self.clientFirstBare = "n=\(username),r=\(clientNonce)"
    }

    /// client-first-message: gs2 header "n,," (no channel binding, no authzid).
    var clientFirst: [UInt8] { Array(("n,," + clientFirstBare).utf8) }

    /// Answers the server-first message with client-final-message.
    mutating func clientFinal(serverFirst: [UInt8]) throws -> [UInt8] {
        let text = String(decoding: serverFirst, as: UTF8.self)
        var nonce: String?, salt: [UInt8]?, iterations: Int?
        for part in text.split(separator: ",") {
            guard part.count >= 2, part.dropFirst().first == "=" else { continue }
            let value = String(part.dropFirst(2))
            switch part.first {
            case "r": nonce = value
            case "s": salt = Base64.decode(value)
            case "i": iterations = Int(value)
            default: break
            }
        }
        guard let nonce, let salt, let iterations, iterations > 0 else { throw Failure.malformedServerFirst(text) }
        guard nonce.hasPrefix(clientNonce), nonce.count > clientNonce.count else { throw Failure.nonceMismatch }
        let keys = cache.keys(password: password, salt: salt, iterations: iterations)
        let withoutProof = "c=biws,r=\(nonce)"   // biws = base64("n,,")
        let authMessage = Array((clientFirstBare + "," + text + "," + withoutProof).utf8)
        let signature = SASLCrypto.hmac(cache.hash, key: keys.storedKey, data: authMessage)
        var proof = keys.clientKey
        for i in proof.indices { proof[i] ^= signature[i] }
        expectedServerSignature = SASLCrypto.hmac(cache.hash, key: keys.serverKey, data: authMessage)
        return Array((withoutProof + ",p=" + Base64.encode(proof)).utf8)
    }

    /// Checks server-final-message "v=..." carried by <success/>.
    func verify(serverFinal: [UInt8]) throws {
        let text = String(decoding: serverFinal, as: UTF8.self)
        guard text.hasPrefix("v="), let v = Base64.decode(String(text.dropFirst(2))),
              v == expectedServerSignature else { throw Failure.badServerSignature }
    }
}
