import Foundation
import XMPPConfig
import XMPPStore
import XMPPTLS

/// The running server under test, as described by its config file.
struct Target {
    let config: ServerConfig
    let listener: ListenerConfig
    /// Address the bench connects to (a wildcard listener is reached on loopback).
    let host: String
    let port: Int
    let domain: String
    /// The listener's TLS: the bench negotiates it like a client (STARTTLS, or TLS
    /// from the first byte), without verifying the server's certificate.
    let tlsMode: TLSMode?
    let tls: TLSContext?

    init(configPath: String) throws {
        config = try ServerConfig.load(path: configPath)
        guard let c2s = config.listeners.first(where: { $0.type == .c2s }) else {
            throw BenchError("\(configPath) has no [[listen.c2s]] listener")
        }
        listener = c2s
        switch c2s.ipAddress {
        case "0.0.0.0": host = "127.0.0.1"
        case "::": host = "::1"
        default: host = c2s.ipAddress
        }
        port = c2s.port
        guard let first = config.hosts.first else { throw BenchError("\(configPath) serves no hosts") }
        domain = first
        tlsMode = c2s.c2s?.tls.mode
        tls = tlsMode == nil ? nil : try TLSContext.client(verify: false)
    }

    /// PID of the worker process serving the c2s listener, from the state database the
    /// supervisor keeps (what `xmppctl listeners --json` prints). Waits for it to be running.
    func workerPID(timeout: Double = 15) throws -> Int32 {
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
