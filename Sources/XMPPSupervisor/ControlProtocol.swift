import Foundation

/// xmppctl ↔ supervisor: one JSON line each way on the Unix stream socket
/// `<state_dir>/xmppd.ctl`. The reply to reload / restart comes once the change is
/// fully applied (new workers accepting), so scripts can rely on it.
public struct ControlRequest: Codable, Sendable {
    public enum Command: String, Codable, Sendable { case reload, restart, stop, status }
    public var command: Command
    public init(command: Command) { self.command = command }
}

public struct ControlResponse: Codable, Sendable {
    public var ok: Bool
    public var message: String
    public var status: SupervisorStatus?

    public init(ok: Bool, message: String, status: SupervisorStatus? = nil) {
        self.ok = ok
        self.message = message
        self.status = status
    }
}

public struct SupervisorStatus: Codable, Sendable {
    public var pid: Int32
    public var configPath: String
    public var startedAt: Double
    public var listeners: [ListenerStatus]
}

public struct ListenerStatus: Codable, Sendable {
    public var id: String
    public var keyPath: String
    public var pid: Int32?
    public var generation: Int
    public var drainingPIDs: [Int32]
}
