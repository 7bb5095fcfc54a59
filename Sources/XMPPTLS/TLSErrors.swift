/// A listener's TLS options could not be turned into a working OpenSSL context.
/// `description` names the option or file and carries OpenSSL's own error text, because
/// "TLS setup failed" alone sends operators guessing.
public struct TLSConfigurationError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: String, Sendable {
        case fileUnreadable, certificate, privateKey, keyMismatch, caFile, dhFile, crlFile
        case protocolOption, cipherList, cipherSuite, version, other
    }

    public let kind: Kind
    public let description: String

    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }
}

/// Errors raised on a live connection by `OpenSSLHandler` via `errorCaught`.
public enum TLSError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The handshake failed; the text is OpenSSL's reason, e.g. "no shared cipher",
    /// "unsupported protocol", "certificate verify failed", or "tlsv1 alert protocol version"
    /// when the peer rejected us.
    case handshakeFailed(String)
    /// A record could not be decrypted / the peer violated the protocol after the handshake.
    case protocolError(String)
    /// The connection closed before the handshake finished.
    case closedDuringHandshake

    public var description: String {
        switch self {
        case .handshakeFailed(let r): return "TLS handshake failed: \(r)"
        case .protocolError(let r): return "TLS error: \(r)"
        case .closedDuringHandshake: return "connection closed during the TLS handshake"
        }
    }
}
