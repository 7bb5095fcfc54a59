import Foundation
import NIOCore

/// Open-loop (fixed-rate) chat: messages are sent on a clock, `rate` per second in all,
/// whatever the server answers, each stamped with the time it was *scheduled* for.
/// A server (or a bench loop) that falls behind therefore shows up in the latency of
/// every message that had to wait, instead of silently lowering the offered load
/// (no coordinated omission).
///
/// Each bench event loop schedules its own senders (the sessions it owns) at its
/// share of the rate, round robin, so one sender's messages are evenly spaced.
final class OpenLoopScheduler: @unchecked Sendable {
    let stats: LoopStats
    let connections: [BenchConnection]
    private var loop: EventLoop { stats.loop }
    // Step state, on the loop's thread only.
    private var step = 0
    private var start: Int64 = 0
    private var intervalNs = 0.0
    private var total = 0
    private var next = 0
    private var touched: [BenchConnection] = []
    /// Bumped by every `begin`: a tick of an earlier step that is still scheduled
    /// (its drain timed out with sends left) ends instead of sending twice as fast.
    private var generation = 0

    /// Wake-ups at most this often: due messages go out together (their latency still
    /// counts from their own scheduled time).
    static let minTickNs: Int64 = 100_000
    /// At most this many messages per wake-up, so reads are served in between.
    static let maxBurst = 512

    init(stats: LoopStats, connections: [BenchConnection]) {
        self.stats = stats
        self.connections = connections
        touched.reserveCapacity(connections.count)
    }

    /// Starts a step on this loop: `count` messages at `rate` per second from `start`.
    func begin(step: Int, start: Int64, rate: Double, count: Int) {
        self.step = step
        self.start = start
        intervalNs = 1e9 / rate
        total = connections.isEmpty ? 0 : count
        next = 0
        generation += 1
        schedule(at: start)
    }

    private func schedule(at time: Int64) {
        let wait = time - monotonicNanos()
        let g = generation
        if wait <= 0 {
            loop.execute { self.tick(g) }
        } else {
            loop.scheduleTask(in: .nanoseconds(wait)) { self.tick(g) }
        }
    }

    private func tick(_ g: Int) {
        guard g == generation else { return }
        let now = monotonicNanos()
        let due = min(total, Int(Double(now - start) / intervalNs) + 1, next + Self.maxBurst)
        while next < due {
            let scheduled = start + Int64(Double(next) * intervalNs)
            let connection = connections[next % connections.count]
            if connection.writeScheduled(step: step, at: scheduled) {
                stats.sent += 1
                if scheduled < stats.firstSend { stats.firstSend = scheduled }
                if !connection.openLoopFlushPending {
                    connection.openLoopFlushPending = true
                    touched.append(connection)
                }
            } else {
                stats.unsent += 1
            }
            next += 1
        }
        for connection in touched { connection.flushOpenLoop() }
        touched.removeAll(keepingCapacity: true)
        guard next < total else { return }
        let nextAt = start + Int64(Double(next) * intervalNs)
        schedule(at: max(nextAt, now + Self.minTickNs))
    }
}

/// One fixed-rate step (or a warm-up) over all loops; see `OpenLoopScheduler`.
struct OpenLoopPhase {
    let schedulers: [OpenLoopScheduler]
    let registry: StatsRegistry
    let workers: ProcessGroupStats
    let drainTimeout: Double

    struct Step: Codable {
        var offeredRate = 0.0
        var seconds = 0.0
        var sent = 0
        var received = 0
        var bounced = 0
        var lost = 0
        var unsent = 0
        /// Messages of an earlier step that arrived during this one (after its drain timed out).
        var lateFromEarlierStep = 0
        var disconnects = 0
        /// Messages received per second, from the first scheduled send to the last receipt.
        var achievedRate = 0.0
        var p50Ms = 0.0, p90Ms = 0.0, p99Ms = 0.0, p999Ms = 0.0, maxMs = 0.0
        var serverCPUUsPerMessage = 0.0
        /// Server CPU over the step, in cores (1.0: one core busy all the time).
        var serverCores = 0.0
        var benchCPUUsPerMessage = 0.0
        var benchCores = 0.0
        /// CPU used meanwhile by everything else on the machine (other load: noise), in cores.
        var otherCores = 0.0
        var perSecondReceived: [Int] = []
        var perSecondMaxMs: [Double] = []
    }

