import Foundation
import XMPPServer
import XMPPStore
#if canImport(Glibc)
import Glibc
#endif

/// A worker process as the supervisor sees it: its pid, its control channel and a
/// reader thread that forwards its messages.
final class WorkerProcess: @unchecked Sendable {
    let pid: pid_t
    let generation: Int
    let listenerID: String
    let control: ControlChannel
    /// Latest cumulative counters the worker reported.
    var counters = ListenerCounters()
    var phase: Phase = .starting

    enum Phase { case starting, ready, accepting, draining }

    private init(pid: pid_t, generation: Int, listenerID: String, control: ControlChannel) {
        self.pid = pid
        self.generation = generation
        self.listenerID = listenerID
        self.control = control
    }

    /// Spawns `executable worker` with its end of a SEQPACKET socket pair as fd 3.
    /// posix_spawn, never a bare fork(): this process is multi-threaded.
    static func spawn(executable: String, listenerID: String, generation: Int) throws -> WorkerProcess {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw SupervisorError.system("socketpair", errno)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // dup2 clears FD_CLOEXEC on the new descriptor, so fd 3 survives exec.
        posix_spawn_file_actions_adddup2(&actions, pair[1], WorkerMain.controlFD)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Reset signal dispositions the supervisor changed (it blocks and handles some).
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGHUP, SIGTERM, SIGCHLD, SIGPIPE, SIGINT] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = [executable, "worker", "--listener", listenerID]
        var cArgs = argv.map { strdup($0) } + [nil]
        defer { for arg in cArgs { free(arg) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attributes, &cArgs, environ)
        close(pair[1])
        guard rc == 0 else {
            close(pair[0])
            throw SupervisorError.system("posix_spawn \(executable)", rc)
        }
        return WorkerProcess(pid: pid, generation: generation, listenerID: listenerID,
                             control: ControlChannel(fd: pair[0]))
    }

    /// Reads the worker's messages on a thread of its own until EOF (the worker
    /// exited); each message is handed to `handler` on the supervisor's queue.
    func startReading(on queue: DispatchQueue, handler: @escaping (WorkerProcess, WorkerToSupervisor) -> Void) {
        let thread = Thread { [self] in
            while true {
                guard let (message, _) = (try? control.receive(WorkerToSupervisor.self)) ?? nil else { break }
                queue.async { handler(self, message) }
            }
        }
        thread.start()
    }

    func send(_ message: SupervisorToWorker, passing fd: Int32 = -1) {
        do { try control.send(message, passing: fd) } catch {
            // The worker died; its exit is handled by the SIGCHLD path.
        }
    }
}

enum SupervisorError: Error, CustomStringConvertible {
    case system(String, Int32)
    case message(String)
    var description: String {
        switch self {
        case .system(let what, let code): return "\(what): \(String(cString: strerror(code)))"
        case .message(let text): return text
        }
    }
}
