import CSQLite

/// An SQLite failure with the result code and sqlite's own message (sqlite3_errmsg).
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    /// Primary result code (SQLITE_BUSY, SQLITE_CONSTRAINT, ...).
    public var code: Int32
    /// Extended result code (e.g. SQLITE_CONSTRAINT_PRIMARYKEY).
    public var extendedCode: Int32
    public var message: String
    /// The SQL being prepared or run, if any; never contains bound values.
    public var sql: String?

    public var description: String {
        "SQLite error \(extendedCode): \(message)" + (sql.map { " [\($0)]" } ?? "")
    }

    public var isConstraintViolation: Bool { code == SQLITE_CONSTRAINT }
    public var isBusy: Bool { code == SQLITE_BUSY || code == SQLITE_LOCKED }

    init(code: Int32, extendedCode: Int32? = nil, message: String, sql: String? = nil) {
        self.code = code & 0xFF
        self.extendedCode = extendedCode ?? code
        self.message = message
        self.sql = sql
    }

    init(handle: OpaquePointer?, code: Int32, sql: String? = nil) {
        let message = handle.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) }
            ?? String(cString: sqlite3_errstr(code))
        let extended = handle.map { sqlite3_extended_errcode($0) } ?? code
        self.init(code: code, extendedCode: extended, message: message, sql: sql)
    }
}
