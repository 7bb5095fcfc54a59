import CPosix
import Foundation
import Logging
import XMPPConfig
import XMPPModuleAPI
#if canImport(Glibc)
import Glibc
#endif

/// Entry point of a worker process (`xmppd worker`), spawned by the supervisor
/// with its end of the control socket as fd 3.
public enum WorkerMain {
    public static let controlFD: Int32 = 3

    public static func run(modules: [ServerModule.Type]) -> Never {
        signal(SIGPIPE, SIG_IGN)
        // SIGTERM and SIGINT belong to the supervisor: a worker stops when told to
        // (or when the control socket closes), so a Ctrl-C in a terminal does not
        // cut sessions behind the supervisor's back.
        signal(SIGINT, SIG_IGN)
        let control = ControlChannel(fd: controlFD)
        var logger = Logger(label: "xmppd.worker")
        do {
            guard let (message, fd) = try control.receive(SupervisorToWorker.self),
                  case .setup(let setup) = message, fd >= 0 else {
                fputs("xmppd worker: expected a setup message with a listening socket on fd 3\n", stderr)
                exit(2)
            }
            logger.logLevel = LogLevelMapping.level(setup.config.general.loglevel)
            logger[metadataKey: "pid"] = "\(getpid())"
            logger[metadataKey: "gen"] = "\(setup.generation)"
            let worker = ListenerWorker(setup: setup, modules: modules, logger: logger)
            try worker.adopt(listeningFD: fd)
            try control.send(WorkerToSupervisor.ready)
            startStatsReporter(worker: worker, control: control)
            serveControl(worker: worker, control: control, logger: logger)
        } catch {
            fputs("xmppd worker: \(error)\n", stderr)
            exit(1)
        }
    }

    private static func serveControl(worker: ListenerWorker, control: ControlChannel, logger: Logger) -> Never {
        let defaultDeadline = worker.setup.config.xmppd.drainTimeoutMs
        while true {
            let message: SupervisorToWorker?
            do { message = try control.receive(SupervisorToWorker.self)?.0 } catch {
                logger.error("control channel: \(error)")
                message = nil
            }
            switch message {
            case .startAccepting:
                do { try worker.startAccepting() } catch { logger.error("start accepting: \(error)"); exit(1) }
                logger.info("accepting on \(worker.setup.listener.bindKey)")
            case .drain(let deadlineMs):
                drainAndExit(worker: worker, control: control, deadlineMs: deadlineMs, logger: logger)
            case .setup:
                logger.warning("ignoring a second setup message")
            case nil:
                // The supervisor is gone: nobody will restart us or count for us.
                drainAndExit(worker: worker, control: nil, deadlineMs: min(defaultDeadline, 5000), logger: logger)
            }
        }
    }

    /// Stop accepting, let sessions finish until the deadline, then end the rest with
    /// `<system-shutdown/>` and exit. A later drain request (a stop) shortens the
    /// deadline: the control socket is still read meanwhile.
    private static func drainAndExit(worker: ListenerWorker, control: ControlChannel?, deadlineMs: Int, logger: Logger) -> Never {
        let clock = DrainClock(deadlineMs: deadlineMs)
        if let control { watchForShorterDrain(control, clock: clock, logger: logger) }
        do { try worker.stopAccepting() } catch { logger.error("stop accepting: \(error)") }
        try? control?.send(WorkerToSupervisor.stoppedAccepting)
        logger.info("draining \(worker.connections.count) connections, deadline \(deadlineMs) ms")
        clock.wait(until: { worker.connections.count == 0 })
        // A worker replaced by a reload or restart only disconnects resumable XEP-0198
        // sessions: their clients resume them on the new worker, which takes each over
        // from this one, so this one waits for that a while.
        if worker.connections.count > 0 {
            worker.connections.terminateAll(condition: "system-shutdown", allowResumption: clock.handingOver)
            clock.wait(until: { worker.connections.count == 0 }, limit: Date().addingTimeInterval(1), step: 20_000)
        }
        if worker.resumption.suspendedCount > 0 {
            logger.info("waiting for \(worker.resumption.suspendedCount) suspended sessions to be resumed elsewhere")
            let limit = Date().addingTimeInterval(resumptionGrace)
            clock.wait(until: { worker.resumption.suspendedCount == 0 || !clock.handingOver }, limit: limit)
            // The rest end here: their unacked messages go to offline storage.
            worker.resumption.expireAll()
            usleep(300_000) // let rerouted stanzas leave through the mesh
        }
        try? control?.send(WorkerToSupervisor.stats(worker.stats.snapshot))
        worker.leaveMesh()
        exit(0)
    }

    /// Reads the control socket while draining: a stop arriving then shortens the drain.
    private static func watchForShorterDrain(_ control: ControlChannel, clock: DrainClock, logger: Logger) {
        Thread {
            while true {
                guard let message = try? control.receive(SupervisorToWorker.self)?.0 else {
                    // The supervisor is gone: finish soon, as when it goes before a drain.
                    return clock.shorten(toMs: 5000)
                }
                if case .drain(let deadlineMs) = message {
                    logger.info("drain deadline shortened to \(deadlineMs) ms")
                    clock.shorten(toMs: deadlineMs)
                }
            }
        }.start()
    }

    /// How long a replaced worker keeps suspended sessions for their clients to
    /// resume elsewhere before ending them.
    static let resumptionGrace: TimeInterval = 30

    private static func startStatsReporter(worker: ListenerWorker, control: ControlChannel) {
        let thread = Thread {
            var last = worker.stats.snapshot
            try? control.send(WorkerToSupervisor.stats(last))
            var seconds = 0
            while true {
                sleep(1)
                seconds += 1
                let now = worker.stats.snapshot
                if now != last {
                    last = now
                    try? control.send(WorkerToSupervisor.stats(now))
                }
                // Sessions free their parser state when idle (hibernate_after), but
                // glibc keeps freed memory in its arenas: hand it back to the system
                // now and then, so idle sessions cost what they hold.
                if seconds % 5 == 0 { _ = cposix_malloc_trim() }
            }
        }
        thread.start()
    }
}

public enum LogLevelMapping {
    /// MongooseIM's loglevel names onto swift-log's levels.
    public static func level(_ name: String) -> Logger.Level {
        switch name {
        case "none", "emergency", "alert", "critical": return .critical
        case "error": return .error
        case "warning": return .warning
        case "notice": return .notice
        case "info": return .info
        case "debug": return .debug
        default: return .trace
        }
    }
}
