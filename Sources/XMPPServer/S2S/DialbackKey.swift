import Foundation
import XMPPSASL

/// Server Dialback keys (XEP-0220) as XEP-0185 recommends: an HMAC-SHA256 of the
/// receiving domain, the originating domain and the stream id, keyed with the SHA-256
/// of a secret. Any worker of this server can check a key any other made, with no
/// state shared but the secret.
struct DialbackKey: Sendable {
    private let hmacKey: [UInt8]

    init(secret: String) {
        hmacKey = Array(ComponentConnection.hex(SASLCrypto.sha256(Array(secret.utf8))).utf8)
    }

    func key(receiving: String, originating: String, streamID: String) -> String {
        let text = Array("\(receiving) \(originating) \(streamID)".utf8)
        return ComponentConnection.hex(SASLCrypto.hmac(.sha256, key: hmacKey, data: text))
    }

    func verify(_ key: String, receiving: String, originating: String, streamID: String) -> Bool {
        let expected = Array(self.key(receiving: receiving, originating: originating, streamID: streamID).utf8)
        return SASLCrypto.constantTimeEqual(expected, Array(key.trimmingCharacters(in: .whitespacesAndNewlines).lowercased().utf8))
    }

    /// `s2s.shared`, or else the server's own random secret: made once, kept in the
    /// state directory, so workers started later (reloads, restarts) agree with the
    /// running ones. MongooseIM's default is 10 random bytes, hex-encoded.
    static func secret(configured: String?, stateDirectory: String) throws -> String {
        if let configured { return configured }
        let path = stateDirectory + "/s2s_dialback_secret"
        if let existing = try? String(contentsOfFile: path, encoding: .utf8), !existing.isEmpty { return existing }
        // Written aside and linked into place: two workers starting at once both end
        // up with whichever secret was linked first.
        let candidate = ComponentConnection.hex(SASLCrypto.randomBytes(10))
        let temporary = path + ".\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(candidate.utf8),
                                             attributes: [.posixPermissions: 0o600]) else {
            throw DialbackSecretError(path: temporary)
        }
        defer { unlink(temporary) }
        _ = link(temporary, path)
        guard let stored = try? String(contentsOfFile: path, encoding: .utf8), !stored.isEmpty else {
            throw DialbackSecretError(path: path)
        }
        return stored
    }
}

struct DialbackSecretError: Error, CustomStringConvertible {
    let path: String
    var description: String { "cannot write the s2s dialback secret at \(path)" }
}
