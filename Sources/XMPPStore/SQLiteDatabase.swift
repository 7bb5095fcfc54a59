import CSQLite
import Foundation

/// A connection to one SQLite database file, in WAL mode with a busy timeout so that the
/// supervisor, its workers and the CLI can share the file: readers never block the writer
/// and a briefly locked database is waited for instead of failing at once.
///
/// Threading: use an instance from one thread at a time (one per process or per thread).
/// The connection is opened in SQLite's serialized mode as a safety net, but transactions
/// are per connection, so interleaving callers would mix each other's transactions.
public final class SQLiteDatabase {
    let handle: OpaquePointer
    public let path: String
    private var transactionDepth = 0

    /// Opens (creating if needed) the database at `path`, creating its parent directory.
    /// ":memory:" opens a private in-memory database.
    public init(path: String, busyTimeoutMilliseconds: Int32 = 5000) throws {
        if path != ":memory:" {
            let parent = URL(fileURLWithPath: path).deletingLastPathComponent().path
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        }
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let error = SQLiteError(handle: db, code: rc, sql: nil)
            sqlite3_close(db)
            throw error
        }
        self.handle = db
        self.path = path
        sqlite3_extended_result_codes(db, 1)
        // The timeout first: switching to WAL itself needs a lock another process may hold.
        sqlite3_busy_timeout(db, busyTimeoutMilliseconds)
        do {
            if path != ":memory:" {
                let mode = try query("PRAGMA journal_mode=WAL").first?.string(0)
                guard mode?.lowercased() == "wal" else {
                    throw SQLiteError(code: SQLITE_ERROR, message: "could not enable WAL (journal_mode=\(mode ?? "?"))")
                }
                // NORMAL is durable across application crashes in WAL mode; only an OS crash
                // may lose the last transactions, which is acceptable for this data.
                try execute("PRAGMA synchronous=NORMAL")
            }
            try execute("PRAGMA foreign_keys=ON")
        } catch {
            sqlite3_close_v2(db)
            throw error
        }
    }

    deinit { sqlite3_close_v2(handle) }

    /// Runs one or more SQL statements without parameters (schema, pragmas).
    public func execute(_ sql: String) throws {
        var errorMessage: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &errorMessage)
        if rc != SQLITE_OK {
            let message = errorMessage.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(errorMessage)
            throw SQLiteError(code: rc, extendedCode: sqlite3_extended_errcode(handle), message: message, sql: sql)
        }
    }

    public func prepare(_ sql: String) throws -> SQLiteStatement {
        try SQLiteStatement(database: self, sql: sql)
    }

    /// Runs a single statement with positional parameters; returns the number of changed rows.
    @discardableResult
    public func run(_ sql: String, _ bindings: SQLiteBindable?...) throws -> Int {
        try run(sql, bindings: bindings)
    }

    @discardableResult
    public func run(_ sql: String, bindings: [SQLiteBindable?]) throws -> Int {
        let statement = try prepare(sql)
        try statement.bind(bindings)
        _ = try statement.all()
        return changes
    }

    /// Runs a single query with positional parameters and returns all rows.
    public func query(_ sql: String, _ bindings: SQLiteBindable?...) throws -> [SQLiteRow] {
        try query(sql, bindings: bindings)
    }

    public func query(_ sql: String, bindings: [SQLiteBindable?]) throws -> [SQLiteRow] {
        let statement = try prepare(sql)
        try statement.bind(bindings)
        return try statement.all()
    }

    /// Rows changed by the last INSERT/UPDATE/DELETE on this connection.
    public var changes: Int { Int(sqlite3_changes(handle)) }
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Runs `body` in a transaction: committed if it returns, rolled back if it throws.
    /// Top-level transactions use BEGIN IMMEDIATE, taking the write lock up front: in WAL
    /// mode a deferred transaction that later tries to write can fail with SQLITE_BUSY
    /// without waiting, whereas BEGIN IMMEDIATE honours the busy timeout.
    /// Nested calls become savepoints.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        let savepoint = "sp\(transactionDepth)"
        if transactionDepth == 0 {
            try execute("BEGIN IMMEDIATE")
        } else {
            try execute("SAVEPOINT \(savepoint)")
        }
        transactionDepth += 1
        let result: T
        do {
            result = try body()
        } catch {
            transactionDepth -= 1
            if transactionDepth == 0 {
                try? execute("ROLLBACK")
            } else {
                try? execute("ROLLBACK TO \(savepoint)")
                try? execute("RELEASE \(savepoint)")
            }
            throw error
        }
        transactionDepth -= 1
        if transactionDepth == 0 {
            try commitOrRollBack()
        } else {
            try execute("RELEASE \(savepoint)")
        }
        return result
    }

    private func commitOrRollBack() throws {
        do {
            try execute("COMMIT")
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// PRAGMA user_version: the schema version this file is at.
    public func userVersion() throws -> Int {
        try query("PRAGMA user_version").first?.int(0) ?? 0
    }

    /// Brings the schema up to date. `migrations[i]` upgrades version i to i+1 and runs in
    /// its own transaction with the version bump, so a crash leaves a consistent file and
    /// concurrent processes starting at once do not apply a step twice (the version is
    /// re-read after taking the write lock).
    public func migrate(_ migrations: [String]) throws {
        // Cheap check first so the common case takes no write lock.
        if try userVersion() >= migrations.count { return }
        for (index, sql) in migrations.enumerated() {
            try transaction {
                guard try userVersion() == index else { return }
                try execute(sql)
                // PRAGMA arguments cannot be bound; `index` is an Int, not input.
                try execute("PRAGMA user_version = \(index + 1)")
            }
        }
    }
}