    /// Builds one scheduler per loop of the registry over the connections it owns,
    /// each sending to (i + peerOffset) mod N.
    static func schedulers(connections: [BenchConnection], registry: StatsRegistry, peerOffset: Int,
                           users: Int) throws -> [OpenLoopScheduler] {
        try registry.all.map { stats in
            let mine = connections.filter { $0.loop === stats.loop }
            try stats.loop.submit {
                for c in mine { c.prepareOpenLoop(to: (c.index + peerOffset) % users) }
            }.wait()
            return OpenLoopScheduler(stats: stats, connections: mine)
        }
    }

    func run(step: Int, rate: Double, duration: Double) throws -> Step {
        let totalConnections = max(1, schedulers.reduce(0) { $0 + $1.connections.count })
        let start = monotonicNanos() + 20_000_000   // all loops start on the same tick
        for s in schedulers {
            let stats = s.stats
            try stats.loop.submit { stats.reset(step: step, timelineStart: start) }.wait()
        }
        let disconnects0 = try registry.snapshot().disconnects
        let cpu0 = try workers.cpuMilliseconds(), own0 = ownCPUNanos(), wall0 = monotonicNanos()
        let machine0 = machineBusyMilliseconds()
        for s in schedulers {
            let share = rate * Double(s.connections.count) / Double(totalConnections)
            let count = Int((share * duration).rounded())
            s.stats.loop.execute { s.begin(step: step, start: start, rate: share, count: count) }
        }
        let end = start + Int64(duration * 1e9)
        while monotonicNanos() < end { usleep(50_000) }
        // Drain: every message sent must arrive (or bounce) within the drain timeout.
        let drainDeadline = monotonicNanos() + Int64(drainTimeout * 1e9)
        var totals = try registry.snapshot()
        while (totals.received + totals.bounced < totals.sent || totals.sent + totals.unsent < expected(rate, duration))
                && monotonicNanos() < drainDeadline {
            usleep(10_000)
            totals = try registry.snapshot()
        }
        let cpu1 = try workers.cpuMilliseconds(), own1 = ownCPUNanos(), wall1 = monotonicNanos()
        let machine1 = machineBusyMilliseconds()

        var r = Step()
        r.offeredRate = rate
        r.seconds = duration
        r.sent = totals.sent
        r.received = totals.received
        r.bounced = totals.bounced
        r.unsent = totals.unsent
        r.lost = totals.sent - totals.received - totals.bounced
        r.lateFromEarlierStep = totals.late
        r.disconnects = totals.disconnects - disconnects0
        if totals.lastReceive > start {
            r.achievedRate = Double(totals.received) / (Double(totals.lastReceive - start) / 1e9)
        }
        let sorted = try registry.latencies().sorted()
        r.p50Ms = percentileMs(sorted, 50)
        r.p90Ms = percentileMs(sorted, 90)
        r.p99Ms = percentileMs(sorted, 99)
        r.p999Ms = percentileMs(sorted, 99.9)
        r.maxMs = sorted.last.map { Double($0) / 1e6 } ?? 0
        if r.received > 0 {
            r.serverCPUUsPerMessage = (cpu1 - cpu0) * 1000 / Double(r.received)
            r.benchCPUUsPerMessage = Double(own1 - own0) / 1e3 / Double(r.received)
        }
        let wallMs = Double(wall1 - wall0) / 1e6
        r.serverCores = (cpu1 - cpu0) / wallMs
        r.benchCores = Double(own1 - own0) / 1e6 / wallMs
        r.otherCores = max(0, (machine1 - machine0) - (cpu1 - cpu0) - Double(own1 - own0) / 1e6) / wallMs
        let timeline = try registry.timeline()
        r.perSecondReceived = timeline.map(\.received)
        r.perSecondMaxMs = timeline.map(\.maxMs)
        return r
    }

    /// Messages a step of `rate` for `duration` schedules in all (the loops' shares, rounded).
    private func expected(_ rate: Double, _ duration: Double) -> Int {
        let totalConnections = max(1, schedulers.reduce(0) { $0 + $1.connections.count })
        return schedulers.reduce(0) { n, s in
            s.connections.isEmpty ? n : n + Int((rate * Double(s.connections.count) / Double(totalConnections) * duration).rounded())
        }
    }
}
