/// Lifecycle of a listener as the supervisor sees it (column `listeners.state`).
public enum ListenerState: String, Codable, Sendable, CaseIterable {
    case starting, running, draining, stopped, failed
}

/// What happened to a worker process (column `worker_events.event`).
public enum WorkerEvent: String, Codable, Sendable, CaseIterable {
    case spawned, ready, draining, exited, restarted, stopped, failed
}

/// Traffic counters of a listener. A listener may briefly have two workers (an old one
/// draining, a new one running), so the supervisor adds their counters with `+`.
public struct ListenerCounters: Codable, Equatable, Sendable {
    public var connectionsAccepted: Int
    public var connectionsCurrent: Int
    public var connectionsClosed: Int
    public var bytesIn: Int
    public var bytesOut: Int
    public var stanzasIn: Int
    public var stanzasOut: Int
    public var authSuccesses: Int
    public var authFailures: Int
    public var errors: Int

    public init(connectionsAccepted: Int = 0, connectionsCurrent: Int = 0, connectionsClosed: Int = 0,
                bytesIn: Int = 0, bytesOut: Int = 0, stanzasIn: Int = 0, stanzasOut: Int = 0,
                authSuccesses: Int = 0, authFailures: Int = 0, errors: Int = 0) {
        self.connectionsAccepted = connectionsAccepted
        self.connectionsCurrent = connectionsCurrent
        self.connectionsClosed = connectionsClosed
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
        self.stanzasIn = stanzasIn
        self.stanzasOut = stanzasOut
        self.authSuccesses = authSuccesses
        self.authFailures = authFailures
        self.errors = errors
    }

    public static let zero = ListenerCounters()

    public static func + (a: ListenerCounters, b: ListenerCounters) -> ListenerCounters {
        ListenerCounters(
            connectionsAccepted: a.connectionsAccepted + b.connectionsAccepted,
            connectionsCurrent: a.connectionsCurrent + b.connectionsCurrent,
            connectionsClosed: a.connectionsClosed + b.connectionsClosed,
            bytesIn: a.bytesIn + b.bytesIn,
            bytesOut: a.bytesOut + b.bytesOut,
            stanzasIn: a.stanzasIn + b.stanzasIn,
            stanzasOut: a.stanzasOut + b.stanzasOut,
            authSuccesses: a.authSuccesses + b.authSuccesses,
            authFailures: a.authFailures + b.authFailures,
            errors: a.errors + b.errors)
    }

    public static func += (a: inout ListenerCounters, b: ListenerCounters) { a = a + b }

    /// Column names in the order of `values`, shared by reads and writes so they cannot drift.
    static let columns = ["connections_accepted", "connections_current", "connections_closed",
                          "bytes_in", "bytes_out", "stanzas_in", "stanzas_out",
                          "auth_successes", "auth_failures", "errors"]

    var values: [Int] {
        [connectionsAccepted, connectionsCurrent, connectionsClosed, bytesIn, bytesOut,
         stanzasIn, stanzasOut, authSuccesses, authFailures, errors]
    }

    init(values v: [Int]) {
        self.init(connectionsAccepted: v[0], connectionsCurrent: v[1], connectionsClosed: v[2],
                  bytesIn: v[3], bytesOut: v[4], stanzasIn: v[5], stanzasOut: v[6],
                  authSuccesses: v[7], authFailures: v[8], errors: v[9])
    }
}

/// One row of `listeners`.
public struct ListenerRecord: Codable, Equatable, Sendable {
    /// The listener's bind key, e.g. "tcp://0.0.0.0:5222".
    public var id: String
    /// Listener kind from the configuration, e.g. "c2s", "s2s", "admin".
    public var type: String
    public var address: String
    public var port: Int
    /// PID of the current worker, nil when none is running.
    public var workerPID: Int32?
    /// Incremented by the supervisor on each worker (re)spawn.
    public var generation: Int
    public var state: ListenerState
    /// Unix time the listener entered `state`.
    public var since: Double
    public var restarts: Int
    /// Unix time the current worker was started, nil if none.
    public var startedAt: Double?
    /// The listener's configuration as JSON, for display.
    public var configJSON: String
    public var counters: ListenerCounters
    /// Unix time of the last write to this row.
    public var updatedAt: Double

    public init(id: String, type: String, address: String, port: Int, workerPID: Int32? = nil,
                generation: Int = 0, state: ListenerState = .starting, since: Double, restarts: Int = 0,
                startedAt: Double? = nil, configJSON: String = "{}", counters: ListenerCounters = .zero,
                updatedAt: Double) {
        self.id = id
        self.type = type
        self.address = address
        self.port = port
        self.workerPID = workerPID
        self.generation = generation
        self.state = state
        self.since = since
        self.restarts = restarts
        self.startedAt = startedAt
        self.configJSON = configJSON
        self.counters = counters
        self.updatedAt = updatedAt
    }
}

/// One row of `worker_events`.
public struct WorkerEventRecord: Codable, Equatable, Sendable {
    public var id: Int64
    /// Unix time.
    public var at: Double
    public var listenerID: String
    public var pid: Int32?
    public var generation: Int
    public var event: WorkerEvent
    /// Free text, e.g. "exit status 0", "killed by signal 9".
    public var detail: String?

    public init(id: Int64, at: Double, listenerID: String, pid: Int32?, generation: Int,
                event: WorkerEvent, detail: String?) {
        self.id = id
        self.at = at
        self.listenerID = listenerID
        self.pid = pid
        self.generation = generation
        self.event = event
        self.detail = detail
    }
}
