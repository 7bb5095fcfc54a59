import XCTest
@testable import XMPPStore

final class SQLiteDatabaseTests: TempDirectoryTestCase {
    func testOpenCreatesDirectoryAndUsesWAL() throws {
        let db = try SQLiteDatabase(path: databasePath)
        XCTAssertTrue(FileManager.default.fileExists(atPath: databasePath))
        XCTAssertEqual(try db.query("PRAGMA journal_mode").first?.string(0), "wal")
        XCTAssertEqual(try db.query("PRAGMA busy_timeout").first?.int(0), 5000)
    }

    func testTypedBindsAndReads() throws {
        let db = try SQLiteDatabase(path: databasePath)
        try db.execute("CREATE TABLE t (i INTEGER, d REAL, s TEXT, b BLOB, n TEXT)")
        let missing: String? = nil
        try db.run("INSERT INTO t VALUES (?, ?, ?, ?, ?)", 42, 1.5, "it's \"quoted\"; DROP TABLE t", [0, 1, 255] as [UInt8], missing)
        try db.run("INSERT INTO t VALUES (?, ?, ?, ?, ?)", Int64.max, -0.25, "", [UInt8](), nil)
        let rows = try db.query("SELECT i, d, s, b, n FROM t ORDER BY rowid")
        XCTAssertEqual(rows.count, 2)
        XCTAssertEqual(rows[0].int(0), 42)
        XCTAssertEqual(rows[0].double("d"), 1.5)
        XCTAssertEqual(rows[0].string("s"), "it's \"quoted\"; DROP TABLE t")
        XCTAssertEqual(rows[0].blob(3), [0, 1, 255])
        XCTAssertTrue(rows[0].isNull(4))
        XCTAssertEqual(rows[1].int64(0), Int64.max)
        XCTAssertEqual(rows[1].string(2), "")
        XCTAssertEqual(rows[1][3], .blob([]))
        XCTAssertEqual(rows[1]["n"], .null)
    }

    func testErrorsCarrySQLiteMessage() throws {
        let db = try SQLiteDatabase(path: databasePath)
        XCTAssertThrowsError(try db.execute("SELEC nonsense")) { error in
            XCTAssertTrue((error as? SQLiteError)?.message.contains("syntax error") ?? false, "\(error)")
        }
        try db.execute("CREATE TABLE u (k TEXT PRIMARY KEY)")
        try db.run("INSERT INTO u VALUES (?)", "a")
        XCTAssertThrowsError(try db.run("INSERT INTO u VALUES (?)", "a")) { error in
            XCTAssertTrue((error as? SQLiteError)?.isConstraintViolation ?? false, "\(error)")
        }
        XCTAssertThrowsError(try db.run("INSERT INTO u VALUES (?)", "a", "b"))  // wrong parameter count
    }

    func testTransactionsCommitAndRollBack() throws {
        let db = try SQLiteDatabase(path: databasePath)
        try db.execute("CREATE TABLE t (v INTEGER)")
        struct Boom: Error {}
        XCTAssertThrowsError(try db.transaction {
            try db.run("INSERT INTO t VALUES (1)")
            throw Boom()
        })
        try db.transaction {
            try db.run("INSERT INTO t VALUES (2)")
            // A failing nested transaction only undoes its own work.
            try? db.transaction {
                try db.run("INSERT INTO t VALUES (3)")
                throw Boom()
            }
        }
        XCTAssertEqual(try db.query("SELECT v FROM t").compactMap { $0.int(0) }, [2])
    }

    func testMigrationsRunOnceAndInOrder() throws {
        let db = try SQLiteDatabase(path: databasePath)
        let steps = ["CREATE TABLE a (x)", "CREATE TABLE b (y)"]
        try db.migrate(steps)
        XCTAssertEqual(try db.userVersion(), 2)
        try db.migrate(steps)  // idempotent: would fail on "table a already exists" otherwise
        try db.migrate(steps + ["ALTER TABLE a ADD COLUMN z"])
        XCTAssertEqual(try db.userVersion(), 3)
        // A failing step leaves the version where it was.
        XCTAssertThrowsError(try db.migrate(steps + ["ALTER TABLE a ADD COLUMN z", "garbage"]))
        XCTAssertEqual(try db.userVersion(), 3)
    }

    func testTwoConnectionsSeeEachOthersWrites() throws {
        let writer = try SQLiteDatabase(path: databasePath)
        let reader = try SQLiteDatabase(path: databasePath)
        try writer.execute("CREATE TABLE t (v TEXT)")
        try writer.run("INSERT INTO t VALUES (?)", "from writer")
        XCTAssertEqual(try reader.query("SELECT v FROM t").first?.string(0), "from writer")
        try reader.run("INSERT INTO t VALUES (?)", "from reader")
        XCTAssertEqual(try writer.query("SELECT count(*) FROM t").first?.int(0), 2)
        // A reader is not blocked by an open write transaction (WAL): it sees the last commit.
        try writer.transaction {
            try writer.run("INSERT INTO t VALUES (?)", "uncommitted")
            XCTAssertEqual(try reader.query("SELECT count(*) FROM t").first?.int(0), 2)
        }
        XCTAssertEqual(try reader.query("SELECT count(*) FROM t").first?.int(0), 3)
    }

    func testBusyWriterWaitsInsteadOfFailing() throws {
        let a = try SQLiteDatabase(path: databasePath)
        let b = try SQLiteDatabase(path: databasePath, busyTimeoutMilliseconds: 100)
        try a.execute("CREATE TABLE t (v INTEGER)")
        try a.execute("BEGIN IMMEDIATE")
        // b gives up after its (short) timeout with SQLITE_BUSY rather than hanging or corrupting.
        XCTAssertThrowsError(try b.run("INSERT INTO t VALUES (1)")) { error in
            XCTAssertTrue((error as? SQLiteError)?.isBusy ?? false, "\(error)")
        }
        try a.execute("COMMIT")
        try b.run("INSERT INTO t VALUES (1)")
    }
}
