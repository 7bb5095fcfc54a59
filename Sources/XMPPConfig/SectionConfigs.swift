// Typed forms of the non-listener sections: [general], [auth] and our own [xmppd].

/// `[general]`.
public struct GeneralConfig: Codable, Equatable, Hashable, Sendable {
    /// Served XMPP domains, lowercased, in file order.
    public var hosts: [String]
    /// One of `GeneralConfig.logLevels`; default "warning".
    public var loglevel: String
    /// Default message queue limit for sessions; nil = unlimited.
    public var maxFSMQueue: Int?
    /// Time a client has to send its stream header / progress negotiation; default 5000.
    public var c2sStateTimeoutMs: Int

    public static let logLevels = ["none", "emergency", "alert", "critical", "error", "warning", "notice", "info", "debug", "all"]

    public init(hosts: [String], loglevel: String = "warning", maxFSMQueue: Int? = nil, c2sStateTimeoutMs: Int = 5000) {
        self.hosts = hosts
        self.loglevel = loglevel
        self.maxFSMQueue = maxFSMQueue
        self.c2sStateTimeoutMs = c2sStateTimeoutMs
    }
}

/// SASL mechanisms xmppd implements; raw values are the IANA names offered on the wire.
public enum SASLMechanism: String, Codable, Hashable, Sendable, CaseIterable {
    case scramSHA512Plus = "SCRAM-SHA-512-PLUS"
    case scramSHA384Plus = "SCRAM-SHA-384-PLUS"
    case scramSHA256Plus = "SCRAM-SHA-256-PLUS"
    case scramSHA224Plus = "SCRAM-SHA-224-PLUS"
    case scramSHA1Plus = "SCRAM-SHA-1-PLUS"
    case scramSHA512 = "SCRAM-SHA-512"
    case scramSHA384 = "SCRAM-SHA-384"
    case scramSHA256 = "SCRAM-SHA-256"
    case scramSHA224 = "SCRAM-SHA-224"
    case scramSHA1 = "SCRAM-SHA-1"
    case plain = "PLAIN"
    /// XEP-0178: the TLS client certificate authenticates.
    case external = "EXTERNAL"

    /// The spelling used in MongooseIM's `auth.sasl_mechanisms`: "scram_sha512_plus".
    public var configName: String {
        switch self {
        case .scramSHA512Plus: return "scram_sha512_plus"
        case .scramSHA384Plus: return "scram_sha384_plus"
        case .scramSHA256Plus: return "scram_sha256_plus"
        case .scramSHA224Plus: return "scram_sha224_plus"
        case .scramSHA1Plus: return "scram_sha1_plus"
        case .scramSHA512: return "scram_sha512"
        case .scramSHA384: return "scram_sha384"
        case .scramSHA256: return "scram_sha256"
        case .scramSHA224: return "scram_sha224"
        case .scramSHA1: return "scram_sha1"
        case .plain: return "plain"
        case .external: return "external"
        }
    }

    /// A SCRAM mechanism with channel binding.
    public var isPlus: Bool { rawValue.hasSuffix("-PLUS") }

    /// The IANA hash name of a SCRAM mechanism ("SHA-512"), nil for the others.
    public var scramHashName: String? {
        guard rawValue.hasPrefix("SCRAM-") else { return nil }
        let name = rawValue.dropFirst("SCRAM-".count)
        return String(isPlus ? name.dropLast("-PLUS".count) : name)
    }

    /// Offered only on a TLS stream (channel binding needs TLS, EXTERNAL a certificate).
    public var needsTLS: Bool { isPlus || self == .external }

    public init?(configName: String) {
        guard let m = SASLMechanism.allCases.first(where: { $0.configName == configName }) else { return nil }
        self = m
    }
}

/// `[auth]` and `[auth.password]`.
public struct AuthConfig: Codable, Equatable, Hashable, Sendable {
    /// Only "internal" is supported.
    public var methods: [String]
    /// In preference order, as written in the config.
    public var saslMechanisms: [SASLMechanism]
    /// `auth.password.format`; only "scram".
    public var passwordFormat: String
    /// `auth.password.scram_iterations`; default 10_000.
    public var scramIterations: Int
    /// `auth.password.hash`: the SCRAM hashes credentials are stored for ("sha",
    /// "sha224", "sha256", "sha384", "sha512"); nil (the default) is all of them.
    public var passwordHashes: [String]?

