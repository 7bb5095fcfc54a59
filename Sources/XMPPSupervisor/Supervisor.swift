import Foundation
import Logging
import XMPPConfig
import XMPPServer
import XMPPStore
#if canImport(Glibc)
import Glibc
#endif

/// The control plane: binds every listener, runs one worker process per listener,
/// restarts crashed workers, applies reloads and rolling restarts without dropping
/// connections, and records listener state in SQLite. It never carries a stanza.
///
/// All state is touched on `queue` only; threads that read worker messages, the
/// control socket and signals hop onto it.
public final class Supervisor: @unchecked Sendable {
    let queue = DispatchQueue(label: "xmppd.supervisor")
    var config: ServerConfig
    var slots: [ListenerSlot] = []
    var workersByPID: [pid_t: (WorkerProcess, ListenerSlot)] = [:]
    let store: ListenerStateStore
    let executable: String
    var logger: Logger
    let startedAt = Date().timeIntervalSince1970
    private var controlServer: ControlServer?
    var stopping = false
    private var stopReplies: [(ControlResponse) -> Void] = []
    /// Reloads and restarts run one at a time, in order of arrival.
    var operations: [(@escaping () -> Void) -> Void] = []
    var operationRunning = false
    private var signalSources: [DispatchSourceSignal] = []
    private var timers: [DispatchSourceTimer] = []

    /// Checks a config beyond its syntax (the modules' options) before a reload.
    let validate: (ServerConfig) throws -> Void

    public init(config: ServerConfig, executable: String, logger: Logger,
                validate: @escaping (ServerConfig) throws -> Void) throws {
        self.config = config
        self.validate = validate
        self.executable = executable
        self.logger = logger
        try FileManager.default.createDirectory(atPath: config.xmppd.stateDirectory, withIntermediateDirectories: true)
        // Credentials, rosters and archives: not for other users, whatever the umask
        // (SQLite gives its -wal and -shm files the database's mode; those an older
        // build left are tightened too).
        store = try ListenerStateStore(database: try SQLiteDatabase(path: config.databasePath))
        for suffix in ["", "-wal", "-shm"] { chmod(config.databasePath + suffix, 0o640) }
    }

    /// Binds, spawns, and serves until stopped. Throws only for start-up failures
    /// (a port in use, another instance running); nothing has been started then.
    public func run() throws -> Never {
        if let problem = ListenerWorker.unservedListeners(in: config).first { throw SupervisorError.message(problem) }
        try ListenerTLSMaterial.prepare(config, logger: logger)
        let server = ControlServer(path: config.controlSocketPath)
        try server.start { [weak self] request, reply in
            self?.queue.async { self?.handle(request, reply: reply) }
        }
        controlServer = server
        var bound: [ListenerSlot] = []
        do {
            for listener in config.listeners {
                bound.append(ListenerSlot(config: listener, fd: try ListenerSocket.bind(listener)))
            }
        } catch {
            for slot in bound { close(slot.fd) }
            server.stop()
            throw error
        }
        removeStaleMeshSockets()
        queue.sync {
            persist { try store.markAllStopped() }
            for slot in bound {
                slots.append(slot)
                spawnWorker(for: slot, as: .active)
            }
            installSignalHandlers()
            installTimers()
        }
        logger.info("xmppd supervisor \(getpid()) started with \(bound.count) listeners from \(config.configPath)")
        dispatchMain()
    }

    // MARK: workers

    enum WorkerRole { case active, replacement }

    func spawnWorker(for slot: ListenerSlot, as role: WorkerRole) {
        slot.generation += 1
        slot.tlsFingerprint = ListenerTLSMaterial.fingerprint(slot.config, in: config)
        let worker: WorkerProcess
        do {
            worker = try WorkerProcess.spawn(executable: executable, listenerID: slot.id, generation: slot.generation)
        } catch {
            logger.error("\(slot.config.keyPath): cannot spawn a worker: \(error)")
            persist { try store.setState(id: slot.id, state: .failed, pid: nil, generation: slot.generation) }
            slot.finishHandover(error: "cannot spawn a worker: \(error)")
            return
        }
        switch role {
        case .active: slot.active = worker
        case .replacement: slot.replacement = worker
        }
        workersByPID[worker.pid] = (worker, slot)
        guard let index = config.listeners.firstIndex(of: slot.config) else {
            logger.error("\(slot.config.keyPath): listener missing from config")
            return
        }
        worker.send(.setup(WorkerSetup(config: config, listenerIndex: index, generation: slot.generation)), passing: slot.fd)
        worker.startReading(on: queue) { [weak self] worker, message in self?.received(message, from: worker) }
        if role == .active || slot.active == nil {
            persist { try store.upsertListener(record(for: slot, state: .starting, pid: worker.pid)) }
        }
        persist { try store.recordEvent(listenerID: slot.id, pid: worker.pid, generation: slot.generation, event: .spawned, detail: "") }
        logger.info("\(slot.config.keyPath): spawned worker \(worker.pid) generation \(slot.generation)")
    }

