import XMPPConfig
import XMPPStore

/// Messages between the supervisor and one worker, one JSON document per
/// SOCK_SEQPACKET packet on the worker's control socket (fd 3 in the worker).
///
/// The handover order matters (see PLATFORM-NOTES): a new worker adopts the
/// listening socket paused and says `ready`; only after the old worker confirms
/// `stoppedAccepting` is the new one told to `startAccepting`. Two processes never
/// accept on one socket at the same time, and the kernel backlog holds connection
/// attempts in between, so none is refused.
public enum SupervisorToWorker: Codable, Sendable {
    /// Sent once, with the listening socket attached as SCM_RIGHTS.
    case setup(WorkerSetup)
    case startAccepting
    /// Stop accepting, then keep serving open sessions until they end or the
    /// deadline passes; then exit.
    case drain(deadlineMs: Int)
}

public enum WorkerToSupervisor: Codable, Sendable {
    /// The listening socket is adopted (paused) and the worker can serve.
    case ready
    case stoppedAccepting
    /// Cumulative counters of this worker process, sent at most once a second.
    case stats(ListenerCounters)
}

public struct WorkerSetup: Codable, Sendable {
    public var config: ServerConfig
    /// Index into `config.listeners` of the listener this worker serves.
    public var listenerIndex: Int
    public var generation: Int

    public init(config: ServerConfig, listenerIndex: Int, generation: Int) {
        self.config = config
        self.listenerIndex = listenerIndex
        self.generation = generation
    }

    public var listener: ListenerConfig { config.listeners[listenerIndex] }
}
