import NIOCore

/// Counters of one event loop. Only that loop's thread touches them while the bench
/// runs; the coordinator reads them through `loop.submit`, so no locks on the hot path.
final class LoopStats: @unchecked Sendable {
    let loop: EventLoop
    var sent = 0
    var received = 0
    /// Messages that came back as type='error' (bounced by the server).
    var bounced = 0
    /// Sessions that ended while the bench still needed them.
    var disconnects = 0
    var firstSend: Int64 = .max
    var lastReceive: Int64 = 0
    /// Latencies of received messages, in nanoseconds.
    var latencies: [Int64] = []
    /// Per second of the message phase: messages received and their worst latency (ns).
    var timelineStart: Int64 = 0
    var perSecondReceived: [Int] = []
    var perSecondMax: [Int64] = []
    /// Open loop: the step being measured; messages of another (earlier) step that
    /// arrive late are counted apart and not in this step's figures.
    var step = -1
    var lateFromOtherStep = 0
    /// Open-loop messages that could not be written (session gone).
    var unsent = 0
    /// True between a channel's channelRead and its channelReadComplete on this loop.
    var inRead = false
    /// Connections that wrote during the current read and flush at its end.
    var pendingFlush: [BenchConnection] = []

    init(loop: EventLoop) {
        self.loop = loop
        latencies.reserveCapacity(1 << 16)
    }

    struct Snapshot: Sendable {
        var sent = 0, received = 0, bounced = 0, disconnects = 0
        var firstSend: Int64 = .max, lastReceive: Int64 = 0
        var unsent = 0, late = 0

        static func + (a: Snapshot, b: Snapshot) -> Snapshot {
            Snapshot(sent: a.sent + b.sent, received: a.received + b.received, bounced: a.bounced + b.bounced,
                     disconnects: a.disconnects + b.disconnects,
                     firstSend: min(a.firstSend, b.firstSend), lastReceive: max(a.lastReceive, b.lastReceive),
                     unsent: a.unsent + b.unsent, late: a.late + b.late)
        }
    }

    /// Records one received message.
    @inline(__always)
    func record(latency: Int64, at now: Int64) {
        received += 1
        lastReceive = now
        latencies.append(latency)
        let second = Int((now - timelineStart) / 1_000_000_000)
        if second >= 0 {
            while perSecondReceived.count <= second { perSecondReceived.append(0); perSecondMax.append(0) }
            perSecondReceived[second] += 1
            if latency > perSecondMax[second] { perSecondMax[second] = latency }
        }
    }

    @inline(__always)
    func recordOpenLoop(step: Int, latency: Int64, at now: Int64) {
        if step == self.step { record(latency: latency, at: now) } else { lateFromOtherStep += 1 }
    }

    /// Forgets the counters of the previous step (on this loop's thread).
    func reset(step: Int, timelineStart: Int64) {
        self.step = step
        sent = 0; received = 0; bounced = 0; unsent = 0
        firstSend = .max; lastReceive = 0
        latencies.removeAll(keepingCapacity: true)
        self.timelineStart = timelineStart
        perSecondReceived.removeAll(keepingCapacity: true)
        perSecondMax.removeAll(keepingCapacity: true)
    }

    var snapshot: Snapshot {
        Snapshot(sent: sent, received: received, bounced: bounced, disconnects: disconnects,
                 firstSend: firstSend, lastReceive: lastReceive, unsent: unsent, late: lateFromOtherStep)
    }
}

/// One `LoopStats` per event loop of the group.
final class StatsRegistry: @unchecked Sendable {
    let all: [LoopStats]
    private let byLoop: [ObjectIdentifier: LoopStats]

    init(group: EventLoopGroup) {
        var all: [LoopStats] = []
        for loop in group.makeIterator() { all.append(LoopStats(loop: loop)) }
        self.all = all
        byLoop = Dictionary(uniqueKeysWithValues: all.map { (ObjectIdentifier($0.loop), $0) })
    }

    func stats(for loop: EventLoop) -> LoopStats { byLoop[ObjectIdentifier(loop)]! }

    /// Totals over all loops, read on each loop's own thread.
    func snapshot() throws -> LoopStats.Snapshot {
        try all.map { s in try s.loop.submit { s.snapshot }.wait() }.reduce(LoopStats.Snapshot(), +)
    }

    /// Per second of the message phase: messages received and worst latency in ms.
    func timeline() throws -> [(received: Int, maxMs: Double)] {
        let parts = try all.map { s in try s.loop.submit { (s.perSecondReceived, s.perSecondMax) }.wait() }
        var received: [Int] = []
        var worst: [Int64] = []
        for (counts, maxima) in parts {
            for t in counts.indices {
                if received.count <= t { received.append(0); worst.append(0) }
                received[t] += counts[t]
                worst[t] = max(worst[t], maxima[t])
            }
        }
        return zip(received, worst).map { (received: $0, maxMs: Double($1) / 1e6) }
    }

    /// Every latency recorded, in nanoseconds.
    func latencies() throws -> [Int64] {
        try all.flatMap { s in try s.loop.submit { s.latencies }.wait() }
    }
}