    private func received(_ message: WorkerToSupervisor, from worker: WorkerProcess) {
        guard let (_, slot) = workersByPID[worker.pid] else { return }
        switch message {
        case .stats(let counters):
            worker.counters = counters
        case .ready:
            worker.phase = .ready
            slot.lastReadyAt = Date().timeIntervalSince1970
            persist { try store.recordEvent(listenerID: slot.id, pid: worker.pid, generation: worker.generation, event: .ready, detail: "") }
            if worker === slot.active {
                startAccepting(worker, in: slot)
                slot.finishHandover() // an added listener is now serving
            } else if worker === slot.replacement {
                if let old = slot.active {
                    // Strict order: the old worker stops accepting before the new one starts.
                    drain(old, in: slot)
                } else {
                    promoteReplacement(in: slot)
                }
            }
        case .stoppedAccepting:
            if slot.replacement != nil, slot.draining.contains(where: { $0 === worker }) {
                promoteReplacement(in: slot)
            } else if slot.removing && slot.active == nil && slot.replacement == nil {
                close(slot.fd)
                slot.finishHandover()
            }
        }
    }

    private func startAccepting(_ worker: WorkerProcess, in slot: ListenerSlot) {
        worker.send(.startAccepting)
        worker.phase = .accepting
        persist { try store.upsertListener(record(for: slot, state: .running, pid: worker.pid)) }
    }

    private func promoteReplacement(in slot: ListenerSlot) {
        guard let new = slot.replacement else { return }
        slot.replacement = nil
        slot.active = new
        startAccepting(new, in: slot)
        logger.info("\(slot.config.keyPath): worker \(new.pid) took over")
        slot.finishHandover()
    }

    func drain(_ worker: WorkerProcess, in slot: ListenerSlot) {
        if slot.active === worker { slot.active = nil }
        worker.phase = .draining
        slot.draining.append(worker)
        worker.send(.drain(deadlineMs: stopping ? 0 : config.xmppd.drainTimeoutMs))
        persist { try store.recordEvent(listenerID: slot.id, pid: worker.pid, generation: worker.generation, event: .draining, detail: "") }
        if slot.active == nil && slot.replacement == nil {
            persist { try store.setState(id: slot.id, state: .draining, pid: worker.pid, generation: worker.generation) }
        }
    }

    // MARK: exits

    func meshSocketPath(of pid: pid_t) -> String { "\(config.stateDirectory)/mesh/\(pid).sock" }

    /// Sockets of workers of an earlier run that did not stop cleanly.
    private func removeStaleMeshSockets() {
        let directory = config.stateDirectory + "/mesh"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where name.hasSuffix(".sock") {
            unlink("\(directory)/\(name)")
        }
    }

