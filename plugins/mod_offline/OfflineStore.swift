import Foundation
import XMPPCore
import XMPPStore

/// The offline_messages table, written on a serial queue of its own so the event
/// loops never wait for SQLite. Writes are committed in order, so a message taken
/// for storage is on disk within milliseconds and survives a kill of the worker.
final class OfflineStore: @unchecked Sendable {
    private let queue = DispatchQueue(label: "xmppd.mod_offline")
    private let database: SQLiteDatabase

    init(path: String) throws {
        database = try SQLiteDatabase(path: path)
        try database.execute("""
            CREATE TABLE IF NOT EXISTS offline_messages (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                username TEXT NOT NULL,
                domain TEXT NOT NULL,
                stored_at REAL NOT NULL,
                stanza TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS offline_messages_user ON offline_messages(domain, username, id);
            """)
    }

    /// Stores `message` unless the user already has `limit` messages; tells `done`
    /// whether it was stored.
    func append(_ message: XMLElement, for user: JID, limit: Int, done: @escaping (Bool) -> Void) {
        let xml = message.serialized(parentNamespace: XMPPNamespace.client)
        queue.async { [database] in
            do {
                let stored: Bool = try database.transaction {
                    let count = try database.query(
                        "SELECT COUNT(*) FROM offline_messages WHERE domain = ? AND username = ?",
                        user.domain, user.local ?? "").first?.int(0) ?? 0
                    guard count < limit else { return false }
                    try database.run("INSERT INTO offline_messages(username, domain, stored_at, stanza) VALUES (?, ?, ?, ?)",
                                     user.local ?? "", user.domain, Date().timeIntervalSince1970, xml)
                    return true
                }
                done(stored)
            } catch {
                done(false)
            }
        }
    }

    /// Calls `committed` (on the queue) once every append made before this call is committed.
    func afterPendingWrites(_ committed: @escaping @Sendable () -> Void) {
        queue.async { committed() }
    }

    /// Removes and returns a user's messages, oldest first.
    func takeAll(for user: JID, deliver: @escaping ([XMLElement]) -> Void) {
        queue.async { [database] in
            let rows: [String] = (try? database.transaction {
                let rows = try database.query(
                    "SELECT stanza FROM offline_messages WHERE domain = ? AND username = ? ORDER BY id",
                    user.domain, user.local ?? "").compactMap { $0.string(0) }
                try database.run("DELETE FROM offline_messages WHERE domain = ? AND username = ?",
                                 user.domain, user.local ?? "")
                return rows
            }) ?? []
            guard !rows.isEmpty else { return }
            deliver(rows.compactMap { XMLElement.parseStored($0).first })
        }
    }
}
