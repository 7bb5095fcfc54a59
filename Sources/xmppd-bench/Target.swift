import Foundation
import XMPPConfig
import XMPPStore
import XMPPTLS

/// The running server under test, as described by its config file.
struct Target {
    /// One c2s listener: users are spread over all of them (user i on listener i mod L).
    struct Endpoint {
        let listener: ListenerConfig
        /// Address the bench connects to (a wildcard listener is reached on loopback).
        let host: String
        let port: Int
    }

    let config: ServerConfig
    /// Every c2s listener of the config, in file order; each is served by its own worker.
    let endpoints: [Endpoint]
    let domain: String
    /// The listener's TLS: the bench negotiates it like a client (STARTTLS, or TLS
    /// from the first byte), without verifying the server's certificate. Taken from
    /// the first c2s listener; the others must be configured alike.
    let tlsMode: TLSMode?
    let tls: TLSContext?

    var host: String { endpoints[0].host }
    var port: Int { endpoints[0].port }

    init(configPath: String) throws {
        config = try ServerConfig.load(path: configPath)
        let c2s = config.listeners.filter { $0.type == .c2s }
        guard !c2s.isEmpty else {
            throw BenchError("\(configPath) has no [[listen.c2s]] listener")
        }
        endpoints = c2s.map { listener in
            let host: String
            switch listener.ipAddress {
            case "0.0.0.0": host = "127.0.0.1"
            case "::": host = "::1"
            default: host = listener.ipAddress
            }
            return Endpoint(listener: listener, host: host, port: listener.port)
        }
        guard let first = config.hosts.first else { throw BenchError("\(configPath) serves no hosts") }
        domain = first
        let mode = c2s[0].c2s?.tls.mode
        tlsMode = mode
        guard c2s.allSatisfy({ $0.c2s?.tls.mode == mode }) else {
            throw BenchError("\(configPath): the c2s listeners differ in tls.mode; the bench needs them alike")
        }
        tls = tlsMode == nil ? nil : try TLSContext.client(verify: false)
    }

    /// The listener user `i` of `users` logs in on: round robin, so with two listeners
    /// even users are on the first and odd users on the second.
    func endpoint(forUser i: Int) -> Endpoint { endpoints[i % endpoints.count] }

    /// PIDs of the worker processes serving the c2s listeners, in listener order.
    func workerPIDs(timeout: Double = 15) throws -> [Int32] {
        try endpoints.map { try workerPID(port: $0.port, timeout: timeout) }
    }

    /// PID of the worker process serving the c2s listener on `port`, from the state
    /// database the supervisor keeps (what `xmppctl listeners --json` prints). Waits
    /// for it to be running.
    func workerPID(port: Int, timeout: Double = 15) throws -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        var last = "no listener record yet"
        while true {
            do {
                let store = try ListenerStateStore(database: try SQLiteDatabase(path: config.databasePath))
                let records = try store.loadListeners()
                if let record = records.first(where: { $0.type == "c2s" && $0.port == port }) {
                    if record.state == .running, let pid = record.workerPID, kill(pid, 0) == 0 { return pid }
                    last = "listener \(record.id) is \(record.state.rawValue), worker pid \(record.workerPID.map(String.init) ?? "none")"
                }
            } catch {
                last = "\(error)"
            }
            if Date() > deadline { throw BenchError("no running c2s worker for port \(port): \(last)") }
            usleep(100_000)
        }
    }
}
