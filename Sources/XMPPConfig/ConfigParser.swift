/// Validates the top level and the [general], [auth] and [xmppd] sections; hands
/// [listen] to ListenValidator.
struct ConfigParser {
    let root: TableReader
    let baseDirectory: String

    static let supportedSections = ["general", "auth", "xmppd", "listen", "modules", "acl", "access", "shaper", "s2s"]
    /// MongooseIM sections we recognise but do not implement: a clearer error than "unknown key".
    static let unsupportedSections = ["outgoing_pools",
                                      "internal_databases", "services", "host_config"]

    func parse(configPath: String) throws -> ServerConfig {
        try checkTopLevelKeys()
        let general = try parseGeneral()
        let auth = try parseAuth()
        let daemon = try parseDaemon()
        let listeners = try ListenValidator(ctx: root.ctx).parse(root.table("listen"))
        let modules = try parseModules()
        let accessControl = try AccessValidator(root: root).parse()
        try checkRuleReferences(listeners, accessControl)
        let s2s = try S2SValidator(ctx: root.ctx).parse(root.table("s2s"))
        return ServerConfig(configPath: configPath, general: general, auth: auth, xmppd: daemon, listeners: listeners,
                            modules: modules, accessControl: accessControl, s2s: s2s)
    }

    private func checkTopLevelKeys() throws {
        // Report whichever problem comes first in the file.
        let ordered = root.entries.keys.sorted {
            (root.ctx.lines.lines[$0] ?? Int.max, $0) < (root.ctx.lines.lines[$1] ?? Int.max, $1)
        }
        for key in ordered where !ConfigParser.supportedSections.contains(key) {
            if ConfigParser.unsupportedSections.contains(key) {
                throw root.error(key, "section [\(key)] is not supported yet by xmppd")
            }
            throw root.error(key, "unknown key (known keys: \(ConfigParser.supportedSections.joined(separator: ", ")))")
        }
    }

    private func parseGeneral() throws -> GeneralConfig {
        let hostsExpected = "a non-empty array of host names"
        guard let general = try root.table("general") else {
            throw root.missing("general", "a [general] section with hosts = [...]")
        }
        try general.checkKnownKeys(["hosts", "loglevel", "max_fsm_queue", "c2s_state_timeout"])
        guard let rawHosts = try general.stringArray("hosts", expected: hostsExpected) else {
            throw general.missing("hosts", hostsExpected)
        }
        guard !rawHosts.isEmpty else { throw general.error("hosts", "found [], expected \(hostsExpected)") }
        var hosts: [String] = []
        for (n, raw) in rawHosts.enumerated() {
            let host = raw.lowercased()
            let hostPath = general.keyPath("hosts") + "[\(n + 1)]"
            if host.isEmpty || host.contains(where: { $0.isWhitespace || $0 == "/" || $0 == "@" }) {
                throw general.ctx.error(hostPath, "found \(quoted(raw)), expected a domain name")
            }
            if hosts.contains(host) {
                throw general.ctx.error(hostPath, "duplicate host \(quoted(host))")
            }
            hosts.append(host)
        }
        return GeneralConfig(
            hosts: hosts,
            loglevel: try general.oneOf("loglevel", GeneralConfig.logLevels) ?? "warning",
            maxFSMQueue: try general.int("max_fsm_queue", .positive),
            c2sStateTimeoutMs: try general.int("c2s_state_timeout", .nonNegative) ?? 5000)
    }

