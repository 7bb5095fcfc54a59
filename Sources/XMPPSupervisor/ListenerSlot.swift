import XMPPConfig
import XMPPStore

/// One configured listener as the supervisor runs it: the socket it owns, the
/// worker accepting on it, a replacement being brought up, and old workers still
/// draining their sessions.
final class ListenerSlot {
    var config: ListenerConfig
    let fd: Int32
    var generation = 0
    var active: WorkerProcess?
    /// A new worker that adopted the socket and waits for the old one to stop accepting.
    var replacement: WorkerProcess?
    var draining: [WorkerProcess] = []
    /// Counters of workers that have exited, so totals never go backwards.
    var retired = ListenerCounters()
    var restarts = 0
    var consecutiveCrashes = 0
    var lastReadyAt: Double = 0
    var removing = false
    /// Digest of the TLS files the current worker loaded: a reload with renewed
    /// certificates hands the listener to a new worker.
    var tlsFingerprint = ""
    var restartPending = false
    /// Called once the current handover (reload / restart / removal) has finished.
    var handoverCompletion: ((String?) -> Void)?

    init(config: ListenerConfig, fd: Int32) {
        self.config = config
        self.fd = fd
    }

    var id: String { config.bindKey }

    var liveWorkers: [WorkerProcess] {
        [active, replacement].compactMap { $0 } + draining
    }

    var totals: ListenerCounters {
        liveWorkers.reduce(retired) { $0 + $1.counters }
    }

    func finishHandover(error: String? = nil) {
        let completion = handoverCompletion
        handoverCompletion = nil
        completion?(error)
    }
}
