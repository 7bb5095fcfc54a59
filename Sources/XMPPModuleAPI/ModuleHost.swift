import Logging
import NIOCore
import XMPPCore

/// What the core offers a module.
public protocol ModuleHost: AnyObject, Sendable {
    /// The served domains.
    var hosts: [String] { get }
    /// The SQLite file shared by the workers (open your own connection: one per thread).
    var databasePath: String { get }
    var logger: Logger { get }
    var hooks: Hooks { get }
    /// For timers and for futures a handler returns.
    var eventLoopGroup: EventLoopGroup { get }

    /// Routes a stanza from the server or on a user's behalf (its `from` must be set).
    func route(_ stanza: XMLElement)

    /// Serves a whole domain that is not a served host (MUC Light's `muclight.<host>`):
    /// every stanza routed to it, or to an address at it, goes to `handler` (`from`
    /// stamped), in whichever worker routes it. Register while the module starts.
    func registerService(domain: String, _ handler: @escaping @Sendable (XMLElement) -> Void)

    /// The domains modules serve (`registerService`), e.g. for the server's disco#items.
    var serviceDomains: [String] { get }

    /// Handles iq get/set with a child element in `namespace` sent to `target`.
    func registerIQHandler(namespace: String, target: IQTarget, _ handler: @escaping IQHandler)

    /// The namespaces other modules answer for rooms (`IQTarget.room`): features of a
    /// room's disco#info besides those of the module serving it.
    var roomFeatures: [String] { get }

    /// Sends an iq to `to` and completes with the response (result or error), or
    /// fails with `IQTimeout` after `timeout`.
    func sendIQ(_ iq: XMLElement, timeout: TimeAmount) -> EventLoopFuture<XMLElement>

    /// Full JIDs of the available resources of a user, in any worker.
    func availableResources(of bareJID: JID) -> [JID]

    /// Full JIDs of sessions bound in this worker.
    func localSessions() -> [JID]

    /// Full JIDs of every bound resource of a user, in any worker (roster pushes).
    func boundResources(of bareJID: JID) -> [JID]

    /// The last available presence of each available resource of a user, in any
    /// worker (answers to presence probes, RFC 6121 §4.3).
    func availablePresences(of bareJID: JID) -> [XMLElement]

    /// Advertised to clients in the stream features after authentication
    /// (e.g. roster versioning, subscription pre-approval).
    func addStreamFeature(_ feature: XMLElement)
    var streamFeatures: [XMLElement] { get }

    /// Ends a session of this worker with a stream error.
    func terminateSession(_ fullJID: JID, condition: String)

    /// Connected external components (XEP-0114), in any worker, with the listener's
    /// `hidden_components` flag.
    func externalComponents() -> [(domain: String, hidden: Bool)]

    /// Advertised in the server's XEP-0030 disco#info.
    func addServerFeature(_ namespace: String)
    var serverFeatures: [String] { get }

    /// Switches on XEP-0198 acks and resumption in the c2s core (mod_stream_management).
    func enableStreamManagement(_ settings: StreamManagementSettings)

    /// Switches on BOSH sessions on the `mod_bosh` HTTP handlers (mod_bosh).
    func enableBOSH(_ settings: BOSHSettings)
}

/// Who an iq is addressed to, as RFC 6120 §10.3.3 reads it.
public enum IQTarget: Hashable, Sendable {
    /// `to` is a served domain.
    case server
    /// `to` is absent or a user's bare JID: handled on behalf of that account.
    case account
    /// `to` is an entity (a room) of a domain a module serves (`registerService`):
    /// handled instead of that module, e.g. the archive of a room.
    case room
}

public struct IQTimeout: Error { public init() {} }

/// One iq request for a handler. Call exactly one of `reply` / `fail`, now or later.
public struct IQRequest: Sendable {
    public let stanza: XMLElement
    /// The sender's full JID (stamped by the server).
    public let from: JID
    /// The addressed entity: the domain, or the account's bare JID.
    public let to: JID
    public let reply: @Sendable (_ payload: XMLElement?) -> Void
    public let fail: @Sendable (_ condition: String, _ type: String) -> Void

    public init(stanza: XMLElement, from: JID, to: JID,
                reply: @escaping @Sendable (XMLElement?) -> Void,
                fail: @escaping @Sendable (String, String) -> Void) {
        self.stanza = stanza
        self.from = from
        self.to = to
        self.reply = reply
        self.fail = fail
    }

    public var type: String { stanza[attribute: "type"] ?? "" }
    public var payload: XMLElement? { stanza.elements.first }
}

public typealias IQHandler = @Sendable (IQRequest) -> Void
