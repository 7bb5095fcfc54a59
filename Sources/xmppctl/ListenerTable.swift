import Foundation
import XMPPStore

/// `xmppctl listeners` as a table readable at a glance.
enum ListenerTable {
    static func render(_ records: [ListenerRecord]) -> String {
        let header = ["TYPE", "ADDRESS", "STATE", "PID", "GEN", "CONN", "ACCEPTED", "IN", "OUT",
                      "STANZAS IN/OUT", "AUTH OK/FAIL", "ERRORS", "RESTARTS", "UPTIME"]
        let now = Date().timeIntervalSince1970
        let rows = records.map { r -> [String] in
            let c = r.counters
            let address = r.address.contains(":") ? "[\(r.address)]:\(r.port)" : "\(r.address):\(r.port)"
            let uptime = r.state == .running ? duration(Int(now - r.since)) : "-"
            return [r.type, address, r.state.rawValue, r.workerPID.map(String.init) ?? "-", String(r.generation),
                    String(c.connectionsCurrent), String(c.connectionsAccepted), bytes(c.bytesIn), bytes(c.bytesOut),
                    "\(c.stanzasIn)/\(c.stanzasOut)", "\(c.authSuccesses)/\(c.authFailures)", String(c.errors),
                    String(r.restarts), uptime]
        }
        if rows.isEmpty { return "no listeners recorded (has the server been started with this config?)" }
        let widths = header.indices.map { i in ([header] + rows).map { $0[i].count }.max() ?? 0 }
        return ([header] + rows).map { row in
            row.enumerated().map { i, cell in cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n")
    }

    static func bytes(_ n: Int) -> String {
        if n < 1024 { return "\(n)B" }
        if n < 1024 * 1024 { return String(format: "%.1fK", Double(n) / 1024) }
        if n < 1024 * 1024 * 1024 { return String(format: "%.1fM", Double(n) / 1048576) }
        return String(format: "%.1fG", Double(n) / 1073741824)
    }

    static func duration(_ seconds: Int) -> String {
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return "\(seconds / 60)m\(seconds % 60)s" }
        if seconds < 86400 { return "\(seconds / 3600)h\(seconds % 3600 / 60)m" }
        return "\(seconds / 86400)d\(seconds % 86400 / 3600)h"
    }
}
