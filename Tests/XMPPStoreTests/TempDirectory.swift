import Foundation
import XCTest

/// A fresh directory per test, removed afterwards; the database path is nested so
/// SQLiteDatabase's parent-directory creation is exercised too.
class TempDirectoryTestCase: XCTestCase {
    var directory: URL!
    var databasePath: String { directory.appendingPathComponent("nested/dir/xmppd.sqlite").path }

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("xmppstore-\(UUID().uuidString)")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }
}
