import Foundation
import Logging
import NIOConcurrencyHelpers
import XMPPCore
import XMPPStore

/// One message for the archives of its local parties (one copy each).
struct ArchiveEntry: Sendable {
    struct Copy: Sendable {
        var stanzaID: String
        /// The archive's owner (bare JID).
        var owner: JID
        /// The other party, as addressed (full or bare).
        var remote: JID
        var outgoing: Bool
    }

    var message: XMLElement
    /// Microseconds since the epoch.
    var timestamp: Int64
    var copies: [Copy]
    /// The XEP-0424 origin id this message retracts (`Retraction.target`): in each
    /// copy's archive, the counterpart it names becomes a tombstone in the same
    /// transaction that archives the retraction, so no reader (on any worker) sees one
    /// without the other.
    var retractedOriginID: String? = nil
}

/// A row read back for a query.
struct ArchiveRow: Sendable {
    var rowID: Int64
    var stanzaID: String
    var timestamp: Int64
    var xml: String
}

enum ArchiveError: Error { case itemNotFound }

/// The mam_message table, in the order of the archive's clock: (timestamp, id).
/// Not by id alone: rows are inserted by several workers, each committing on its
/// own schedule, so a reply can be committed before the message it answers; the
/// timestamps, taken when each message was sent, keep the conversation's order.
///
/// Every statement runs on one serial queue of this worker
/// (its own SQLite connection), so the event loops never wait for SQLite. Appends
/// are batched: the first pending message schedules a flush, which commits whatever
/// has accumulated by then in one transaction, typically within a millisecond, so
/// an archived message survives a kill -9 of the worker.
final class ArchiveStore: @unchecked Sendable {
    private let queue = DispatchQueue(label: "xmppd.mod_mam")
    private let database: SQLiteDatabase
    private let logger: Logger
    private let lock = NIOLock()
    private var pending: [ArchiveEntry] = []
    private var flushScheduled = false
    /// Consecutive failed flushes (only touched on the queue).
    private var failures = 0

    init(path: String, logger: Logger) throws {
        self.logger = logger
        database = try SQLiteDatabase(path: path)
        try database.execute("""
            CREATE TABLE IF NOT EXISTS mam_message (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                stanza_id TEXT NOT NULL UNIQUE,
                owner_user TEXT NOT NULL,
                owner_domain TEXT NOT NULL,
                remote_bare_jid TEXT NOT NULL,
                remote_resource TEXT NOT NULL,
                direction TEXT NOT NULL CHECK (direction IN ('I', 'O')),
                timestamp INTEGER NOT NULL,
                message TEXT NOT NULL,
                search_body TEXT NOT NULL,
                origin_id TEXT NOT NULL DEFAULT '');
            CREATE INDEX IF NOT EXISTS mam_message_owner_time ON mam_message(owner_domain, owner_user, timestamp, id);
            CREATE INDEX IF NOT EXISTS mam_message_owner_remote_time
                ON mam_message(owner_domain, owner_user, remote_bare_jid, timestamp, id);
            """)
        // Archives made before message retraction: the column a retraction looks up.
        // Workers start together, so another may add it first: that is success too.
        let database = self.database
        let hasOriginID = { (try? database.query("PRAGMA table_info(mam_message)"))?.contains { $0.string(1) == "origin_id" } ?? false }
        if !hasOriginID() {
            do {
                try database.execute("ALTER TABLE mam_message ADD COLUMN origin_id TEXT NOT NULL DEFAULT ''")
            } catch where hasOriginID() {}
        }
    }

    func append(_ entry: ArchiveEntry) {
        let schedule: Bool = lock.withLock {
            pending.append(entry)
            defer { flushScheduled = true }
            return !flushScheduled
        }
        if schedule { queue.async { self.flush() } }
    }

