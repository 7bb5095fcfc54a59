import CSQLite

/// A prepared statement. Reuse it with `reset()` + new bindings to skip re-parsing SQL.
/// Belongs to its database's thread; finalised on deinit.
public final class SQLiteStatement {
    let handle: OpaquePointer
    private let db: SQLiteDatabase
    public let sql: String

    init(database: SQLiteDatabase, sql: String) throws {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v2(database.handle, sql, -1, &stmt, nil)
        guard rc == SQLITE_OK, let stmt else {
            throw SQLiteError(handle: database.handle, code: rc, sql: sql)
        }
        self.handle = stmt
        self.db = database
        self.sql = sql
    }

    deinit { sqlite3_finalize(handle) }

    /// Binds values to the positional parameters ?1, ?2, ... (clearing earlier bindings).
    public func bind(_ values: [SQLiteBindable?]) throws {
        sqlite3_clear_bindings(handle)
        let expected = Int(sqlite3_bind_parameter_count(handle))
        guard values.count == expected else {
            throw SQLiteError(code: SQLITE_RANGE, message: "statement has \(expected) parameters, \(values.count) given", sql: sql)
        }
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let rc: Int32
            switch value?.sqliteValue ?? .null {
            case .integer(let v): rc = sqlite3_bind_int64(handle, index, v)
            case .real(let v): rc = sqlite3_bind_double(handle, index, v)
            case .text(let v): rc = sqlite3_bind_text(handle, index, v, -1, csqlite_transient())
            case .blob(let v):
                // A zero-length blob must not bind as NULL, so give sqlite a valid pointer.
                rc = v.withUnsafeBytes { raw in
                    sqlite3_bind_blob(handle, index, raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(v.count), csqlite_transient())
                }
            case .null: rc = sqlite3_bind_null(handle, index)
            }
            guard rc == SQLITE_OK else { throw SQLiteError(handle: db.handle, code: rc, sql: sql) }
        }
    }

    /// Advances one row; returns it, or nil when the statement is done.
    public func step() throws -> SQLiteRow? {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return currentRow()
        case SQLITE_DONE: return nil
        default:
            let error = SQLiteError(handle: db.handle, code: rc, sql: sql)
            sqlite3_reset(handle)
            throw error
        }
    }

    /// Runs to completion and collects all rows; resets afterwards for reuse.
    public func all() throws -> [SQLiteRow] {
        defer { sqlite3_reset(handle) }
        var rows: [SQLiteRow] = []
        while let row = try step() { rows.append(row) }
        return rows
    }

    public func reset() { sqlite3_reset(handle) }

    private func currentRow() -> SQLiteRow {
        let count = sqlite3_column_count(handle)
        var names: [String] = []
        var values: [SQLiteValue] = []
        names.reserveCapacity(Int(count))
        values.reserveCapacity(Int(count))
        for i in 0..<count {
            names.append(sqlite3_column_name(handle, i).map { String(cString: $0) } ?? "")
            switch sqlite3_column_type(handle, i) {
            case SQLITE_INTEGER: values.append(.integer(sqlite3_column_int64(handle, i)))
            case SQLITE_FLOAT: values.append(.real(sqlite3_column_double(handle, i)))
            case SQLITE_TEXT:
                let text = sqlite3_column_text(handle, i).map { String(cString: $0) } ?? ""
                values.append(.text(text))
            case SQLITE_BLOB:
                let n = Int(sqlite3_column_bytes(handle, i))
                if n > 0, let p = sqlite3_column_blob(handle, i) {
                    values.append(.blob(Array(UnsafeRawBufferPointer(start: p, count: n))))
                } else {
                    values.append(.blob([]))
                }
            default: values.append(.null)
            }
        }
        return SQLiteRow(columns: names, values: values)
    }
}
