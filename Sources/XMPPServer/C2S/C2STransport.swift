import NIOCore
import XMPPConfig
import XMPPTLS
import XMPPTransport

/// The layers under a c2s stream, from the socket up:
///
///     socket → [PROXY header] → [shaper] → [TLS] → [zlib] → C2SConnection
///
/// PROXY and direct TLS (`tls.mode = "tls"`) are there from the first byte; the
/// shaper once a rule applies; STARTTLS and XEP-0138 compression are inserted
/// just under the stream handler when negotiated.
public struct C2STransport: Sendable {
    public var tlsMode: TLSMode?
    public var tls: TLSContext?
    /// `zlib = N`: compression offered, N caps the inflated size of one read.
    public var zlibLimit: Int?
    public var proxyProtocol: Bool
    /// The `shaper` access rule ("none": no shaping).
    public var shaperRule: String

    public init(listener: ListenerConfig, tls: TLSContext?) {
        self.tlsMode = listener.c2s?.tls.mode
        self.tls = tls
        self.zlibLimit = listener.c2s?.zlib
        self.proxyProtocol = listener.xmpp?.proxyProtocol ?? false
        self.shaperRule = listener.c2s?.shaper ?? "none"
    }

    /// STARTTLS is offered (and, with starttls_required, demanded).
    var offersStartTLS: Bool { tls != nil && (tlsMode == .starttls || tlsMode == .starttlsRequired) }
    var requiresTLS: Bool { tls != nil && tlsMode != nil }

    /// The handlers a new connection starts with, in pipeline order.
    func initialHandlers(shaperRate: Int?) -> [ChannelHandler] {
        var handlers: [ChannelHandler] = []
        if proxyProtocol { handlers.append(ProxyProtocolDecoder()) }
        if let shaperRate { handlers.append(ShaperHandler(maxRate: shaperRate)) }
        if tlsMode == .tls, let tls { handlers.append(OpenSSLHandler(context: tls)) }
        return handlers
    }
}
