/// XEP-0124 / XEP-0206 BOSH as mod_bosh configures it. Sessions are served by the
/// `mod_bosh` handlers of `[[listen.http]]` listeners in the core; the module only
/// switches them on with these settings, as MongooseIM requires both.
public struct BOSHSettings: Sendable, Equatable {
    /// `inactivity`: seconds a session may go without any request; nil = "infinity".
    public var inactivity: Int?
    /// `max_wait`: the longest a request is held, in seconds; nil = "infinity" (the
    /// client's `wait` then decides).
    public var maxWait: Int?
    /// `server_acks`: every response carries `ack` (XEP-0124 §9.1).
    public var serverAcks: Bool
    /// `max_pause`: the longest pause a client may ask for, in seconds (XEP-0124 §10).
    public var maxPause: Int

    public init(inactivity: Int? = 30, maxWait: Int? = nil, serverAcks: Bool = false, maxPause: Int = 120) {
        self.inactivity = inactivity
        self.maxWait = maxWait
        self.serverAcks = serverAcks
        self.maxPause = maxPause
    }
}
