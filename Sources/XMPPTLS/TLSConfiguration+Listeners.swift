import XMPPConfig

/// Translation of the config file's listener TLS tables into `TLSConfiguration`.
extension TLSConfiguration {
    /// `listen.c2s.tls`. fast_tls: protocol_options + cipher string, and verify_peer "enforces
    /// verification" (spec), so a bad client certificate fails the handshake; just_tls follows
    /// verify_mode / disconnect_on_failure.
    public static func c2s(_ o: C2STLSOptions) throws -> TLSConfiguration {
        var c = TLSConfiguration(role: .server, certificateChainFile: o.certfile, caFile: o.cacertfile,
                                 dhFile: o.dhfile)
        switch o.module {
        case .fastTLS:
            c.protocolOptions = o.protocolOptions ?? C2STLSOptions.defaultProtocolOptions
            c.cipherString = o.ciphers ?? C2STLSOptions.defaultCiphers
            c.verification = o.verifyPeer ? .peer : .none
        case .justTLS:
            c.cipherSuites = o.cipherSuites
            c.versions = try o.versions.map(parseVersions)
            c.crlFiles = o.crlFiles ?? []
            c.verification = o.verifyPeer
                ? verification(mode: o.verifyMode, disconnectOnFailure: o.disconnectOnFailure ?? true)
                : .none
        }
        return c
    }

    /// `listen.http.tls` (Erlang ssl options: separate keyfile, optional key password).
    public static func http(_ o: HTTPTLSOptions) throws -> TLSConfiguration {
        var c = TLSConfiguration(role: .server, certificateChainFile: o.certfile, privateKeyFile: o.keyfile,
                                 privateKeyPassword: o.password, caFile: o.cacertfile, dhFile: o.dhfile)
        c.cipherSuites = o.ciphers
        c.versions = try o.versions.map(parseVersions)
        c.verification = o.verifyPeer ? verification(mode: o.verifyMode, disconnectOnFailure: true) : .none
        return c
    }

    /// `listen.s2s.tls` plus the certificate the server presents (s2s has no certfile of its own
    /// in the listener table; the caller passes the domain certificate).
    public static func s2s(_ o: S2STLSOptions, certfile: String?) -> TLSConfiguration {
        TLSConfiguration(role: .server, certificateChainFile: certfile, caFile: o.cacertfile, dhFile: o.dhfile,
                         protocolOptions: C2STLSOptions.defaultProtocolOptions, cipherString: o.ciphers)
    }

    static func verification(mode: TLSVerifyMode?, disconnectOnFailure: Bool) -> TLSPeerVerification {
        switch (mode ?? .peer, disconnectOnFailure) {
        case (.none, _): return .acceptAny
        case (_, false): return .report
        case (.peer, true): return .peer
        case (.selfsignedPeer, true): return .selfSignedPeer
        }
    }
}
