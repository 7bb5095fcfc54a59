import Foundation
import Logging
import NIOConcurrencyHelpers
import XMPPCore
import XMPPStore

/// The blocking_items table in the SQLite file the workers share: one row per
/// (owner, blocked JID), the JID as the user gave it, normalised.
///
/// Changes run on a serial queue of this worker (its own connection), so the event
/// loops never wait for a write, and the iq result goes out only after the commit.
///
/// Enforcement reads (`isBlocked`) run synchronously in the stanza hooks, on the
/// event loops, straight from SQLite, without a cache. Why no cache: the owner's
/// list is changed by whichever worker holds the session that sent the command,
/// while the stanzas it must stop are checked on the workers of the sender and of
/// every resource of the owner. A per-worker cache would need a cross-process
/// invalidation signal, and the only thing the workers share is this file: checking
/// a version row in it costs the same indexed point read as checking the list
/// itself. So every check is one read of the primary key's index on a prepared
/// statement (microseconds; in WAL mode a reader never waits for a writer), and a
/// block committed by one worker is in force for the next stanza on any other.
final class BlocklistStore: @unchecked Sendable {
    private let queue = DispatchQueue(label: "xmppd.mod_blocking")
    private let database: SQLiteDatabase
    private let path: String
    private let logger: Logger
    /// Read connections for the hooks: one per thread at a time, taken and put back.
    private let readers = NIOLockedValueBox<[Reader]>([])

    init(path: String, logger: Logger) throws {
        self.path = path
        self.logger = logger
        database = try SQLiteDatabase(path: path)
        try database.execute("""
            CREATE TABLE IF NOT EXISTS blocking_items (
                owner_user TEXT NOT NULL,
                owner_domain TEXT NOT NULL,
                jid TEXT NOT NULL,
                PRIMARY KEY (owner_domain, owner_user, jid));
            """)
    }

    // MARK: the iq commands, on the queue

    /// The owner's blocklist, sorted.
    func items(of owner: JID, done: @escaping @Sendable (Result<[String], Error>) -> Void) {
        queue.async { [self] in
            done(Result { try list(of: owner) })
        }
    }

    /// Adds `jids`; hands back those that were not blocked yet.
    func block(_ jids: [String], for owner: JID, done: @escaping @Sendable (Result<[String], Error>) -> Void) {
        queue.async { [self] in
            done(Result {
                try database.transaction {
                    var added: [String] = []
                    for jid in jids {
                        let changed = try database.run(
                            "INSERT OR IGNORE INTO blocking_items(owner_user, owner_domain, jid) VALUES (?, ?, ?)",
                            owner.local ?? "", owner.domain, jid)
                        if changed > 0 { added.append(jid) }
                    }
                    return added
                }
            })
        }
    }

    /// Removes `jids`, or the whole list when nil; hands back those that were blocked.
    func unblock(_ jids: [String]?, for owner: JID, done: @escaping @Sendable (Result<[String], Error>) -> Void) {
        queue.async { [self] in
            done(Result {
                try database.transaction {
                    let present = Set(try list(of: owner))
                    let removed = (jids ?? present.sorted()).filter { present.contains($0) }
                    for jid in removed {
                        try database.run(
                            "DELETE FROM blocking_items WHERE owner_domain = ? AND owner_user = ? AND jid = ?",
                            owner.domain, owner.local ?? "", jid)
                    }
                    return removed
                }
            })
        }
    }

    /// Of `contacts`, those allowed to receive the owner's presence (RFC 6121: a
    /// subscription "from" or "both"), as mod_roster keeps them in the same file.
    /// Without mod_roster's table nobody is: the §3.3 presence is then not sent.
    func presenceSubscribers(of owner: JID, among contacts: [String],
                             done: @escaping @Sendable ([String]) -> Void) {
        queue.async { [self] in
            var allowed: [String] = []
            for contact in contacts {
                guard let bare = JID(contact)?.bare.description else { continue }
                let rows = try? database.query(
                    "SELECT 1 FROM roster_items WHERE domain = ? AND username = ? AND contact = ? AND subscription IN ('from', 'both')",
                    owner.domain, owner.local ?? "", bare)
                if rows?.isEmpty == false { allowed.append(contact) }
            }
            done(allowed)
        }
    }

    private func list(of owner: JID) throws -> [String] {
        try database.query("SELECT jid FROM blocking_items WHERE owner_domain = ? AND owner_user = ? ORDER BY jid",
                           owner.domain, owner.local ?? "").compactMap { $0.string(0) }
    }

    // MARK: enforcement, on the caller's thread

    /// Whether `owner` (a bare JID) blocked `other`: any item matching it (see
    /// JIDMatching). A failed read lets the stanza through (logged): losing every
    /// stanza while the database is unreadable would be worse.
    func isBlocked(_ other: JID, by owner: JID) -> Bool {
        let keys = JIDMatching.keys(for: other)
        let reader: Reader
        do {
            reader = try readers.withLockedValue { $0.popLast() } ?? Reader(path: path)
        } catch {
            logger.error("mod_blocking: cannot open \(path): \(error)")
            return false
        }
        defer { readers.withLockedValue { $0.append(reader) } }
        do {
            return try reader.matches(owner: owner, keys: keys)
        } catch {
            logger.error("mod_blocking: blocklist read failed: \(error)")
            return false
        }
    }

    /// A read connection with its statements, one per number of keys.
    private final class Reader {
        let database: SQLiteDatabase
        var statements: [Int: SQLiteStatement] = [:]

        init(path: String) throws {
            // A short busy timeout: this runs on an event loop. In WAL mode a reader
            // only waits in rare cases (e.g. while a checkpoint restarts the log).
            database = try SQLiteDatabase(path: path, busyTimeoutMilliseconds: 200)
        }

        func matches(owner: JID, keys: [String]) throws -> Bool {
            let statement: SQLiteStatement
            if let prepared = statements[keys.count] {
                statement = prepared
            } else {
                let marks = Array(repeating: "?", count: keys.count).joined(separator: ", ")
                statement = try database.prepare(
                    "SELECT 1 FROM blocking_items WHERE owner_domain = ? AND owner_user = ? AND jid IN (\(marks)) LIMIT 1")
                statements[keys.count] = statement
            }
            try statement.bind([owner.domain, owner.local ?? ""] + keys)
            return try !statement.all().isEmpty
        }
    }
}
