import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// Interrupt moderation for one event loop, as network cards do it for packets.
///
/// A quiet loop sleeps in epoll until the next read arrives, which answers fastest.
/// A busy one pays for every wake-up twice: its own return from epoll, and the one
/// each of its writes costs the reader at the other end (a mesh peer, a client).
/// On this 2-core machine those costs were a fifth of a routed message's server
/// CPU at 20,000 msg/s (perf: `finish_task_switch` after `epoll_wait`,
/// `try_to_wake_up` under `sock_def_readable`). So once a loop handles more than
/// `busyReads` reads a second, it polls at most once per `window`: a tick that ends
/// before its window is over sleeps the rest. What arrives meanwhile is read in one
/// tick, its writes leave in fewer syscalls, and each reader is woken once for several
/// stanzas. A stanza waits at most `window` longer per worker it passes; below the
/// threshold nothing changes.
///
/// Used on its loop only.
final class LoopPacer {
    /// Reads per second above which the loop paces itself; it stops below half of it
    /// (hysteresis, so a load near the threshold does not flip it every period).
    static let busyReads = 10_000
    /// How often the read rate is measured.
    private static let period = TimeAmount.milliseconds(10)

    private let eventLoop: EventLoop
    private let window: TimeAmount
    private var readsInPeriod = 0
    private var periodStart = NIODeadline.now()
    /// Whether the last measured read rate made the loop pace itself.
    private(set) var isPacing = false
    private var tickEndQueued = false
    /// When this tick's first read was reported: about when the loop woke.
    private var tickStart = NIODeadline.now()

    /// `window` zero turns pacing off.
    init(eventLoop: EventLoop, window: TimeAmount) {
        self.eventLoop = eventLoop
        self.window = window
    }

    /// A connection of this loop is reading input (a client's or a mesh peer's).
    func noteRead() {
        guard window.nanoseconds > 0 else { return }
        readsInPeriod &+= 1
        guard !tickEndQueued else { return }
        tickEndQueued = true
        tickStart = NIODeadline.now()
        // Queued twice: the tasks this tick's reads queue (mailbox batches, mesh
        // writes) run before the pause, so their output is not held back by it.
        eventLoop.execute { self.eventLoop.execute { self.endOfTick() } }
    }

    private func endOfTick() {
        tickEndQueued = false
        let now = NIODeadline.now()
        let elapsed = now - periodStart
        if elapsed >= Self.period {
            let perSecond = Int64(readsInPeriod) * 1_000_000_000 / max(1, elapsed.nanoseconds)
            isPacing = perSecond >= Int64(isPacing ? Self.busyReads / 2 : Self.busyReads)
            readsInPeriod = 0
            periodStart = now
        }
        // Polls at most once a window: a tick that took part of it sleeps the rest.
        let rest = window - (now - tickStart)
        guard isPacing, rest.nanoseconds > 0 else { return }
        var pause = timespec(tv_sec: 0, tv_nsec: Int(rest.nanoseconds))
        _ = nanosleep(&pause, nil)
    }
}
