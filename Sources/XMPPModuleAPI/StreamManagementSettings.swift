/// XEP-0198 Stream Management as mod_stream_management configures it. Acks and
/// resumption live in the c2s core (they are about the connection, not about
/// stanzas); the module only switches them on with these settings, as
/// MongooseIM's mod_stream_management is "a starter" for its c2s.
public struct StreamManagementSettings: Sendable, Equatable {
    /// `buffer`: keep sent stanzas until the client acks them (needed to resend
    /// them on resumption, or to reroute them when the session ends).
    public var buffer: Bool
    /// `buffer_max`: unacked stanzas a session may have; nil = "infinity".
    public var bufferMax: Int?
    /// `ack`: the server asks for acks (`<r/>`) ...
    public var ack: Bool
    /// ... every `ack_freq` stanzas it sends.
    public var ackFrequency: Int
    /// `resume_timeout`, seconds a session whose connection dropped waits to be resumed.
    public var resumeTimeout: Int
    /// `stale_h.enabled`: after a session expired, its `h` is still told to a
    /// client that tries to resume it, for `stale_h.geriatric` seconds.
    public var staleH: Bool
    public var staleHGeriatric: Int

    public init(buffer: Bool = true, bufferMax: Int? = 100, ack: Bool = true, ackFrequency: Int = 1,
                resumeTimeout: Int = 600, staleH: Bool = false, staleHGeriatric: Int = 3600) {
        self.buffer = buffer
        self.bufferMax = bufferMax
        self.ack = ack
        self.ackFrequency = ackFrequency
        self.resumeTimeout = resumeTimeout
        self.staleH = staleH
        self.staleHGeriatric = staleHGeriatric
    }
}
