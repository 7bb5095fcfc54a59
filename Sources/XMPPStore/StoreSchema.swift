/// The schema of the shared xmppd database. One list for all stores because PRAGMA
/// user_version is per file: each store calls `StoreSchema.apply(to:)` on init, which is
/// idempotent, so any process can open the file first. Append steps; never edit old ones.
public enum StoreSchema {
    public static let migrations: [String] = [
        // 1: accounts and their SCRAM credentials (one row per hash; never a password).
        """
        CREATE TABLE accounts (
            domain     TEXT NOT NULL,
            username   TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (domain, username)
        ) WITHOUT ROWID;
        CREATE TABLE account_credentials (
            domain     TEXT NOT NULL,
            username   TEXT NOT NULL,
            hash       TEXT NOT NULL,
            salt       BLOB NOT NULL,
            iterations INTEGER NOT NULL,
            stored_key BLOB NOT NULL,
            server_key BLOB NOT NULL,
            PRIMARY KEY (domain, username, hash),
            FOREIGN KEY (domain, username) REFERENCES accounts (domain, username) ON DELETE CASCADE
        ) WITHOUT ROWID;
        """,
        // 2: the supervisor's view of listeners and worker processes, read by xmppctl.
        """
        CREATE TABLE listeners (
            id                   TEXT PRIMARY KEY,
            type                 TEXT NOT NULL,
            address              TEXT NOT NULL,
            port                 INTEGER NOT NULL,
            worker_pid           INTEGER,
            generation           INTEGER NOT NULL DEFAULT 0,
            state                TEXT NOT NULL CHECK (state IN ('starting','running','draining','stopped','failed')),
            since                REAL NOT NULL,
            restarts             INTEGER NOT NULL DEFAULT 0,
            started_at           REAL,
            config_json          TEXT NOT NULL DEFAULT '{}',
            connections_accepted INTEGER NOT NULL DEFAULT 0,
            connections_current  INTEGER NOT NULL DEFAULT 0,
            connections_closed   INTEGER NOT NULL DEFAULT 0,
            bytes_in             INTEGER NOT NULL DEFAULT 0,
            bytes_out            INTEGER NOT NULL DEFAULT 0,
            stanzas_in           INTEGER NOT NULL DEFAULT 0,
            stanzas_out          INTEGER NOT NULL DEFAULT 0,
            auth_successes       INTEGER NOT NULL DEFAULT 0,
            auth_failures        INTEGER NOT NULL DEFAULT 0,
            errors               INTEGER NOT NULL DEFAULT 0,
            updated_at           REAL NOT NULL
        );
        CREATE TABLE worker_events (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            at          REAL NOT NULL,
            listener_id TEXT NOT NULL,
            pid         INTEGER,
            generation  INTEGER NOT NULL DEFAULT 0,
            event       TEXT NOT NULL CHECK (event IN ('spawned','ready','draining','exited','restarted','stopped','failed')),
            detail      TEXT
        );
        CREATE INDEX worker_events_by_listener ON worker_events (listener_id, id);
        """,
    ]

    public static func apply(to database: SQLiteDatabase) throws {
        try database.migrate(migrations)
    }
}
