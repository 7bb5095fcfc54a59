import CPosix
import Foundation
import XMPPConfig
#if canImport(Glibc)
import Glibc
#endif

/// `xmppd start` without --foreground: re-runs itself in the foreground in a new
/// session with output to <state_dir>/xmppd.log, and returns once the supervisor
/// answers on its control socket (or fails with the log's last lines).
public enum Daemon {
    public static func startInBackground(executable: String, config: ServerConfig) throws -> pid_t {
        try FileManager.default.createDirectory(atPath: config.xmppd.stateDirectory, withIntermediateDirectories: true)
        let logPath = config.xmppd.stateDirectory + "/xmppd.log"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, cposix_spawn_setsid_flag())
        let argv = [executable, "start", "--foreground", "-c", config.configPath]
        var cArgs = argv.map { strdup($0) } + [nil]
        defer { for arg in cArgs { free(arg) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attributes, &cArgs, environ)
        guard rc == 0 else { throw SupervisorError.system("posix_spawn", rc) }
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if let response = try? ControlClient.send(ControlRequest(command: .status), path: config.controlSocketPath),
               response.status?.pid == pid {
                return pid
            }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
                let tail = log.split(separator: "\n").suffix(5).joined(separator: "\n")
                throw SupervisorError.message("xmppd failed to start:\n\(tail)")
            }
            usleep(50_000)
        }
        throw SupervisorError.message("xmppd did not answer on \(config.controlSocketPath) within 30 s; see \(logPath)")
    }
}
