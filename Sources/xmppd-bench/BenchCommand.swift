import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import XMPPSASL

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "xmppd-bench",
        abstract: "Load generator for a running xmppd: logins, idle sessions and chat messages over c2s (plaintext, STARTTLS or TLS, as the listener is configured).",
        discussion: """
            Creates accounts bench0..bench<N-1> in the server's database, logs N clients in \
            (SCRAM-SHA-256, bind, presence; with several c2s listeners user i uses listener i mod L), \
            measures idle memory of the c2s workers, then sends chat messages from user i to user \
            (i+offset) mod N: with two or more listeners --pairing cross (offset 1, every message \
            crosses the worker mesh) or same (offset L, sender and receiver on one worker). \
            Without --rate/--rates a closed loop (--window messages in flight per sender) measures \
            throughput; with them an open loop sends at a fixed rate on a clock and measures latency \
            from each message's scheduled send time (no coordinated omission), one line per rate. \
            Exits 1 when a login failed or a message was lost.
            """)

    @Option(name: .shortAndLong, help: "Config file of the running server.")
    var config: String

    @Option(name: [.customShort("n"), .long], help: "Number of users and sessions.")
    var users = 500

    @Option(help: "Logins negotiating at the same time.")
    var concurrency = 50

    @Option(name: .shortAndLong, help: "Messages in flight per sender.")
    var window = 4

    @Option(name: .shortAndLong, help: "Seconds of message traffic.")
    var duration = 10.0

    @Option(name: .shortAndLong, help: "Stop after this many messages in all (0: only the duration bounds the run).")
    var messages = 0

    @Option(help: "User i sends to user (i + offset) mod N (default: from --pairing).")
    var peerOffset: Int?

    enum Pairing: String, ExpressibleByArgument, Codable { case cross, same }

    @Option(help: "With several c2s listeners: cross (receiver on another listener's worker, through the mesh) or same (on the sender's).")
    var pairing = Pairing.cross

    @Option(help: "Open loop: messages per second in all, for --duration seconds.")
    var rate: Double?

    @Option(help: "Open loop sweep: comma-separated rates, each for --duration seconds, e.g. 5000,10000,20000.")
    var rates: String?

    @Option(help: "Open loop: seconds at the first rate before measuring (not reported).")
    var warmup = 2.0

    @Option(help: "Open loop sweep: stop after a rate whose p99 exceeds this many ms, or that lost messages.")
    var stopAboveMs = 1000.0

    @Option(help: "Seconds of idle sessions before the idle memory is read (the worker trims every 5 s).")
    var idleWait = 6.0

    @Option(help: "Seconds to wait for messages still in flight at the end.")
    var drainTimeout = 10.0

    @Option(help: "Event loop threads of the load generator.")
    var threads = 2

    @Flag(help: "Print the figures as JSON instead of text.")
    var json = false

    func validate() throws {
        guard users >= 2 else { throw ValidationError("--users must be at least 2") }
        guard concurrency >= 1, window >= 1, threads >= 1 else {
            throw ValidationError("--concurrency, --window and --threads must be positive")
        }
        if let peerOffset {
            guard peerOffset >= 1, peerOffset % users != 0 else { throw ValidationError("--peer-offset must be positive and not a multiple of --users") }
        }
        guard rate == nil || rates == nil else { throw ValidationError("give --rate or --rates, not both") }
        guard (try? openLoopRates()) != nil else { throw ValidationError("--rate/--rates must be positive numbers") }
        guard warmup >= 0, idleWait >= 0 else { throw ValidationError("--warmup and --idle-wait must not be negative") }
        guard duration > 0, messages >= 0, drainTimeout >= 0 else {
            throw ValidationError("--duration must be positive, --messages and --drain-timeout not negative")
        }
    }

    /// The open-loop rates asked for; empty for the closed loop.
    func openLoopRates() throws -> [Double] {
        if let rate { guard rate > 0 else { throw ValidationError("") }; return [rate] }
        guard let rates else { return [] }
        let values = rates.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else { throw ValidationError("") }
        return values.map { $0! }
    }

    /// User i sends to (i + offset) mod N. Users sit on listener i mod L, so offset 1
    /// crosses to the next listener and offset L stays on the sender's.
    func effectiveOffset(listeners: Int) throws -> Int {
        if let peerOffset { return peerOffset }
        guard listeners > 1 else { return 1 }
        switch pairing {
        case .cross:
            guard users % listeners == 0 else {
                throw ValidationError("--pairing cross needs --users to be a multiple of the \(listeners) listeners")
            }
            return 1
        case .same:
            guard users % listeners == 0, users / listeners >= 2 else {
                throw ValidationError("--pairing same needs --users to be a multiple of the \(listeners) listeners, at least 2 each")
            }
            return listeners
        }
    }

    func run() throws {
        raiseFileLimit(to: users + 64)
        let target = try Target(configPath: config)
        let dbPath = target.config.databasePath
        let iterations = target.config.auth.scramIterations
        var figures = Figures()
        figures.users = users
        figures.host = target.host
        figures.port = target.port
        figures.transport = target.tlsMode.map { $0 == .tls ? "tls" : "starttls" } ?? "plaintext"
        figures.ports = target.endpoints.map(\.port)
        let peerOffset = try effectiveOffset(listeners: target.endpoints.count)
        figures.peerOffset = peerOffset
        figures.pairing = target.endpoints.count < 2 ? "one listener"
            : (users % target.endpoints.count == 0 && peerOffset % target.endpoints.count == 0 ? "same" : "cross")
        let openRates = try openLoopRates()

        progress("registering \(users) accounts on \(target.domain)")
        let created = try Accounts.register(count: users, domain: target.domain, databasePath: dbPath,
                                            iterations: iterations, threads: max(1, threads))
        let pids = try target.workerPIDs()
        figures.workerPID = pids[0]
        figures.workerPIDs = pids
        let worker = ProcessGroupStats(pids: pids)
        progress("\(created) accounts created; c2s worker pid(s) \(pids.map(String.init).joined(separator: ", ")); deriving client SCRAM keys")
        let keys = SCRAMKeyCache(hash: .sha256)
        try Accounts.warm(cache: keys, count: users, domain: target.domain, databasePath: dbPath, threads: max(1, threads))

        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        defer { try? group.syncShutdownGracefully() }
        let registry = StatsRegistry(group: group)
        let peers = PeerTable()

        // Logins.
        figures.idle.rssBeforeKiB = try worker.rssKiB()
        progress("logging in \(users) users, \(concurrency) at a time")
        let cpu0 = try worker.cpuMilliseconds(), own0 = ownCPUNanos(), t0 = monotonicNanos()
        let logins = LoginPhase(target: target, group: group, registry: registry, peers: peers, keys: keys,
                                users: users, concurrency: concurrency).run()
        let t1 = monotonicNanos(), cpu1 = try worker.cpuMilliseconds(), own1 = ownCPUNanos()
        let connections = logins.connections.compactMap { $0 }
        figures.logins.ok = connections.count
        figures.logins.failed = logins.failures.count
        figures.logins.firstFailures = Array(logins.failures.prefix(5))
        figures.logins.seconds = Double(t1 - t0) / 1e9
        figures.logins.perSecond = Double(connections.count) / figures.logins.seconds
        figures.logins.serverCPUMsPerLogin = (cpu1 - cpu0) / Double(users)
        figures.logins.benchCPUMsPerLogin = Double(own1 - own0) / 1e6 / Double(users)

        // Idle sessions: long enough for the worker to hibernate them and return freed
        // login-time memory to the system (it trims every 5 s).
        Thread.sleep(forTimeInterval: idleWait)
        figures.idle.rssAfterKiB = try worker.rssKiB()
        figures.idle.kibPerSession = (figures.idle.rssAfterKiB - figures.idle.rssBeforeKiB) / Double(max(1, connections.count))

        // Messages, only when every user is online (user i's peer must exist).
        if logins.failures.isEmpty && !openRates.isEmpty {
            peers.set(logins.connections)
            figures.openLoop = try runOpenLoop(rates: openRates, connections: connections, registry: registry,
                                               workers: worker, peerOffset: peerOffset)
        } else if logins.failures.isEmpty {
            peers.set(logins.connections)
            progress("messages i -> i+\(peerOffset) for \(duration) s\(messages > 0 ? " or \(messages) messages" : ""), window \(window)")
            let cpu2 = try worker.cpuMilliseconds(), own2 = ownCPUNanos()
            let result = try MessagePhase(connections: connections, registry: registry, window: window,
                                          duration: duration, total: messages, drainTimeout: drainTimeout,
                                          peerOffset: peerOffset).run()
            let cpu3 = try worker.cpuMilliseconds(), own3 = ownCPUNanos()
            let totals = result.totals
            var m = Figures.Messages()
            m.window = window
            m.sent = totals.sent
            m.received = totals.received
            m.bounced = totals.bounced
            m.lost = totals.sent - totals.received - totals.bounced
            m.disconnects = totals.disconnects
            m.seconds = totals.lastReceive > totals.firstSend ? Double(totals.lastReceive - totals.firstSend) / 1e9 : 0
            m.perSecond = m.seconds > 0 ? Double(m.received) / m.seconds : 0
            let sorted = result.latencies.sorted()
            m.p50Ms = percentileMs(sorted, 50)
            m.p90Ms = percentileMs(sorted, 90)
            m.p99Ms = percentileMs(sorted, 99)
            m.maxMs = sorted.last.map { Double($0) / 1e6 } ?? 0
            m.serverCPUUsPerMessage = m.received > 0 ? (cpu3 - cpu2) * 1000 / Double(m.received) : 0
            m.benchCPUUsPerMessage = m.received > 0 ? Double(own3 - own2) / 1e3 / Double(m.received) : 0
            m.perSecondReceived = result.timeline.map(\.received)
            m.perSecondMaxMs = result.timeline.map(\.maxMs)
            m.perSessionMin = result.perSession.first ?? 0
            m.perSessionMedian = result.perSession.isEmpty ? 0 : result.perSession[result.perSession.count / 2]
            m.perSessionMax = result.perSession.last ?? 0
            figures.messages = m
        }

        // Goodbye: close every stream, then check the worker is the one we measured.
        progress("closing \(connections.count) sessions")
        let closes = connections.map { c in c.loop.flatSubmit { c.close() } }
        _ = try? EventLoopFuture.andAllComplete(closes, on: group.next()).wait()
        if let now = try? target.workerPIDs(timeout: 2) { figures.workerRestarted = now != pids } else {
            figures.workerRestarted = true
        }

        print(json ? figures.json : figures.text, terminator: json ? "\n" : "")
        if !figures.passed { throw ExitCode(1) }
    }

    /// Open loop: an optional warm-up, then one step per rate (stopping early once a
    /// rate is clearly beyond the server), each printed as it ends.
    private func runOpenLoop(rates: [Double], connections: [BenchConnection], registry: StatsRegistry,
                             workers: ProcessGroupStats, peerOffset: Int) throws -> [OpenLoopPhase.Step] {
        let phase = OpenLoopPhase(
            schedulers: try OpenLoopPhase.schedulers(connections: connections, registry: registry,
                                                     peerOffset: peerOffset, users: users),
            registry: registry, workers: workers, drainTimeout: drainTimeout)
        if warmup > 0 {
            progress("warm-up: \(Int(rates[0])) msg/s for \(warmup) s")
            let w = try phase.run(step: 0, rate: rates[0], duration: warmup)
            progress("warm-up: p99 \(String(format: "%.2f", w.p99Ms)) ms, \(w.lost) lost")
        }
        var steps: [OpenLoopPhase.Step] = []
        for (k, rate) in rates.enumerated() {
            progress("open loop: \(Int(rate)) msg/s for \(duration) s, i -> i+\(peerOffset)")
            let step = try phase.run(step: k + 1, rate: rate, duration: duration)
            steps.append(step)
            if !json { print(Figures.line(step)); fflush(stdout) }
            if step.p99Ms > stopAboveMs || step.lost > 0 || step.disconnects > 0 {
                if k + 1 < rates.count { progress("stopping the sweep: p99 \(String(format: "%.1f", step.p99Ms)) ms, \(step.lost) lost") }
                break
            }
            Thread.sleep(forTimeInterval: 1)
        }
        return steps
    }

    private func progress(_ text: String) {
        FileHandle.standardError.write(Data("xmppd-bench: \(text)\n".utf8))
    }
}

/// N sessions need N descriptors; the soft limit is often 1024.
private func raiseFileLimit(to wanted: Int) {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < rlim_t(wanted) else { return }
    limit.rlim_cur = min(limit.rlim_max, rlim_t(wanted))
    _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}
