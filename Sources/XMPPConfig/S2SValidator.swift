/// Validates `[s2s]` into `S2SConfig`: MongooseIM's keys, with its `outgoing.*` and
/// `dns.*` sub-tables.
struct S2SValidator {
    let ctx: ParseContext

    static let keys = ["default_policy", "host_policy", "use_starttls", "certfile", "shared", "address", "ciphers",
                       "max_retry_delay", "outgoing", "dns"]

    func parse(_ table: TableReader?) throws -> S2SConfig {
        var config = S2SConfig()
        guard let t = table else { return config }
        try t.checkKnownKeys(Self.keys)
        if let policy = try t.oneOf("default_policy", S2SConfig.Policy.allCases.map(\.rawValue)) {
            config.defaultPolicy = S2SConfig.Policy(rawValue: policy)!
        }
        for entry in try t.tableArray("host_policy", expected: "an array of tables {host, policy}") ?? [] {
            try entry.checkKnownKeys(["host", "policy"])
            let host = try hostName(entry)
            guard let policy = try entry.oneOf("policy", S2SConfig.Policy.allCases.map(\.rawValue)) else {
                throw entry.missing("policy", "\"allow\" or \"deny\"")
            }
            guard config.hostPolicy[host] == nil else { throw entry.error("host", "duplicate host \(quoted(host))") }
            config.hostPolicy[host] = S2SConfig.Policy(rawValue: policy)!
        }
        if let mode = try t.oneOf("use_starttls", S2SConfig.StartTLS.allCases.map(\.rawValue)) {
            config.useStartTLS = S2SConfig.StartTLS(rawValue: mode)!
        }
        config.certfile = try t.string("certfile", expected: "a file path")
        if config.useStartTLS != .disabled, config.certfile == nil {
            throw t.error("use_starttls", "use_starttls = \(quoted(config.useStartTLS.rawValue)) requires certfile")
        }
        if let shared = try t.string("shared", expected: "a string (the dialback secret)") {
            guard !shared.isEmpty else { throw t.badValue("shared", .string(shared), "a non-empty string") }
            config.shared = shared
        }
        for entry in try t.tableArray("address", expected: "an array of tables {host, ip_address, port}") ?? [] {
            try entry.checkKnownKeys(["host", "ip_address", "port"])
            let host = try hostName(entry)
            let raw = try entry.requiredString("ip_address", expected: "an IPv4 or IPv6 address")
            guard let ip = IPAddress.parse(raw) else { throw entry.badValue("ip_address", .string(raw), "an IPv4 or IPv6 address") }
            guard config.addresses[host] == nil else { throw entry.error("host", "duplicate host \(quoted(host))") }
            config.addresses[host] = S2SConfig.Address(ipAddress: ip.address, port: try entry.int("port", .port))
        }
        if let ciphers = try t.string("ciphers", expected: "an OpenSSL cipher string") { config.ciphers = ciphers }
        config.maxRetryDelay = try t.int("max_retry_delay", .positive) ?? config.maxRetryDelay
        if let outgoing = try t.table("outgoing") {
            try outgoing.checkKnownKeys(["port", "ip_versions", "connection_timeout"])
            config.outgoingPort = try outgoing.int("port", .port) ?? config.outgoingPort
            if let versions = try outgoing.entries["ip_versions"].map({ try ipVersions(outgoing, $0) }) {
                config.ipVersions = versions
            }
            switch try outgoing.intOrKeyword("connection_timeout", keyword: "infinity") {
            case .absent: break
            case .keyword: config.connectionTimeoutMs = nil
            case .value(let ms): config.connectionTimeoutMs = ms
            }
        }
        if let dns = try t.table("dns") {
            try dns.checkKnownKeys(["timeout", "retries"])
            config.dnsTimeout = try dns.int("timeout", .positive) ?? config.dnsTimeout
            config.dnsRetries = try dns.int("retries", .positive) ?? config.dnsRetries
        }
        return config
    }

    private func hostName(_ entry: TableReader) throws -> String {
        let raw = try entry.requiredString("host", expected: "a host name")
        let host = raw.lowercased()
        guard !host.isEmpty, !host.contains(where: { $0.isWhitespace || $0 == "/" || $0 == "@" }) else {
            throw entry.badValue("host", .string(raw), "a domain name")
        }
        return host
    }

    private func ipVersions(_ t: TableReader, _ node: TOMLNode) throws -> [Int] {
        let expected = "a non-empty array of IP versions (4 or 6)"
        guard case .array(let items) = node, !items.isEmpty else { throw t.badValue("ip_versions", node, expected) }
        var versions: [Int] = []
        for (n, item) in items.enumerated() {
            guard case .int(let version) = item, version == 4 || version == 6, !versions.contains(version) else {
                throw t.ctx.error(t.keyPath("ip_versions") + "[\(n + 1)]", "found \(item.literal), expected 4 or 6, each once")
            }
            versions.append(version)
        }
        return versions
    }
}