    private func parseAuth() throws -> AuthConfig {
        var config = AuthConfig()
        guard let auth = try root.table("auth") else { return config }
        try auth.checkKnownKeys(["methods", "sasl_mechanisms", "password"])
        if let methods = try auth.stringArray("methods") {
            for (n, method) in methods.enumerated() where method != "internal" {
                throw auth.ctx.error(auth.keyPath("methods") + "[\(n + 1)]",
                                     "found \(quoted(method)), expected \"internal\" (the only auth method supported by xmppd)")
            }
            guard !methods.isEmpty else { throw auth.error("methods", "found [], expected [\"internal\"]") }
            config.methods = methods
        }
        if let names = try auth.stringArray("sasl_mechanisms") {
            var mechanisms: [SASLMechanism] = []
            let supported = SASLMechanism.allCases.map { quoted($0.configName) }.joined(separator: ", ")
            for (n, name) in names.enumerated() {
                let path = auth.keyPath("sasl_mechanisms") + "[\(n + 1)]"
                guard let mechanism = SASLMechanism(configName: name) else {
                    if AuthConfig.knownUnsupportedMechanisms.contains(name) {
                        throw auth.ctx.error(path, "SASL mechanism \(quoted(name)) is not supported yet by xmppd (supported: \(supported))")
                    }
                    throw auth.ctx.error(path, "found \(quoted(name)), expected one of \(supported)")
                }
                if mechanisms.contains(mechanism) {
                    throw auth.ctx.error(path, "duplicate SASL mechanism \(quoted(name))")
                }
                mechanisms.append(mechanism)
            }
            guard !mechanisms.isEmpty else {
                throw auth.error("sasl_mechanisms", "found [], expected a non-empty array of SASL mechanisms")
            }
            config.saslMechanisms = mechanisms
        }
        if let password = try auth.table("password") {
            try password.checkKnownKeys(["format", "scram_iterations", "hash"])
            if let format = try password.string("format") {
                guard format == "scram" else {
                    throw password.badValue("format", .string(format), "\"scram\" (the only password format supported by xmppd)")
                }
                config.passwordFormat = format
            }
            config.scramIterations = try password.int("scram_iterations", .positive) ?? 10_000
            if let hashes = try password.stringArray("hash") {
                let expected = AuthConfig.passwordHashNames.map(quoted).joined(separator: ", ")
                for (n, name) in hashes.enumerated() where !AuthConfig.passwordHashNames.contains(name) {
                    throw password.ctx.error(password.keyPath("hash") + "[\(n + 1)]", "found \(quoted(name)), expected one of \(expected)")
                }
                guard !hashes.isEmpty else { throw password.error("hash", "found [], expected a non-empty array of \(expected)") }
                config.passwordHashes = hashes
            }
        }
        return config
    }

    /// `[modules.mod_x]` tables, in file order. Which modules exist and what their
    /// options mean is checked by the modules themselves (ModuleCatalog.validate).
    private func parseModules() throws -> [ModuleConfig] {
        guard let modules = try root.table("modules") else { return [] }
        let names = modules.entries.keys.sorted {
            (root.ctx.lines.line(for: modules.keyPath($0)) ?? .max, $0) < (root.ctx.lines.line(for: modules.keyPath($1)) ?? .max, $1)
        }
        return try names.map { name in
            guard let section = try modules.table(name, expected: "a table of module options ([modules.\(name)])") else {
                throw modules.missing(name, "a table")
            }
            var lines: [String: Int] = [:]
            let prefix = section.path
            for (path, line) in root.ctx.lines.lines where path == prefix || path.hasPrefix(prefix + ".") {
                lines[path] = line
            }
            if lines[prefix] == nil, let line = root.ctx.lines.line(for: prefix) { lines[prefix] = line }
            return ModuleConfig(name: name, options: section.entries.compactMapValues(ConfigValue.init),
                                file: root.ctx.file, lines: lines)
        }
    }