    /// MongooseIM's names for `auth.password.hash`.
    public static let passwordHashNames = ["sha", "sha224", "sha256", "sha384", "sha512"]

    public init(methods: [String] = ["internal"],
                saslMechanisms: [SASLMechanism] = [.scramSHA256, .scramSHA1, .plain],
                passwordFormat: String = "scram",
                scramIterations: Int = 10_000,
                passwordHashes: [String]? = nil) {
        self.methods = methods
        self.saslMechanisms = saslMechanisms
        self.passwordFormat = passwordFormat
        self.scramIterations = scramIterations
        self.passwordHashes = passwordHashes
    }
}

/// `[xmppd]`: settings of this daemon that MongooseIM has no equivalent for.
public struct DaemonConfig: Codable, Equatable, Hashable, Sendable {
    /// Absolute; a relative `state_dir` is resolved against the config file's directory.
    public var stateDirectory: String
    /// How long a draining worker keeps old sessions after a reload; default 30_000.
    public var drainTimeoutMs: Int
    /// Delay before restarting a crashed worker; default 500.
    public var workerRestartBackoffMs: Int
    /// When a listener's `tls.certfile` does not exist, generate a self-signed
    /// certificate for the served hosts there (first start on a new machine); default false.
    public var generateCertificates: Bool
    /// `worker_threads`: event loops in each worker process; nil = the default of
    /// `eventLoopsPerWorker`.
    public var workerThreads: Int?

    /// Event loops for each worker when `worker_threads` is not set: the cores shared
    /// out among the workers (one per listener), rounded up. The workers together then
    /// run about one loop per core, as an Erlang node runs one scheduler per core: with
    /// a loop per core in *every* worker, busy workers' threads outnumber the cores, and
    /// each message costs more wake-ups and cross-loop hand-offs (measured: 50 µs of
    /// worker CPU per cross-worker message at 20,000 msg/s with two loops per worker on
    /// two cores, 38 with one; see the README's Benchmark). Rounding up keeps a busy
    /// listener beside a few quiet ones from being held to too few loops.
    public func eventLoopsPerWorker(cores: Int, listeners: Int) -> Int {
        let listeners = max(1, listeners)
        return workerThreads ?? max(1, (cores + listeners - 1) / listeners)
    }
    /// `compact_tls_sessions`: a c2s connection that negotiated TLS 1.3 frees OpenSSL's
    /// per-connection state after the handshake and continues on xmppd's own TLS 1.3 record
    /// layer (about 10 KB less per idle session); default true. TLS 1.2 always stays on OpenSSL.
    public var compactTLSSessions: Bool
    /// Directory of the config file: relative paths in listener options (tls.*) are
    /// resolved against it.
    public var configDirectory: String
    /// `dns_servers`: where outgoing s2s looks up SRV records ("ip" or "ip:port", IPv6
    /// in brackets with a port); empty = the nameservers of /etc/resolv.conf.
    public var dnsServers: [S2SConfig.Address] = []
    /// `poll_interval_under_load`, in microseconds: an event loop reading more than
    /// 10,000 times a second polls for input at most once per interval, so that one
    /// wake-up serves many connections (see LoopPacer); 0 polls at once always.
    public var pollIntervalUnderLoadMicros: Int = 500
    /// The largest `poll_interval_under_load` accepted: a stanza may wait that long
    /// in each worker it passes.
    public static let maxPollIntervalUnderLoadMicros = 10_000

    public init(stateDirectory: String, drainTimeoutMs: Int = 30_000, workerRestartBackoffMs: Int = 500,
                generateCertificates: Bool = false, workerThreads: Int? = nil, compactTLSSessions: Bool = true,
                configDirectory: String = "/") {
        self.stateDirectory = stateDirectory
        self.drainTimeoutMs = drainTimeoutMs
        self.workerRestartBackoffMs = workerRestartBackoffMs
        self.generateCertificates = generateCertificates
        self.workerThreads = workerThreads
        self.compactTLSSessions = compactTLSSessions
        self.configDirectory = configDirectory
    }
}
