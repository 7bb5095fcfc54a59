/// The `tls` sub-tables of c2s, s2s and http listeners.
enum TLSValidator {
    static let fastTLSOnly = ["protocol_options"]
    static let justTLSOnly = ["verify_mode", "disconnect_on_failure", "versions", "crl_files"]
    static let c2sKeys = ["mode", "verify_peer", "module", "certfile", "cacertfile", "dhfile", "protocol_options",
                          "ciphers", "verify_mode", "disconnect_on_failure", "versions", "crl_files"]

    static func c2s(_ t: TableReader) throws -> C2STLSOptions {
        try t.checkKnownKeys(c2sKeys)
        var o = C2STLSOptions()
        if let module = try t.oneOf("module", TLSModule.allCases.map(\.rawValue)) {
            o.module = TLSModule(rawValue: module)!
        }
        // Options of the other TLS library are a mistake worth naming, not something to ignore.
        let foreign = o.module == .fastTLS ? justTLSOnly : fastTLSOnly
        let owner = o.module == .fastTLS ? TLSModule.justTLS : TLSModule.fastTLS
        if let key = foreign.filter(t.has).min(by: { (t.ctx.lines.lines[t.keyPath($0)] ?? Int.max) < (t.ctx.lines.lines[t.keyPath($1)] ?? Int.max) }) {
            throw t.error(key, "option tls.\(key) is only for tls.module = \(quoted(owner.rawValue)), but this listener uses tls.module = \(quoted(o.module.rawValue))")
        }

        if let mode = try t.oneOf("mode", TLSMode.allCases.map(\.rawValue)) { o.mode = TLSMode(rawValue: mode)! }
        o.verifyPeer = try t.bool("verify_peer") ?? false
        o.certfile = try t.string("certfile", expected: "a file path")
        o.cacertfile = try t.string("cacertfile", expected: "a file path")
        o.dhfile = try t.string("dhfile", expected: "a file path")

        switch o.module {
        case .fastTLS:
            o.protocolOptions = try t.stringArray("protocol_options") ?? C2STLSOptions.defaultProtocolOptions
            o.ciphers = try t.string("ciphers", expected: "a string with an OpenSSL cipher list (for tls.module = \"fast_tls\")") ?? C2STLSOptions.defaultCiphers
        case .justTLS:
            o.protocolOptions = nil
            o.ciphers = nil
            o.cipherSuites = try cipherSuites(t, module: "just_tls")
            if let mode = try t.oneOf("verify_mode", TLSVerifyMode.allCases.map(\.rawValue)) {
                o.verifyMode = TLSVerifyMode(rawValue: mode)!
            }
            o.disconnectOnFailure = try t.bool("disconnect_on_failure") ?? true
            o.versions = try t.stringArray("versions")
            o.crlFiles = try t.stringArray("crl_files", expected: "an array of file paths")
        }

        // The spec: starttls (and every other mode) needs a certificate to present.
        if let mode = o.mode, o.certfile == nil {
            throw t.error("mode", "tls.mode = \(quoted(mode.rawValue)) requires tls.certfile")
        }
        return o
    }

    static func s2s(_ t: TableReader) throws -> S2STLSOptions {
        try t.checkKnownKeys(["cacertfile", "dhfile", "ciphers"])
        var o = S2STLSOptions()
        o.cacertfile = try t.string("cacertfile", expected: "a file path")
        o.dhfile = try t.string("dhfile", expected: "a file path")
        o.ciphers = try t.string("ciphers", expected: "a string with an OpenSSL cipher list") ?? C2STLSOptions.defaultCiphers
        return o
    }

    static func http(_ t: TableReader) throws -> HTTPTLSOptions {
        try t.checkKnownKeys(["verify_peer", "verify_mode", "certfile", "cacertfile", "dhfile", "keyfile", "password", "ciphers", "versions"])
        var o = HTTPTLSOptions()
        o.verifyPeer = try t.bool("verify_peer") ?? false
        if let mode = try t.oneOf("verify_mode", TLSVerifyMode.allCases.map(\.rawValue)) {
            o.verifyMode = TLSVerifyMode(rawValue: mode)!
        }
        o.certfile = try t.string("certfile", expected: "a file path")
        o.cacertfile = try t.string("cacertfile", expected: "a file path")
        o.dhfile = try t.string("dhfile", expected: "a file path")
        o.keyfile = try t.string("keyfile", expected: "a file path")
        o.password = try t.string("password")
        o.ciphers = try cipherSuites(t, module: nil)
        o.versions = try t.stringArray("versions")
        // HTTPS without a certificate cannot work (the spec: "you need to add ... certfile").
        if o.certfile == nil { throw t.missing("certfile", "a file path (HTTPS needs a certificate)") }
        return o
    }

    /// `ciphers = [{cipher = "...", key_exchange = "...", mac = "...", prf = "..."}]` (Erlang ssl style).
    static func cipherSuites(_ t: TableReader, module: String?) throws -> [TLSCipherSuite]? {
        let expected = "an array of tables with keys cipher, key_exchange, mac, prf"
            + (module.map { " (tls.ciphers for tls.module = \(quoted($0)))" } ?? "")
        guard let tables = try t.tableArray("ciphers", expected: expected) else { return nil }
        return try tables.map { s in
            try s.checkKnownKeys(["cipher", "key_exchange", "mac", "prf"])
            guard !s.entries.isEmpty else { throw s.ctx.error(s.path, "found {}, expected \(expected)") }
            return TLSCipherSuite(cipher: try s.string("cipher"), keyExchange: try s.string("key_exchange"),
                                  mac: try s.string("mac"), prf: try s.string("prf"))
        }
    }
}
