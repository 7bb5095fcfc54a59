import Foundation
import XMPPCore
import XMPPStore

/// The private_storage table: one row per (user, namespace) with the stored XML.
/// Every statement runs on one serial queue with the module's own connection, so the
/// event loops never wait for SQLite; a set is committed before its result is sent.
final class PrivateStore: @unchecked Sendable {
    private let queue = DispatchQueue(label: "xmppd.mod_private")
    private let database: SQLiteDatabase

    init(path: String) throws {
        database = try SQLiteDatabase(path: path)
        try database.execute("""
            CREATE TABLE IF NOT EXISTS private_storage (
                username TEXT NOT NULL,
                domain TEXT NOT NULL,
                namespace TEXT NOT NULL,
                data TEXT NOT NULL,
                PRIMARY KEY (domain, username, namespace));
            """)
    }

    /// The elements stored for `namespace`, or nil when there are none.
    func get(_ namespace: String, of owner: JID, done: @escaping @Sendable (Result<[XMLElement]?, Error>) -> Void) {
        queue.async { [database] in
            done(Result {
                guard let xml = try database.query(
                    "SELECT data FROM private_storage WHERE domain = ? AND username = ? AND namespace = ?",
                    owner.domain, owner.local ?? "", namespace).first?.string(0) else { return nil }
                return XMLElement.parseStored(xml)
            })
        }
    }

    /// Replaces each namespace's elements, all in one transaction.
    func set(_ entries: [(namespace: String, fragments: [XMLElement])], of owner: JID,
             done: @escaping @Sendable (Bool) -> Void) {
        let rows = entries.map { entry in
            (entry.namespace, entry.fragments.map { $0.serialized(parentNamespace: nil) }.joined())
        }
        queue.async { [database] in
            do {
                try database.transaction {
                    for (namespace, xml) in rows {
                        try database.run("""
                            INSERT INTO private_storage(username, domain, namespace, data) VALUES (?, ?, ?, ?)
                            ON CONFLICT(domain, username, namespace) DO UPDATE SET data = excluded.data
                            """, owner.local ?? "", owner.domain, namespace, xml)
                    }
                }
                done(true)
            } catch {
                done(false)
            }
        }
    }
}
