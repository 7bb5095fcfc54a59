import COpenSSL
import Foundation
import XMPPConfig

/// One OpenSSL SSL_CTX, shared by every connection of a listener (or by outgoing connections).
/// Immutable after init; OpenSSL allows SSL_new on a configured SSL_CTX from any thread.
public final class TLSContext: @unchecked Sendable {
    let ctx: OpaquePointer
    public let configuration: TLSConfiguration
    /// Server side: picks a context by the client's SNI name; nil result keeps this one.
    let serverNameSelector: (@Sendable (String) -> TLSContext?)?

    /// Builds the context; every bad input is a `TLSConfigurationError` naming the file or option.
    /// Relative paths are resolved against `baseDirectory` (the config file's directory).
    public init(_ configuration: TLSConfiguration, baseDirectory: String? = nil,
                serverNameSelector: (@Sendable (String) -> TLSContext?)? = nil) throws {
        OpenSSLErrors.clear()
        let method = configuration.role == .server ? TLS_server_method() : TLS_client_method()
        guard let ctx = SSL_CTX_new(method) else {
            throw TLSConfigurationError(.other, "SSL_CTX_new failed: \(OpenSSLErrors.drain())")
        }
        self.ctx = ctx
        self.configuration = configuration
        self.serverNameSelector = serverNameSelector
        // From here on deinit frees ctx if a step throws.
        try ContextSetup(ctx: ctx, config: configuration, base: baseDirectory).run()
        if configuration.role == .server && configuration.compactSessions { TrafficSecretCapture.enable(on: ctx) }
        if configuration.role == .server {
            SSL_CTX_set_ex_data(ctx, 0, Unmanaged.passUnretained(self).toOpaque())
            _ = SSL_CTX_callback_ctrl(ctx, SSL_CTRL_SET_TLSEXT_SERVERNAME_CB,
                                      unsafeBitCast(TLSContext.serverNameCallback, to: (@convention(c) () -> Void).self))
        }
    }

    deinit { SSL_CTX_free(ctx) }

    var compactSessions: Bool { configuration.role == .server && configuration.compactSessions }

    /// A listener's context from `listen.c2s.tls`.
    public static func server(c2s options: C2STLSOptions, baseDirectory: String? = nil, compactSessions: Bool = false,
                              serverNameSelector: (@Sendable (String) -> TLSContext?)? = nil) throws -> TLSContext {
        var configuration = try TLSConfiguration.c2s(options)
        configuration.compactSessions = compactSessions
        return try TLSContext(configuration, baseDirectory: baseDirectory, serverNameSelector: serverNameSelector)
    }

    /// A context for outgoing connections (tests now, s2s later). `verify` checks the server's
    /// certificate against `caFile` (or the system store when nil); the host name is checked
    /// when `OpenSSLHandler` gets a `serverHostname`.
    public static func client(verify: Bool, caFile: String? = nil, certificateFile: String? = nil,
                              keyFile: String? = nil, versions: [TLSVersion]? = nil,
                              cipherString: String? = nil) throws -> TLSContext {
        try TLSContext(TLSConfiguration(role: .client, certificateChainFile: certificateFile, privateKeyFile: keyFile,
                                        caFile: caFile, cipherString: cipherString, versions: versions,
                                        verification: verify ? .peer : .none))
    }

    /// SNI: runs inside SSL_do_handshake on the event loop of the connection.
    /// SSL_TLSEXT_ERR_OK = 0: never refuse a name; an unknown one keeps the listener's certificate.
    private static let serverNameCallback: @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int32>?, UnsafeMutableRawPointer?) -> Int32 = { ssl, _, _ in
        guard let ssl, let name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name),
              let raw = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), 0) else { return 0 }
        let context = Unmanaged<TLSContext>.fromOpaque(raw).takeUnretainedValue()
        if let selector = context.serverNameSelector, let chosen = selector(String(cString: name)), chosen !== context {
            // SSL_set_SSL_CTX takes its own reference on chosen.ctx.
            _ = SSL_set_SSL_CTX(ssl, chosen.ctx)
        }
        return 0
    }
}