    /// Reaps exited workers (polled: a SIGCHLD handler cannot coexist safely with
    /// libdispatch's signal handling for every case, and 100 ms is plenty here).
    func reapChildren() {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid <= 0 { break }
            guard let (worker, slot) = workersByPID.removeValue(forKey: pid) else { continue }
            // A worker killed outright leaves its mesh socket file behind.
            unlink(meshSocketPath(of: pid))
            workerExited(worker, in: slot, detail: Self.describe(status: status))
        }
        if stopping && workersByPID.isEmpty { finishStop() }
    }

    private func workerExited(_ worker: WorkerProcess, in slot: ListenerSlot, detail: String) {
        worker.control.close()
        var final = worker.counters
        final.connectionsClosed += final.connectionsCurrent
        final.connectionsCurrent = 0
        slot.retired = slot.retired + final
        persist { try store.recordEvent(listenerID: slot.id, pid: worker.pid, generation: worker.generation, event: .exited, detail: detail) }
        logger.info("\(slot.config.keyPath): worker \(worker.pid) exited (\(detail))")
        if let index = slot.draining.firstIndex(where: { $0 === worker }) {
            slot.draining.remove(at: index)
            if slot.removing && slot.liveWorkers.isEmpty {
                persist { try store.setState(id: slot.id, state: .stopped, pid: nil, generation: slot.generation) }
                slots.removeAll { $0 === slot }
            }
            return
        }
        if stopping { return }
        if worker === slot.replacement {
            slot.replacement = nil
            slot.finishHandover(error: "the new worker for \(slot.config.keyPath) exited during start-up (\(detail))")
            return
        }
        if worker === slot.active {
            slot.active = nil
            crashed(slot, detail: detail)
        }
    }

    /// A crashed worker is restarted with exponential backoff; the socket stays open
    /// meanwhile, so connection attempts wait in the backlog.
    private func crashed(_ slot: ListenerSlot, detail: String) {
        if Date().timeIntervalSince1970 - slot.lastReadyAt > 10 { slot.consecutiveCrashes = 0 }
        slot.consecutiveCrashes += 1
        let base = Double(config.xmppd.workerRestartBackoffMs) / 1000
        let delay = min(30, base * pow(2, Double(slot.consecutiveCrashes - 1)))
        persist { try store.setState(id: slot.id, state: .failed, pid: nil, generation: slot.generation) }
        logger.warning("\(slot.config.keyPath): worker crashed (\(detail)); restarting in \(delay) s")
        slot.restartPending = true
        queue.asyncAfter(deadline: .now() + delay) { [self] in
            slot.restartPending = false
            guard !stopping, !slot.removing, slot.active == nil, slots.contains(where: { $0 === slot }) else { return }
            slot.restarts += 1
            persist { try store.incrementRestarts(id: slot.id) }
            persist { try store.recordEvent(listenerID: slot.id, pid: nil, generation: slot.generation + 1, event: .restarted, detail: "after \(detail)") }
            spawnWorker(for: slot, as: .active)
        }
    }

    static func describe(status: Int32) -> String {
        let signal = status & 0x7f
        if signal == 0 { return "exit status \((status >> 8) & 0xff)" }
        return "killed by signal \(signal)"
    }

    // MARK: stop

    func stop(reply: ((ControlResponse) -> Void)?) {
        if let reply { stopReplies.append(reply) }
        guard !stopping else { return }
        stopping = true
        logger.info("stopping: draining \(workersByPID.count) workers")
        // Workers already draining (after a reload or restart) hear it too: their
        // drain_timeout is cut short, so their sessions end cleanly now.
        for (worker, _) in workersByPID.values where worker.phase == .draining {
            worker.send(.drain(deadlineMs: 0))
        }
        for slot in slots {
            if let replacement = slot.replacement { drain(replacement, in: slot); slot.replacement = nil }
            if let active = slot.active { drain(active, in: slot) }
        }
        // Workers that ignore the drain get SIGKILL after a grace period.
        queue.asyncAfter(deadline: .now() + 10) { [self] in
            for pid in workersByPID.keys { kill(pid, SIGKILL) }
        }
        if workersByPID.isEmpty { finishStop() }
    }

    private func finishStop() {
        flushStats()
        persist { try store.markAllStopped() }
        for slot in slots { close(slot.fd) }
        for reply in stopReplies { reply(ControlResponse(ok: true, message: "stopped")) }
        controlServer?.stop()
        logger.info("stopped")
        // Give the reply threads a moment to write before the process ends.
        queue.asyncAfter(deadline: .now() + 0.1) { exit(0) }
    }

    // MARK: signals and timers

    private func installSignalHandlers() {
        for (signo, action) in [(SIGHUP, { [weak self] in self?.enqueueReload(reply: nil) }),
                                (SIGTERM, { [weak self] in self?.stop(reply: nil) }),
                                (SIGINT, { [weak self] in self?.stop(reply: nil) })] as [(Int32, () -> Void)] {
            signal(signo, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signo, queue: queue)
            source.setEventHandler(handler: action)
            source.resume()
            signalSources.append(source)
        }
        signal(SIGPIPE, SIG_IGN)
    }

    private func installTimers() {
        let reaper = DispatchSource.makeTimerSource(queue: queue)
        reaper.schedule(deadline: .now() + 0.1, repeating: 0.1)
        reaper.setEventHandler { [weak self] in self?.reapChildren() }
        reaper.resume()
        let stats = DispatchSource.makeTimerSource(queue: queue)
        stats.schedule(deadline: .now() + 1, repeating: 1)
        stats.setEventHandler { [weak self] in self?.flushStats() }
        stats.resume()
        timers = [reaper, stats]
    }
}
