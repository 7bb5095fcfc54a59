import Foundation
import XMPPStore
#if canImport(Glibc)
import Glibc
#endif

/// What the supervisor writes to SQLite (it is the only writer of these tables)
/// and reports on the control socket.
extension Supervisor {
    func record(for slot: ListenerSlot, state: ListenerState, pid: pid_t?) -> ListenerRecord {
        let json = (try? JSONEncoder().encode(slot.config)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        let now = Date().timeIntervalSince1970
        return ListenerRecord(id: slot.id, type: slot.config.type.rawValue, address: slot.config.ipAddress,
                              port: slot.config.port, workerPID: pid, generation: slot.generation, state: state,
                              since: now, restarts: slot.restarts, startedAt: startedAt, configJSON: json,
                              counters: slot.totals, updatedAt: now)
    }

    /// Writes to the state database. A failed write is logged, never fatal: the
    /// database is for the operator's eyes, the listeners must go on.
    func persist(_ write: () throws -> Void) {
        do { try write() } catch { logger.error("state database: \(error)") }
    }

    /// Sums every worker's counters per listener (old draining workers included).
    func flushStats() {
        for slot in slots {
            persist { try store.updateCounters(id: slot.id, counters: slot.totals) }
        }
    }

    func status() -> SupervisorStatus {
        SupervisorStatus(
            pid: getpid(), configPath: config.configPath, startedAt: startedAt,
            listeners: slots.map { slot in
                ListenerStatus(id: slot.id, keyPath: slot.config.keyPath, pid: slot.active?.pid,
                               generation: slot.generation, drainingPIDs: slot.draining.map(\.pid))
            })
    }
}