    /// Calls `committed` (on the queue) once every append made before this call is
    /// committed; while SQLite refuses the batch, it asks again every 100 ms, until the
    /// batch is written or given up (see `flush`).
    func afterPendingWrites(_ committed: @escaping @Sendable () -> Void) {
        queue.async {
            self.flush()
            if self.failures == 0 { return committed() }   // written, or given up
            self.queue.asyncAfter(deadline: .now() + .milliseconds(100)) { self.afterPendingWrites(committed) }
        }
    }

    /// On the queue: commits everything pending.
    private func flush() {
        let batch: [ArchiveEntry] = lock.withLock {
            defer { pending = []; flushScheduled = false }
            return pending
        }
        guard !batch.isEmpty else { return }
        do {
            try database.transaction {
                let insert = try database.prepare("""
                    INSERT INTO mam_message(stanza_id, owner_user, owner_domain, remote_bare_jid, remote_resource,
                                            direction, timestamp, message, search_body, origin_id)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
                for entry in batch {
                    if let retracted = entry.retractedOriginID {
                        for copy in entry.copies { try tombstone(originID: retracted, in: copy, at: entry.timestamp) }
                    }
                    let xml = entry.message.serialized(parentNamespace: XMPPNamespace.client)
                    let body = entry.message.child("body")?.text ?? ""
                    let originID = Retraction.originID(of: entry.message) ?? ""
                    for copy in entry.copies {
                        try insert.bind([copy.stanzaID, copy.owner.local ?? "", copy.owner.domain,
                                         copy.remote.bare.description, copy.remote.resource ?? "",
                                         copy.outgoing ? "O" : "I", entry.timestamp, xml, body, originID])
                        _ = try insert.all()
                    }
                }
            }
            failures = 0
        } catch {
            // Most likely the database stayed locked past the busy timeout: keep the
            // batch and try again shortly rather than lose it (but not forever).
            failures += 1
            guard failures <= 20 else {
                logger.error("mod_mam: archiving \(batch.count) messages failed \(failures) times (\(error)); dropped")
                failures = 0
                return
            }
            logger.error("mod_mam: archiving \(batch.count) messages failed (\(error)); retrying")
            lock.withLock { pending.insert(contentsOf: batch, at: 0) }
            queue.asyncAfter(deadline: .now() + .milliseconds(100)) { self.flush() }
        }
    }

    /// In a transaction of `flush`: the most recent message of the copy's archive with
    /// the same party, in the same direction, whose origin id is `originID`, becomes a
    /// tombstone stamped `micros`.
    private func tombstone(originID: String, in copy: ArchiveEntry.Copy, at micros: Int64) throws {
        guard let row = try database.query("""
            SELECT id, message FROM mam_message
            WHERE owner_domain = ? AND owner_user = ? AND remote_bare_jid = ? AND direction = ? AND origin_id = ?
            ORDER BY timestamp DESC, id DESC LIMIT 1
            """, copy.owner.domain, copy.owner.local ?? "", copy.remote.bare.description,
            copy.outgoing ? "O" : "I", originID).first,
            let id = row.int64(0), let stored = XMLElement.parseStored(row.string(1) ?? "").first else { return }
        let tombstone = Retraction.tombstone(of: stored, originID: originID, at: micros)
        try database.run("UPDATE mam_message SET message = ?, search_body = '' WHERE id = ?",
                         tombstone.serialized(parentNamespace: XMPPNamespace.client), id)
    }

    /// Runs `query` on the queue (after this worker's pending appends) and hands
    /// back the page, on the queue.
    func run(_ query: ArchiveQuery, done: @escaping (Result<ArchivePage, Error>) -> Void) {
        queue.async {
            self.flush()
            done(Result { try self.page(for: query) })
        }
    }

    private func page(for query: ArchiveQuery) throws -> ArchivePage {
        var conditions = ["owner_domain = ?", "owner_user = ?"]
        var bindings: [SQLiteBindable?] = [query.owner.domain, query.owner.local ?? ""]
        if let with = query.with {
            conditions.append("remote_bare_jid = ?")
            bindings.append(with.bare.description)
            if let resource = with.resource {
                conditions.append("remote_resource = ?")
                bindings.append(resource)
            }
        }
        for word in query.searchWords {
            // Every word, anywhere in the body, case-insensitively for ASCII (SQLite's LIKE).
            conditions.append("search_body LIKE ? ESCAPE '\\'")
            bindings.append("%" + Self.likeEscaped(word) + "%")
        }
        if let start = query.start { conditions.append("timestamp >= ?"); bindings.append(start) }
        if let end = query.end { conditions.append("timestamp <= ?"); bindings.append(end) }
        if let after = query.afterID {
            conditions.append("(timestamp, id) > (?, ?)")
            bindings += try position(of: after, in: query.owner)
        }
        if let before = query.beforeID {
            conditions.append("(timestamp, id) < (?, ?)")
            bindings += try position(of: before, in: query.owner)
        }
        let matching = conditions.joined(separator: " AND ")
        let count = try database.query("SELECT COUNT(*) FROM mam_message WHERE \(matching)", bindings: bindings)
            .first?.int(0) ?? 0

        var pageConditions = conditions
        var pageBindings = bindings
        if let after = query.page.after {
            pageConditions.append("(timestamp, id) > (?, ?)")
            pageBindings += try position(of: after, in: query.owner)
        }
        let backwards = query.page.before != nil
        if let before = query.page.before, !before.isEmpty {
            pageConditions.append("(timestamp, id) < (?, ?)")
            pageBindings += try position(of: before, in: query.owner)
        }
        let offset = (!backwards && query.page.after == nil) ? (query.page.index ?? 0) : 0
        var rows: [ArchiveRow] = []
        var more = false
        if query.page.max > 0 {
            let sql = """
                SELECT id, stanza_id, timestamp, message FROM mam_message
                WHERE \(pageConditions.joined(separator: " AND "))
                ORDER BY timestamp \(backwards ? "DESC" : "ASC"), id \(backwards ? "DESC" : "ASC") LIMIT ? OFFSET ?
                """
            let fetched = try database.query(sql, bindings: pageBindings + [query.page.max + 1, offset])
            rows = fetched.prefix(query.page.max).map {
                ArchiveRow(rowID: $0.int64(0) ?? 0, stanzaID: $0.string(1) ?? "", timestamp: $0.int64(2) ?? 0,
                           xml: $0.string(3) ?? "")
            }
            more = fetched.count > query.page.max
            if backwards { rows.reverse() }
        } else {
            more = count > 0
        }
        var firstIndex: Int?
        if let first = rows.first {
            firstIndex = try database.query(
                "SELECT COUNT(*) FROM mam_message WHERE \(matching) AND (timestamp, id) < (?, ?)",
                bindings: bindings + [first.timestamp, first.rowID]).first?.int(0) ?? 0
        }
        return ArchivePage(rows: rows, count: count, firstIndex: firstIndex, complete: !more)
    }

    /// `word` as a LIKE pattern matching itself only.
    static func likeEscaped(_ word: String) -> String {
        var out = ""
        for character in word {
            if character == "%" || character == "_" || character == "\\" { out.append("\\") }
            out.append(character)
        }
        return out
    }

    /// Where a stanza id sits in `owner`'s archive, as (timestamp, row id): the
    /// position RSM and before-id / after-id cursors compare with.
    private func position(of stanzaID: String, in owner: JID) throws -> [SQLiteBindable?] {
        guard let row = try database.query(
            "SELECT timestamp, id FROM mam_message WHERE stanza_id = ? AND owner_domain = ? AND owner_user = ?",
            stanzaID, owner.domain, owner.local ?? "").first,
            let timestamp = row.int64(0), let id = row.int64(1) else { throw ArchiveError.itemNotFound }
        return [timestamp, id]
    }
}
