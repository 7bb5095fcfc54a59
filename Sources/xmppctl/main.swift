import ArgumentParser
import Foundation
import XMPPConfig
import XMPPModules
import XMPPSASL
import XMPPServer
import XMPPStore
import XMPPSupervisor

struct XMPPCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "xmppctl",
        abstract: "Control a running xmppd and manage its accounts.",
        subcommands: [Reload.self, Restart.self, Stop.self, Status.self, Listeners.self, Components.self, Sessions.self, Kick.self, S2S.self, Events.self,
                      Register.self, Unregister.self, Passwd.self])
}

/// xmppctl finds the server from the same config file it was started with, so
/// several instances can run side by side.
struct ConfigOption: ParsableArguments {
    @Option(name: [.customShort("c"), .long], help: "Configuration file of the server.")
    var config: String = ProcessInfo.processInfo.environment["XMPPD_CONFIG"] ?? "etc/xmppd.toml"

    func load() throws -> ServerConfig {
        do { return try ServerConfig.load(path: config) } catch {
            fail("\(error)")
        }
    }
}

/// `--json` output: pretty, keys sorted, so scripts and people can both read it.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("xmppctl: \(message)\n".utf8))
    Foundation.exit(1)
}

/// Sends a control command to the running server and prints its answer.
func control(_ command: ControlRequest.Command, options: ConfigOption) throws -> ControlResponse {
    let config = try options.load()
    let response: ControlResponse
    do { response = try ControlClient.send(ControlRequest(command: command), path: config.controlSocketPath) } catch {
        fail("\(error)")
    }
    guard response.ok else { fail(response.message) }
    return response
}

struct Reload: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-read the configuration; changed listeners get new workers without dropping connections.")
    @OptionGroup var options: ConfigOption
    func run() throws {
        // control() parses the file here first: a bad file is reported without a round trip.
        print(try control(.reload, options: options).message)
    }
}

struct Restart: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Replace every worker, one at a time (rolling restart).")
    @OptionGroup var options: ConfigOption
    func run() throws { print(try control(.restart, options: options).message) }
}

struct Stop: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop the server gracefully.")
    @OptionGroup var options: ConfigOption
    func run() throws { print(try control(.stop, options: options).message) }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Is the server running? Prints its pid and workers.")
    @OptionGroup var options: ConfigOption
    func run() throws {
        let response = try control(.status, options: options)
        guard let status = response.status else { return print(response.message) }
        let uptime = Int(Date().timeIntervalSince1970 - status.startedAt)
        print("xmppd running: supervisor pid \(status.pid), up \(ListenerTable.duration(uptime)), config \(status.configPath)")
        for listener in status.listeners {
            let draining = listener.drainingPIDs.isEmpty ? "" : " (draining: \(listener.drainingPIDs.map(String.init).joined(separator: ", ")))"
            print("  \(listener.keyPath) \(listener.id): worker \(listener.pid.map(String.init) ?? "-") gen \(listener.generation)\(draining)")
        }
    }
}

struct Listeners: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Listener state and counters, read from the state database (works after a crash too).")
    @OptionGroup var options: ConfigOption
    @Flag(help: "Machine-readable output.")
    var json = false

    func run() throws {
        let config = try options.load()
        let records: [ListenerRecord]
        do {
            records = try ListenerStateStore(database: try SQLiteDatabase(path: config.databasePath)).loadListeners()
        } catch { fail("cannot read \(config.databasePath): \(error)") }
        if json {
            try printJSON(records)
        } else {
            print(ListenerTable.render(records))
        }
    }
}

struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The worker event log: spawned, ready, draining, exited (with status or signal), restarted.")
    @OptionGroup var options: ConfigOption
    @Option(help: "How many of the latest events.") var limit = 50
    @Flag(help: "Machine-readable output.") var json = false

    func run() throws {
        let config = try options.load()
        let events: [WorkerEventRecord]
        do {
            events = try ListenerStateStore(database: try SQLiteDatabase(path: config.databasePath))
                .loadEvents(limit: limit).reversed()
        } catch { fail("cannot read \(config.databasePath): \(error)") }
        if json {
            print(String(decoding: try JSONEncoder().encode(events), as: UTF8.self))
            return
        }
        let formatter = ISO8601DateFormatter()
        for event in events {
            let time = formatter.string(from: Date(timeIntervalSince1970: event.at))
            let pid = event.pid.map { "pid \($0)" } ?? "-"
            print("\(time)  \(event.listenerID)  gen \(event.generation)  \(pid)  \(event.event.rawValue)  \(event.detail ?? "")")
        }
    }
}

/// Account commands use the same words as ejabberdctl and prosodyctl.
struct AccountArguments: ParsableArguments {
    @Argument(help: "User name (the local part of the JID).") var user: String
    @Argument(help: "A domain the server serves ([general] hosts).") var domain: String

    func store(_ config: ServerConfig) throws -> AccountStore {
        guard config.hosts.contains(domain.lowercased()) else {
            fail("unknown domain \(domain): this server serves \(config.hosts.joined(separator: ", "))")
        }
        do { return try AccountStore(database: try SQLiteDatabase(path: config.databasePath)) } catch {
            fail("cannot open \(config.databasePath): \(error)")
        }
    }
}

struct Register: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create an account.")
    @OptionGroup var options: ConfigOption
    @OptionGroup var account: AccountArguments
    @Argument(help: "Password (stored only as salted SCRAM keys).") var password: String
    func run() throws {
        let config = try options.load()
        do {
            try account.store(config).register(user: account.user, domain: account.domain.lowercased(), password: password,
                                               iterations: config.auth.scramIterations, hashes: config.auth.scramHashes)
        } catch { fail("\(error)") }
        print("User \(account.user.lowercased())@\(account.domain.lowercased()) successfully registered")
    }
}

struct Unregister: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete an account and its data (roster, offline messages, archive, private storage, blocklist).")
    @OptionGroup var options: ConfigOption
    @OptionGroup var account: AccountArguments
    func run() throws {
        let config = try options.load()
        do {
            try account.store(config).unregister(user: account.user, domain: account.domain.lowercased(),
                                                 data: ModuleCatalog.all.flatMap { $0.perUserTables })
        } catch {
            fail("\(error)")
        }
        print("User \(account.user.lowercased())@\(account.domain.lowercased()) unregistered")
    }
}

struct Passwd: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Change an account's password.")
    @OptionGroup var options: ConfigOption
    @OptionGroup var account: AccountArguments
    @Argument(help: "New password.") var password: String
    func run() throws {
        let config = try options.load()
        do {
            try account.store(config).setPassword(user: account.user, domain: account.domain.lowercased(), password: password,
                                                  iterations: config.auth.scramIterations, hashes: config.auth.scramHashes)
        } catch { fail("\(error)") }
        print("Password changed for \(account.user.lowercased())@\(account.domain.lowercased())")
    }
}

umask(0o027)   // as xmppd: a database or file made here is not for other users
XMPPCtl.main()
