/// Validates the `[listen]` section: every `[[listen.<type>]]` table, then cross-listener
/// rules (no two listeners on the same socket).
struct ListenValidator {
    let ctx: ParseContext

    static let generalKeys = ["port", "ip_address", "proto", "ip_version"]
    static let xmppKeys = ["backlog", "proxy_protocol", "hibernate_after", "max_stanza_size", "num_acceptors", "max_fsm_queue"]
    static let serviceKeys = ["access", "password", "shaper_rule", "check_from", "hidden_components", "conflict_behaviour"]

    static func knownKeys(_ type: ListenerType) -> [String] {
        switch type {
        case .c2s: return generalKeys + xmppKeys + ["access", "shaper", "zlib", "tls"]
        case .s2s: return generalKeys + xmppKeys + ["shaper", "tls"]
        case .service: return generalKeys + xmppKeys + serviceKeys
        case .http: return generalKeys + ["handlers", "transport", "tls", "protocol"]
        }
    }

    func parse(_ listen: TableReader?) throws -> [ListenerConfig] {
        guard let listen = listen else { return [] }
        try listen.checkKnownKeys(ListenerType.allCases.map(\.rawValue))
        var listeners: [ListenerConfig] = []
        for type in ListenerType.allCases {
            let expected = "an array of tables ([[listen.\(type.rawValue)]])"
            guard let tables = try listen.tableArray(type.rawValue, expected: expected) else { continue }
            for (n, table) in tables.enumerated() {
                listeners.append(try parseListener(type, index: n + 1, table))
            }
        }
        try checkDuplicateSockets(listeners)
        return listeners
    }

    private func parseListener(_ type: ListenerType, index: Int, _ t: TableReader) throws -> ListenerConfig {
        try t.checkKnownKeys(ListenValidator.knownKeys(type))
        var listener = try parseSocketOptions(type, index: index, t)
        switch type {
        case .c2s:
            listener.xmpp = try parseXMPPOptions(t)
            var c2s = C2SOptions()
            c2s.access = try t.string("access", expected: "a string (access rule name or \"all\")") ?? "all"
            c2s.shaper = try t.string("shaper", expected: "a string (shaper rule name or \"none\")") ?? "none"
            c2s.zlib = try t.int("zlib", .positive)
            if let tls = try t.table("tls") { c2s.tls = try TLSValidator.c2s(tls) }
            listener.c2s = c2s
        case .s2s:
            listener.xmpp = try parseXMPPOptions(t)
            var s2s = S2SOptions()
            s2s.shaper = try t.string("shaper", expected: "a string (shaper rule name or \"none\")") ?? "none"
            if let tls = try t.table("tls") { s2s.tls = try TLSValidator.s2s(tls) }
            listener.s2s = s2s
        case .service:
            listener.xmpp = try parseXMPPOptions(t)
            listener.service = try ListenValidator.parseServiceOptions(t)
        case .http:
            listener.http = try HTTPValidator(ctx: ctx).parse(t)
        }
        return listener
    }

    /// port, ip_address, ip_version, proto — common to all listener types.
    private func parseSocketOptions(_ type: ListenerType, index: Int, _ t: TableReader) throws -> ListenerConfig {
        let portExpected = "an integer port number 1-65535"
        guard let portValue = t.entries["port"] else { throw t.missing("port", portExpected) }
        guard case .int(let port) = portValue else { throw t.wrongType("port", portValue, portExpected) }
        guard IntRule.port.accepts(port) else { throw t.badValue("port", portValue, IntRule.port.expected) }

        var version: Int?
        if let v = t.entries["ip_version"] {
            guard case .int(let n) = v else { throw t.wrongType("ip_version", v, "one of 4, 6") }
            guard n == 4 || n == 6 else { throw t.badValue("ip_version", v, "one of 4, 6") }
            version = n
        }
        var address: String
        if let raw = try t.string("ip_address", expected: "a string with an IPv4 or IPv6 address") {
            guard let parsed = IPAddress.parse(raw) else {
                throw t.badValue("ip_address", .string(raw), "an IPv4 or IPv6 address")
            }
            if let version = version, version != parsed.version {
                throw t.error("ip_version", "ip_version = \(version) conflicts with ip_address = \(quoted(raw)), which is an IPv\(parsed.version) address")
            }
            address = parsed.address
            version = parsed.version
        } else {
            address = version == 6 ? "::" : "0.0.0.0"
        }

        let proto = try t.oneOf("proto", ["tcp", "udp"]) ?? "tcp"
        if proto != "tcp" {
            throw t.error("proto", "found \(quoted(proto)), but \(type.rawValue) listeners are TCP-only (expected \"tcp\")")
        }
        return ListenerConfig(type: type, index: index, port: port, ipAddress: address, ipVersion: version ?? 4, proto: .tcp)
    }

    /// The "XMPP listener options" of c2s, s2s and service listeners.
    static func parseXMPPOptions(_ t: TableReader) throws -> XMPPListenerOptions {
        var o = XMPPListenerOptions()
        o.backlog = try t.int("backlog", .positive) ?? 100
        o.proxyProtocol = try t.bool("proxy_protocol") ?? false
        o.hibernateAfterMs = try t.int("hibernate_after", .nonNegative) ?? 0
        o.maxStanzaSize = try t.int("max_stanza_size", .positive)
        o.numAcceptors = try t.int("num_acceptors", .positive) ?? 100
        o.maxFSMQueue = try t.int("max_fsm_queue", .positive)
        return o
    }

    private func parseXMPPOptions(_ t: TableReader) throws -> XMPPListenerOptions {
        try ListenValidator.parseXMPPOptions(t)
    }

    /// Options of `[[listen.service]]`, shared with `mod_websockets.service`.
    static func parseServiceOptions(_ t: TableReader) throws -> ServiceOptions {
        guard let password = try t.string("password") else { throw t.missing("password", "a string with the component password") }
        var o = ServiceOptions(password: password)
        o.access = try t.string("access", expected: "a string (access rule name or \"all\")") ?? "all"
        o.shaperRule = try t.string("shaper_rule", expected: "a string (shaper name or \"none\")") ?? "none"
        o.checkFrom = try t.bool("check_from") ?? true
        o.hiddenComponents = try t.bool("hidden_components") ?? false
        if let behaviour = try t.oneOf("conflict_behaviour", ConflictBehaviour.allCases.map(\.rawValue)) {
            o.conflictBehaviour = ConflictBehaviour(rawValue: behaviour)!
        }
        return o
    }

    /// Two listeners on the same (address, port, protocol) could never both bind.
    private func checkDuplicateSockets(_ listeners: [ListenerConfig]) throws {
        var seen: [String: ListenerConfig] = [:]
        for listener in listeners {
            if let first = seen[listener.bindKey] {
                let path = listener.keyPath + ".port"
                throw ctx.error(path, "\(listener.keyPath) and \(first.keyPath) both listen on \(listener.bindKey)")
            }
            seen[listener.bindKey] = listener
        }
    }
}
