import Foundation
import NIOConcurrencyHelpers

/// When a draining worker must be done. A reload or rolling restart starts a drain
/// with `drain_timeout`; a stop that comes meanwhile (the supervisor sends every
/// worker a drain with deadline 0) shortens it, so the old worker's sessions get their
/// `<system-shutdown/>` and its suspended XEP-0198 sessions reach offline storage
/// instead of being cut by the supervisor's SIGKILL ten seconds later.
final class DrainClock: @unchecked Sendable {
    private let lock = NIOLock()
    private var deadline: Date
    private var handover: Bool

    /// `deadlineMs` > 0 is a handover (reload or rolling restart): other workers take
    /// the sessions over. 0 is a stop.
    init(deadlineMs: Int) {
        deadline = Date().addingTimeInterval(Double(deadlineMs) / 1000)
        handover = deadlineMs > 0
    }

    var expired: Bool { lock.withLock { Date() >= deadline } }

    /// Whether sessions may still move to another worker (false once a stop came).
    var handingOver: Bool { lock.withLock { handover } }

    /// A later drain request: only ever brings the deadline closer.
    func shorten(toMs deadlineMs: Int) {
        lock.withLock {
            deadline = min(deadline, Date().addingTimeInterval(Double(deadlineMs) / 1000))
            if deadlineMs == 0 { handover = false }
        }
    }

    /// Sleeps in short steps until `done` holds or `limit` passes (or the clock expires
    /// when `limit` is nil).
    func wait(until done: () -> Bool, limit: Date? = nil, step: useconds_t = 50_000) {
        while !done() {
            if let limit { if Date() >= limit { return } } else if expired { return }
            usleep(step)
        }
    }
}
