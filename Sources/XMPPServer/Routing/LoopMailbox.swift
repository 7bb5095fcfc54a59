import NIOConcurrencyHelpers
import NIOCore

/// Deliveries to the sessions of one event loop, batched: a burst of stanzas from
/// other threads costs one task (one wake-up) instead of one each, and each
/// connection written to during a batch is flushed once at its end (one syscall
/// for many stanzas). FIFO, so two stanzas for one session keep their order.
public final class LoopMailbox: @unchecked Sendable {
    public let eventLoop: EventLoop
    private let lock = NIOLock()
    private var queue: [() -> Void] = []
    private var spare: [() -> Void] = []
    private var scheduled = false
    // Loop-only state.
    private var draining = false
    /// Inside `runBatch`: work posted on the loop may run in place.
    private var inPlace = false
    private var flushes: [() -> Void] = []

    /// The loop's interrupt moderation (see LoopPacer): its connections report reads.
    let pacer: LoopPacer

    init(eventLoop: EventLoop, pacingWindow: TimeAmount = .zero) {
        self.eventLoop = eventLoop
        self.pacer = LoopPacer(eventLoop: eventLoop, window: pacingWindow)
        queue.reserveCapacity(64)
        spare.reserveCapacity(64)
    }

    /// Runs `work` on the loop, after what was posted before it.
    public func post(_ work: @escaping () -> Void) {
        if runsInPlace { return work() }
        let wake: Bool = lock.withLock {
            queue.append(work)
            if scheduled { return false }
            scheduled = true
            return true
        }
        if wake { eventLoop.execute { self.drain() } }
    }

    /// Called on the loop by a writer: true if the flush was taken over (it runs
    /// once the current batch is done), false if the caller should flush now.
    public func deferFlush(_ flush: @escaping () -> Void) -> Bool {
        guard draining else { return false }
        flushes.append(flush)
        return true
    }

    /// Runs `body` now, on the loop, as a batch: flushes deferred during it run at its
    /// end, and work posted during it from this loop runs in place (see `runsInPlace`).
    /// A mesh connection reads its frames in one: a stanza for a session of its own
    /// loop is written at once instead of costing a task, a closure and a second pass.
    public func runBatch(_ body: () -> Void) {
        guard !draining else { return body() }
        draining = true
        inPlace = true
        body()
        inPlace = false
        draining = false
        runFlushes()
    }

    /// True on the loop inside `runBatch` while nothing posted earlier waits, so
    /// running new work at once keeps FIFO order. Callers that can skip building the
    /// closure check it first.
    public var runsInPlace: Bool {
        eventLoop.inEventLoop && inPlace && lock.withLock { !scheduled }
    }

    private func runFlushes() {
        for flush in flushes { flush() }
        flushes.removeAll(keepingCapacity: true)
    }

    private func drain() {
        var batch: [() -> Void] = lock.withLock {
            let taken = queue
            queue = spare
            scheduled = false
            return taken
        }
        draining = true
        for work in batch { work() }
        draining = false
        runFlushes()
        batch.removeAll(keepingCapacity: true)
        lock.withLock { spare = batch }
    }
}

/// One mailbox per event loop of the worker.
public final class LoopMailboxes: @unchecked Sendable {
    private let mailboxes: [ObjectIdentifier: LoopMailbox]

    public init(group: EventLoopGroup, pacingWindow: TimeAmount = .zero) {
        var all: [ObjectIdentifier: LoopMailbox] = [:]
        for loop in group.makeIterator() {
            all[ObjectIdentifier(loop)] = LoopMailbox(eventLoop: loop, pacingWindow: pacingWindow)
        }
        mailboxes = all
    }

    public func mailbox(for loop: EventLoop) -> LoopMailbox {
        mailboxes[ObjectIdentifier(loop)] ?? LoopMailbox(eventLoop: loop)
    }
}
