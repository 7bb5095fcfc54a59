import Foundation
import NIOCore

/// Closed-loop chat: user i sends to user (i+peerOffset) mod N (default 1), keeping `window` messages in flight,
/// until `duration` passes or `total` messages were sent; then waits for the rest to arrive.
struct MessagePhase {
    let connections: [BenchConnection]
    let registry: StatsRegistry
    let window: Int
    let duration: Double
    /// 0: no limit but the duration.
    let total: Int
    let drainTimeout: Double
    /// User i sends to user (i + peerOffset) mod N.
    let peerOffset: Int

    struct Result {
        var totals: LoopStats.Snapshot
        var latencies: [Int64]
        var drained: Bool
        var timeline: [(received: Int, maxMs: Double)]
        /// Messages received per session, ascending.
        var perSession: [Int]
    }

    func run() throws -> Result {
        let n = connections.count
        let start = monotonicNanos()
        let plan = MessagePlan(deadline: start + Int64(duration * 1e9), window: window)
        for s in registry.all { try s.loop.submit { s.timelineStart = start }.wait() }
        for (i, c) in connections.enumerated() {
            let quota = total > 0 ? total / n + (i < total % n ? 1 : 0) : Int.max
            c.loop.execute { c.startSending(plan: plan, quota: quota, to: (i + peerOffset) % n) }
        }
        // Sending phase: until the deadline, or until a message budget is used up.
        while monotonicNanos() < plan.deadline {
            usleep(100_000)
            if total > 0 {
                let s = try registry.snapshot()
                if s.sent >= total && s.received + s.bounced >= s.sent { break }
            }
        }
        // Drain: every message sent must arrive (or bounce) within the drain timeout.
        let drainDeadline = monotonicNanos() + Int64(drainTimeout * 1e9)
        var totals = try registry.snapshot()
        while totals.received + totals.bounced < totals.sent && monotonicNanos() < drainDeadline {
            usleep(20_000)
            totals = try registry.snapshot()
        }
        return Result(totals: totals, latencies: try registry.latencies(),
                      drained: totals.received + totals.bounced >= totals.sent, timeline: try registry.timeline(),
                      perSession: try connections.map { c in try c.loop.submit { c.receivedCount }.wait() }.sorted())
    }
}
