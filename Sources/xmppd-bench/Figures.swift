import Foundation

/// What one bench run measured; printed as a figures block or as JSON.
struct Figures: Codable {
    struct Logins: Codable {
        var ok = 0
        var failed = 0
        var seconds = 0.0
        var perSecond = 0.0
        var serverCPUMsPerLogin = 0.0
        var benchCPUMsPerLogin = 0.0
        var firstFailures: [String] = []
    }
    struct Idle: Codable {
        var rssBeforeKiB = 0.0
        var rssAfterKiB = 0.0
        var kibPerSession = 0.0
    }
    struct Messages: Codable {
        var sent = 0
        var received = 0
        var bounced = 0
        var lost = 0
        var seconds = 0.0
        var perSecond = 0.0
        var p50Ms = 0.0, p90Ms = 0.0, p99Ms = 0.0, maxMs = 0.0
        var serverCPUUsPerMessage = 0.0
        var benchCPUUsPerMessage = 0.0
        var window = 0
        var disconnects = 0
        /// Per second of the phase: messages received, and the worst latency among them.
        var perSecondReceived: [Int] = []
        var perSecondMaxMs: [Double] = []
        /// Messages received per session: fewest, median, most (unequal shares mean starved sessions).
        var perSessionMin = 0, perSessionMedian = 0, perSessionMax = 0
    }

    var users = 0
    var host = ""
    var port = 0
    /// "plaintext", "starttls" or "tls".
    var transport = "plaintext"
    var workerPID: Int32 = 0
    /// Every c2s listener's port and worker, in listener order.
    var ports: [Int] = []
    var workerPIDs: [Int32] = []
    /// "cross" (every message crosses the worker mesh), "same" (stays in one worker), "one listener".
    var pairing = ""
    var peerOffset = 1
    var workerRestarted = false
    var logins = Logins()
    var idle = Idle()
    var messages: Messages?
    /// Open loop: one entry per rate.
    var openLoop: [OpenLoopPhase.Step]?

    /// A run passes when every login succeeded and no message was lost.
    var passed: Bool {
        guard logins.failed == 0 && !workerRestarted else { return false }
        if let steps = openLoop {
            return !steps.isEmpty && steps.allSatisfy { $0.lost == 0 && $0.bounced == 0 && $0.disconnects == 0 && $0.unsent == 0 }
        }
        return messages.map { $0.lost == 0 && $0.bounced == 0 && $0.disconnects == 0 } ?? false
    }

    /// One open-loop step as a line of text.
    static func line(_ s: OpenLoopPhase.Step) -> String {
        func f(_ x: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", x) }
        var out = "rate \(Int(s.offeredRate))/s: achieved \(f(s.achievedRate, 0))/s, "
            + "p50 \(f(s.p50Ms, 2)) p90 \(f(s.p90Ms, 2)) p99 \(f(s.p99Ms, 2)) p99.9 \(f(s.p999Ms, 2)) max \(f(s.maxMs, 2)) ms, "
            + "server CPU \(f(s.serverCPUUsPerMessage)) us/msg (\(f(s.serverCores, 2)) cores), "
            + "bench CPU \(f(s.benchCPUUsPerMessage)) us/msg (\(f(s.benchCores, 2))), other load \(f(s.otherCores, 2)) cores, "
            + "\(s.received)/\(s.sent) received, \(s.lost) lost"
        if s.bounced > 0 { out += ", \(s.bounced) bounced" }
        if s.unsent > 0 { out += ", \(s.unsent) unsent" }
        if s.disconnects > 0 { out += ", \(s.disconnects) sessions dropped" }
        if s.lateFromEarlierStep > 0 { out += ", \(s.lateFromEarlierStep) late from the step before" }
        return out
    }

    var text: String {
        func f(_ x: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", x) }
        var out: String
        if ports.count > 1 {
            out = "xmppd bench: \(users) users over \(ports.count) \(transport) c2s listeners on \(host):"
                + ports.map(String.init).joined(separator: ",") + " (worker pids "
                + workerPIDs.map(String.init).joined(separator: ",") + "), pairing \(pairing) (i -> i+\(peerOffset))\n"
        } else {
            out = "xmppd bench: \(users) users, \(transport) c2s on \(host):\(port) (worker pid \(workerPID))\n"
        }
        out += "logins:   \(logins.ok) ok, \(logins.failed) failed, \(f(logins.perSecond)) logins/s, "
            + "server CPU \(f(logins.serverCPUMsPerLogin, 2)) ms/login\n"
        out += "idle:     RSS \(f(idle.rssBeforeKiB / 1024)) MiB -> \(f(idle.rssAfterKiB / 1024)) MiB, "
            + "\(f(idle.kibPerSession)) KiB per idle session\n"
        if let m = messages {
            out += "messages: \(m.received) in \(f(m.seconds)) s, \(f(m.perSecond)) msg/s, p50 \(f(m.p50Ms, 2)) ms, "
                + "p90 \(f(m.p90Ms, 2)) ms, p99 \(f(m.p99Ms, 2)) ms, max \(f(m.maxMs, 2)) ms, "
                + "server CPU \(f(m.serverCPUUsPerMessage)) us/msg, \(m.lost) lost"
            if m.bounced > 0 { out += ", \(m.bounced) bounced" }
            if m.disconnects > 0 { out += ", \(m.disconnects) sessions dropped" }
            out += "\n"
        } else if let steps = openLoop {
            out += "open loop (latency from the scheduled send time), \(steps.first.map { String(format: "%.0f", $0.seconds) } ?? "?") s per rate:\n"
            for step in steps {
                out += "  " + Self.line(step) + "\n"
                out += "    timeline: " + zip(step.perSecondReceived, step.perSecondMaxMs).map { "\($0)/\(f($1, 0))ms" }
                    .joined(separator: " ") + "\n"
            }
        } else {
            out += "messages: not run (logins failed)\n"
        }
        if let m = messages {
            out += "fairness: messages received per session: min \(m.perSessionMin), median \(m.perSessionMedian), max \(m.perSessionMax)\n"
        }
        if let m = messages, !m.perSecondReceived.isEmpty {
            out += "timeline: " + zip(m.perSecondReceived, m.perSecondMaxMs).map { "\($0)/\(f($1, 0))ms" }
                .joined(separator: " ") + "  (msgs received / worst latency, per second)\n"
        }
        out += "bench:    own CPU \(f(logins.benchCPUMsPerLogin, 2)) ms/login"
        if let m = messages { out += ", \(f(m.benchCPUUsPerMessage)) us/msg (window \(m.window) per sender)" }
        out += "\n"
        if workerRestarted { out += "WARNING: the c2s worker process changed during the run (crash or restart)\n" }
        for failure in logins.firstFailures { out += "login failure: \(failure)\n" }
        return out
    }

    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}

/// Latency percentiles (nearest rank) of a sample in nanoseconds, as milliseconds.
func percentileMs(_ sorted: [Int64], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
    return Double(sorted[max(0, min(sorted.count - 1, rank - 1))]) / 1_000_000
}
