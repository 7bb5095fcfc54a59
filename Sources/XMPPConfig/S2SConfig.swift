/// `[s2s]`: server-to-server connections, both directions (MongooseIM's s2s section;
/// the listener's own options are `[[listen.s2s]]`). Defaults as documented.
public struct S2SConfig: Codable, Equatable, Hashable, Sendable {
    public enum Policy: String, Codable, Hashable, Sendable, CaseIterable {
        case allow, deny
    }

    /// `use_starttls`.
    public enum StartTLS: String, Codable, Hashable, Sendable, CaseIterable {
        case disabled = "false"
        case optional
        case required
        /// Required, and the peer's certificate must verify.
        case requiredTrusted = "required_trusted"
    }

    /// One `address` entry: where a remote domain is reached, instead of DNS.
    public struct Address: Codable, Equatable, Hashable, Sendable {
        public var ipAddress: String
        /// nil = `outgoing.port`.
        public var port: Int?

        public init(ipAddress: String, port: Int? = nil) {
            self.ipAddress = ipAddress
            self.port = port
        }
    }

    public var defaultPolicy: Policy = .allow
    /// Lowercased host → policy; hosts not named follow `defaultPolicy`.
    public var hostPolicy: [String: Policy] = [:]
    public var useStartTLS: StartTLS = .disabled
    public var certfile: String?
    /// The dialback secret (XEP-0185). nil: a random one kept in the state directory,
    /// so every worker, and every generation of workers, agrees on it.
    public var shared: String?
    /// Lowercased host → address.
    public var addresses: [String: Address] = [:]
    public var ciphers: String = C2STLSOptions.defaultCiphers
    /// Seconds; the delay between connection attempts doubles up to this.
    public var maxRetryDelay: Int = 300
    public var outgoingPort: Int = 5269
    /// Address families to try, in order.
    public var ipVersions: [Int] = [4, 6]
    /// Milliseconds; nil = "infinity".
    public var connectionTimeoutMs: Int? = 10_000
    /// Seconds per DNS lookup, and lookups per connection attempt.
    public var dnsTimeout: Int = 10
    public var dnsRetries: Int = 2

    public init() {}

    /// Whether connections to or from `domain` may be opened.
    public func allows(_ domain: String) -> Bool {
        (hostPolicy[domain.lowercased()] ?? defaultPolicy) == .allow
    }
}