    /// Listener options that name access rules or shapers must name defined ones.
    private func checkRuleReferences(_ listeners: [ListenerConfig], _ access: AccessControlConfig) throws {
        func rule(_ listener: ListenerConfig, _ key: String, _ name: String) throws {
            guard !access.hasRule(name) else { return }
            let known = (AccessControlConfig.builtInRules + access.access.keys.sorted()).map(quoted).joined(separator: ", ")
            throw root.ctx.error("\(listener.keyPath).\(key)", "access rule \(quoted(name)) is not defined in [access] (defined: \(known))")
        }
        func shaperRule(_ listener: ListenerConfig, _ key: String, _ name: String) throws {
            if name == "none" { return }
            try rule(listener, key, name)
        }
        for listener in listeners {
            if let c2s = listener.c2s {
                try rule(listener, "access", c2s.access)
                try shaperRule(listener, "shaper", c2s.shaper)
            }
            if let s2s = listener.s2s { try shaperRule(listener, "shaper", s2s.shaper) }
            if let service = listener.service {
                try rule(listener, "access", service.access)
                // Unlike c2s and s2s, the service listener names a shaper directly (spec).
                if service.shaperRule != "none" && access.shapers[service.shaperRule] == nil {
                    throw root.ctx.error("\(listener.keyPath).shaper_rule",
                                         "shaper \(quoted(service.shaperRule)) is not defined in [shaper]")
                }
            }
        }
    }

    private func parseDaemon() throws -> DaemonConfig {
        guard let daemon = try root.table("xmppd") else {
            return DaemonConfig(stateDirectory: Paths.absolute("../var", relativeTo: baseDirectory), configDirectory: baseDirectory)
        }
        try daemon.checkKnownKeys(["state_dir", "drain_timeout", "worker_restart_backoff", "generate_certificates", "worker_threads",
                                   "compact_tls_sessions", "dns_servers", "poll_interval_under_load"])
        let stateDir = try daemon.string("state_dir", expected: "a directory path") ?? "../var"
        guard !stateDir.isEmpty else { throw daemon.badValue("state_dir", .string(stateDir), "a directory path") }
        var config = DaemonConfig(
            stateDirectory: Paths.absolute(stateDir, relativeTo: baseDirectory),
            drainTimeoutMs: try daemon.int("drain_timeout", .nonNegative) ?? 30_000,
            workerRestartBackoffMs: try daemon.int("worker_restart_backoff", .positive) ?? 500,
            generateCertificates: try daemon.bool("generate_certificates") ?? false,
            workerThreads: try daemon.int("worker_threads", .positive),
            compactTLSSessions: try daemon.bool("compact_tls_sessions") ?? true,
            configDirectory: baseDirectory)
        if let interval = try daemon.int("poll_interval_under_load", .nonNegative, expected: Self.pollIntervalExpected) {
            guard interval <= DaemonConfig.maxPollIntervalUnderLoadMicros else {
                throw daemon.badValue("poll_interval_under_load", .int(interval), Self.pollIntervalExpected)
            }
            config.pollIntervalUnderLoadMicros = interval
        }
        for (n, entry) in (try daemon.stringArray("dns_servers", expected: "an array of \"ip\" or \"ip:port\" strings") ?? []).enumerated() {
            guard let server = Self.dnsServer(entry) else {
                throw daemon.ctx.error(daemon.keyPath("dns_servers") + "[\(n + 1)]",
                                       "found \(quoted(entry)), expected an IP address, \"ip:port\" or \"[ipv6]:port\"")
            }
            config.dnsServers.append(server)
        }
        return config
    }

    static let pollIntervalExpected = "microseconds from 0 to \(DaemonConfig.maxPollIntervalUnderLoadMicros)"

    /// "192.0.2.1", "192.0.2.1:5353", "2001:db8::1" or "[2001:db8::1]:5353".
    static func dnsServer(_ text: String) -> S2SConfig.Address? {
        if let ip = IPAddress.parse(text) { return S2SConfig.Address(ipAddress: ip.address, port: nil) }
        let host: Substring, port: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = text[text.index(after: text.startIndex)..<close]
            guard text[close...].hasPrefix("]:") else { return nil }
            port = text[text.index(close, offsetBy: 2)...]
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        } else {
            return nil
        }
        guard let ip = IPAddress.parse(String(host)), let number = Int(port), (1...65535).contains(number) else { return nil }
        return S2SConfig.Address(ipAddress: ip.address, port: number)
    }
}

extension AuthConfig {
    /// Mechanisms MongooseIM offers that xmppd does not implement yet.
    static let knownUnsupportedMechanisms = ["anonymous", "oauth", "digest"]
}
