import ArgumentParser
import Foundation
import Logging
import XMPPConfig
import XMPPModules
import XMPPServer
import XMPPSupervisor
#if canImport(Glibc)
import Glibc
#endif

struct XMPPD: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "xmppd",
        abstract: "An XMPP server: a supervisor and one worker process per listener.",
        subcommands: [Start.self, CheckConfig.self, Worker.self])
}

/// `-c FILE`, shared by the commands; XMPPD_CONFIG or etc/xmppd.toml by default.
struct ConfigOption: ParsableArguments {
    @Option(name: [.customShort("c"), .long], help: "Configuration file.")
    var config: String = ProcessInfo.processInfo.environment["XMPPD_CONFIG"] ?? "etc/xmppd.toml"

    func load() throws -> ServerConfig {
        do { return try ServerConfig.load(path: config) } catch {
            throw ValidationError("\(error)")
        }
    }
}

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config", abstract: "Validate the configuration and exit 0 (valid) or 1 (invalid), like nginx -t.")
    @OptionGroup var options: ConfigOption

    func run() throws {
        do {
            let config = try ServerConfig.load(path: options.config)
            try ModuleCatalog.validate(config)
            try ListenerTLSMaterial.prepare(config, logger: nil, checkOnly: true)
            let unserved = ListenerWorker.unservedListeners(in: config)
            guard unserved.isEmpty else {
                FileHandle.standardError.write(Data((unserved.map { "\(options.config): \($0)" }.joined(separator: "\n") + "\n").utf8))
                throw ExitCode(1)
            }
            print("\(options.config): configuration OK (\(config.listeners.count) listeners, hosts: \(config.hosts.joined(separator: ", ")))")
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

struct Start: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Start the server (in the background unless --foreground).")
    @OptionGroup var options: ConfigOption
    @Flag(help: "Stay in the foreground and log to standard error.")
    var foreground = false

    func run() throws {
        let config: ServerConfig
        do {
            config = try ServerConfig.load(path: options.config)
            try ModuleCatalog.validate(config)
        } catch {
            FileHandle.standardError.write(Data("xmppd: \(error)\n".utf8))
            throw ExitCode(1)
        }
        if let problem = ListenerWorker.unservedListeners(in: config).first {
            FileHandle.standardError.write(Data("xmppd: \(problem)\n".utf8))
            throw ExitCode(1)
        }
        let executable = Executable.path()
        if !foreground {
            let pid = try Daemon.startInBackground(executable: executable, config: config)
            print("xmppd started (supervisor pid \(pid)); log: \(config.xmppd.stateDirectory)/xmppd.log")
            return
        }
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        var logger = Logger(label: "xmppd.supervisor")
        logger.logLevel = LogLevelMapping.level(config.general.loglevel)
        do {
            let supervisor = try Supervisor(config: config, executable: executable, logger: logger,
                                            validate: ModuleCatalog.validate)
            try supervisor.run()
        } catch {
            FileHandle.standardError.write(Data("xmppd: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

struct Worker: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Internal: a worker process, spawned by the supervisor.", shouldDisplay: false)
    @Option(help: "The listener this worker serves (informational: shows in ps).")
    var listener: String = ""

    func run() throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        WorkerMain.run(modules: ModuleCatalog.all)
    }
}

enum Executable {
    /// The binary workers are spawned from. Resolved once at start, so a rolling
    /// restart after an upgrade in place runs the new binary.
    static func path() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if n > 0 { return String(cString: buffer) }
        return CommandLine.arguments[0]
    }
}

// As Prosody's default: files the server makes (database, log, sockets) are not for
// other users; the supervisor's workers inherit it.
umask(0o027)
XMPPD.main()
