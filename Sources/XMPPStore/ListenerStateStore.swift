import Foundation

/// The supervisor's record of listeners and worker processes, shared through the database
/// file with `xmppctl listeners`. The supervisor writes; the CLI only reads.
///
/// Same threading rule as the database: one thread at a time.
public final class ListenerStateStore {
    public let database: SQLiteDatabase
    private let now: () -> Double

    public init(database: SQLiteDatabase, now: @escaping () -> Double = { Date().timeIntervalSince1970 }) throws {
        self.database = database
        self.now = now
        try StoreSchema.apply(to: database)
    }

    private static let recordColumns = ["id", "type", "address", "port", "worker_pid", "generation", "state",
                                        "since", "restarts", "started_at", "config_json"]
        + ListenerCounters.columns + ["updated_at"]

    /// Inserts the listener or replaces every column of the existing row with `record`.
    public func upsertListener(_ record: ListenerRecord) throws {
        let columns = Self.recordColumns
        let placeholders = Array(repeating: "?", count: columns.count).joined(separator: ", ")
        let updates = columns.dropFirst().map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
        var values: [SQLiteBindable?] = [record.id, record.type, record.address, record.port, record.workerPID,
                                         record.generation, record.state.rawValue, record.since, record.restarts,
                                         record.startedAt, record.configJSON]
        values += record.counters.values.map { $0 as SQLiteBindable? }
        values.append(record.updatedAt)
        try database.run("INSERT INTO listeners (\(columns.joined(separator: ", "))) VALUES (\(placeholders)) "
                         + "ON CONFLICT(id) DO UPDATE SET \(updates)", bindings: values)
    }

    /// Changes the state. `since` moves only when the state actually changes.
    /// `pid` / `generation` are written when given and left alone when nil; a new pid also
    /// sets `started_at`. Entering `.stopped` clears the pid and the current-connection count.
    /// Throws `ListenerStoreError.notFound` for an unknown id.
    public func setState(id: String, state: ListenerState, pid: Int32? = nil, generation: Int? = nil) throws {
        let t = now()
        let n = try database.run("""
            UPDATE listeners SET
                since = CASE WHEN state = ?2 THEN since ELSE ?1 END,
                state = ?2,
                started_at = CASE WHEN ?3 IS NOT NULL AND worker_pid IS NOT ?3 THEN ?1 ELSE started_at END,
                worker_pid = CASE WHEN ?2 = 'stopped' THEN NULL ELSE coalesce(?3, worker_pid) END,
                connections_current = CASE WHEN ?2 = 'stopped' THEN 0 ELSE connections_current END,
                generation = coalesce(?4, generation),
                updated_at = ?1
            WHERE id = ?5
            """, t, state.rawValue, pid, generation, id)
        guard n > 0 else { throw ListenerStoreError.notFound(id) }
    }

    /// Overwrites the ten counters (the supervisor sends totals, summed over workers).
    public func updateCounters(id: String, counters: ListenerCounters) throws {
        let assignments = ListenerCounters.columns.map { "\($0) = ?" }.joined(separator: ", ")
        var values: [SQLiteBindable?] = counters.values.map { $0 as SQLiteBindable? }
        values += [now(), id]
        let n = try database.run("UPDATE listeners SET \(assignments), updated_at = ? WHERE id = ?", bindings: values)
        guard n > 0 else { throw ListenerStoreError.notFound(id) }
    }

    public func incrementRestarts(id: String) throws {
        let n = try database.run("UPDATE listeners SET restarts = restarts + 1, updated_at = ? WHERE id = ?", now(), id)
        guard n > 0 else { throw ListenerStoreError.notFound(id) }
    }

    /// Deletes the listener row (e.g. removed from the configuration). Its events are kept.
    public func removeListener(id: String) throws {
        try database.run("DELETE FROM listeners WHERE id = ?", id)
    }

