import ArgumentParser
import Foundation
import XMPPServer

/// `xmppctl sessions`: every bound session on any worker (ejabberdctl's
/// connected_users), from the session registry of a live worker.
struct Sessions: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bound sessions on every worker: full JID, worker pid, available, priority.")
    @OptionGroup var options: ConfigOption
    @Flag(help: "Machine-readable output.")
    var json = false

    func run() throws {
        let config = try options.load()
        let sessions: [SessionInfo]
        do { sessions = try SessionListing.fetch(stateDirectory: config.stateDirectory) } catch {
            fail("cannot list sessions: \(error)")
        }
        if json {
            try printJSON(sessions)
            return
        }
        if sessions.isEmpty { print("no sessions"); return }
        let width = max(3, sessions.map(\.jid.count).max() ?? 0)
        print("JID".padding(toLength: width, withPad: " ", startingAt: 0) + "  WORKER   AVAILABLE  PRIORITY")
        for session in sessions {
            print(session.jid.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                  + String(session.workerPID).padding(toLength: 7, withPad: " ", startingAt: 0) + "  "
                  + (session.available ? "yes" : "no").padding(toLength: 9, withPad: " ", startingAt: 0) + "  "
                  + String(session.priority))
        }
    }
}

/// `xmppctl kick JID`: ends one session with a stream error (ejabberdctl's
/// kick_session; `conflict` as MongooseIM's kick_user).
struct Kick: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "End one session (full JID) with a stream error.")
    @OptionGroup var options: ConfigOption
    @Argument(help: "The session's full JID, e.g. alice@localhost/phone.")
    var jid: String
    @Option(help: "The stream error condition.")
    var condition = "conflict"

    func run() throws {
        let config = try options.load()
        let kicked: Bool
        do { kicked = try SessionListing.kick(jid, condition: condition, stateDirectory: config.stateDirectory) } catch {
            fail("cannot kick \(jid): \(error)")
        }
        guard kicked else { fail("no session \(jid)") }
        print("kicked \(jid)")
    }
}

/// `xmppctl s2s`: the streams with other servers on every worker, both directions
/// (ejabberdctl's incoming_s2s_number and outgoing_s2s_number, with the detail).
struct S2S: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "s2s",
        abstract: "Server-to-server streams on every worker: direction, domains, state, TLS, worker pid.")
    @OptionGroup var options: ConfigOption
    @Flag(help: "Machine-readable output.")
    var json = false

    func run() throws {
        let config = try options.load()
        let streams: [S2SStreamInfo]
        do { streams = try S2SDirectory.fetch(stateDirectory: config.stateDirectory) } catch {
            fail("cannot list s2s streams: \(error)")
        }
        if json {
            try printJSON(streams)
            return
        }
        if streams.isEmpty { print("no s2s streams"); return }
        let local = max(5, streams.map(\.localDomain.count).max() ?? 0)
        let remote = max(6, streams.map(\.remoteDomain.count).max() ?? 0)
        func column(_ text: String, _ width: Int) -> String { text.padding(toLength: width, withPad: " ", startingAt: 0) }
        print("DIR  " + column("LOCAL", local) + "  " + column("REMOTE", remote) + "  STATE        TLS  AUTH      WORKER")
        for stream in streams {
            print(column(stream.direction, 3) + "  " + column(stream.localDomain, local) + "  " + column(stream.remoteDomain, remote)
                  + "  " + column(stream.state, 11) + "  " + column(stream.tls ? "yes" : "no", 3)
                  + "  " + column(stream.auth ?? "-", 8) + "  " + String(stream.workerPID))
        }
    }
}
