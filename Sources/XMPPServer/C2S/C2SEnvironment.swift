import Logging
import NIOCore
import NIOConcurrencyHelpers
import XMPPConfig
import XMPPModuleAPI
import XMPPSASL
import XMPPStore

/// Everything a c2s connection needs from its worker, shared by all connections.
public struct C2SEnvironment: Sendable {
    public var hosts: Set<String>
    public var mechanisms: [SASLMechanism]
    public var credentials: CredentialSource
    public var router: StanzaRouter
    public var modules: ModuleRuntime
    public var stats: WorkerStats
    public var mailboxes: LoopMailboxes
    public var connections: ConnectionTracker
    /// XEP-0198 resumable sessions of this worker.
    public var resumption: SessionResumption
    /// The listener's `access` rule and the rules it is evaluated with.
    public var accessRule: String
    public var access: AccessRules
    public var maxStanzaSize: Int?
    /// `max_fsm_queue` (listener, else [general]): stanzas that may wait for a client
    /// that does not read before its session is closed; nil = no limit.
    public var maxQueuedStanzas: Int?
    public var transport: C2STransport
    /// `hibernate_after`: idle time after which a connection drops its parser
    /// buffers; 0 = at every opportunity (MongooseIM's default).
    public var hibernateAfter: TimeAmount
    /// RFC 6120 leaves it to the server how long negotiation may take:
    /// MongooseIM's `c2s_state_timeout`.
    public var negotiationTimeout: TimeAmount
    public var logger: Logger
    /// False behind the http listener, which counts its own connections and bytes.
    public var countsTransport = true

    public var registry: SessionRegistry { router.registry }
    public var hooks: Hooks { modules.hooks }

    /// One environment shared by reference by every connection of a listener.
    public final class Shared: Sendable {
        public let value: C2SEnvironment
        public init(_ value: C2SEnvironment) { self.value = value }
    }
}

/// Reads SCRAM credentials for SASL. SQLite connections are single-threaded, so
/// event loops share one behind a lock; this runs once per login, never per stanza.
public final class CredentialSource: @unchecked Sendable {
    private let lock = NIOLock()
    private let accounts: AccountStore

    public init(databasePath: String) throws {
        accounts = try AccountStore(database: try SQLiteDatabase(path: databasePath))
    }

    public func credentials(user: String, domain: String, hash: SCRAMHash) -> SCRAMCredentials? {
        lock.withLock { accounts.credentials(user: user, domain: domain, hash: hash) }
    }

    /// For PLAIN: whichever SCRAM credentials the account has (see AccountStore).
    public func anyCredentials(user: String, domain: String) -> SCRAMCredentials? {
        lock.withLock { accounts.anyCredentials(user: user, domain: domain) }
    }

    public func exists(user: String, domain: String) -> Bool {
        lock.withLock { accounts.exists(user: user, domain: domain) }
    }
}

/// The connections this worker has open, so a drain or shutdown can reach them.
public final class ConnectionTracker: @unchecked Sendable {
    /// A connection as the tracker holds it: weakly, and with no closure (a closure
    /// context would cost every idle connection an allocation).
    private struct Entry {
        let loop: EventLoop
        weak var connection: TrackedConnection?
    }

    private let lock = NIOLock()
    private var open: [ObjectIdentifier: Entry] = [:]

    public init() {}

    func add(_ connection: TrackedConnection, on loop: EventLoop) {
        lock.withLock { open[ObjectIdentifier(connection)] = Entry(loop: loop, connection: connection) }
    }

    func remove(_ connection: TrackedConnection) { _ = lock.withLock { open.removeValue(forKey: ObjectIdentifier(connection)) } }

    public var count: Int { lock.withLock { open.count } }

    /// Ends every open connection with the given stream error condition.
    /// `allowResumption`: resumable (XEP-0198) sessions are only disconnected, so
    /// their clients resume them in the worker that replaces this one.
    public func terminateAll(condition: String, allowResumption: Bool = false) {
        let all = lock.withLock { Array(open.values) }
        for entry in all {
            entry.loop.execute { [weak connection = entry.connection] in
                connection?.terminate(condition, allowResumption: allowResumption)
            }
        }
    }
}

/// A connection the worker can end (drain deadline, shutdown).
protocol TrackedConnection: AnyObject {
    /// Called on the connection's event loop.
    func terminate(_ condition: String, allowResumption: Bool)
}