    /// Marks every listener stopped with no worker: on supervisor start (rows left by a
    /// crashed supervisor must not look alive) and on clean shutdown.
    public func markAllStopped() throws {
        let t = now()
        try database.run("""
            UPDATE listeners SET
                since = CASE WHEN state = 'stopped' THEN since ELSE ?1 END,
                state = 'stopped', worker_pid = NULL, connections_current = 0, updated_at = ?1
            """, t)
    }

    /// All listeners ordered by type then port; [] on database errors (see `loadListeners`).
    public func listeners() -> [ListenerRecord] {
        (try? loadListeners()) ?? []
    }

    public func loadListeners() throws -> [ListenerRecord] {
        let rows = try database.query("SELECT \(Self.recordColumns.joined(separator: ", ")) FROM listeners ORDER BY type, port, id")
        return try rows.map(Self.record)
    }

    public func listener(id: String) throws -> ListenerRecord? {
        try database.query("SELECT \(Self.recordColumns.joined(separator: ", ")) FROM listeners WHERE id = ?", id)
            .first.map(Self.record)
    }

    @discardableResult
    public func recordEvent(listenerID: String, pid: Int32?, generation: Int, event: WorkerEvent,
                            detail: String? = nil) throws -> Int64 {
        try database.run("INSERT INTO worker_events (at, listener_id, pid, generation, event, detail) VALUES (?, ?, ?, ?, ?, ?)",
                         now(), listenerID, pid, generation, event.rawValue, detail)
        return database.lastInsertRowID
    }

    /// The newest `limit` events, newest first, for one listener or all (nil);
    /// [] on database errors (see `loadEvents`).
    public func events(listenerID: String? = nil, limit: Int = 50) -> [WorkerEventRecord] {
        (try? loadEvents(listenerID: listenerID, limit: limit)) ?? []
    }

    public func loadEvents(listenerID: String? = nil, limit: Int = 50) throws -> [WorkerEventRecord] {
        let rows = try database.query("""
            SELECT id, at, listener_id, pid, generation, event, detail FROM worker_events
            WHERE ?1 IS NULL OR listener_id = ?1 ORDER BY id DESC LIMIT ?2
            """, listenerID, max(limit, 0))
        return try rows.map { row in
            guard let id = row.int64(0), let at = row.double(1), let listener = row.string(2),
                  let raw = row.string(5), let event = WorkerEvent(rawValue: raw) else {
                throw ListenerStoreError.corruptRow("worker_events")
            }
            return WorkerEventRecord(id: id, at: at, listenerID: listener, pid: row.int(3).flatMap { Int32(exactly: $0) },
                                     generation: row.int(4) ?? 0, event: event, detail: row.string(6))
        }
    }

    /// Deletes all but the newest `keep` events so the table does not grow forever.
    public func pruneEvents(keep: Int) throws {
        try database.run("DELETE FROM worker_events WHERE id <= (SELECT id FROM worker_events ORDER BY id DESC LIMIT 1 OFFSET ?)",
                         max(keep, 0))
    }

    /// Decodes by column name so the SELECT list and this function cannot drift apart.
    private static func record(_ row: SQLiteRow) throws -> ListenerRecord {
        guard let id = row.string("id"), let type = row.string("type"), let address = row.string("address"),
              let port = row.int("port"), let rawState = row.string("state"),
              let state = ListenerState(rawValue: rawState),
              let since = row.double("since"), let updatedAt = row.double("updated_at") else {
            throw ListenerStoreError.corruptRow("listeners")
        }
        let counters = ListenerCounters(values: ListenerCounters.columns.map { row.int($0) ?? 0 })
        return ListenerRecord(id: id, type: type, address: address, port: port,
                              workerPID: row.int("worker_pid").flatMap { Int32(exactly: $0) }, generation: row.int("generation") ?? 0,
                              state: state, since: since, restarts: row.int("restarts") ?? 0,
                              startedAt: row.double("started_at"), configJSON: row.string("config_json") ?? "{}",
                              counters: counters, updatedAt: updatedAt)
    }
}

public enum ListenerStoreError: Error, Equatable, Sendable {
    /// No listener row with this id.
    case notFound(String)
    /// A row that does not decode (e.g. written by a newer version).
    case corruptRow(String)
}
