import XCTest
import XMPPSASL
@testable import XMPPStore

final class AccountStoreTests: TempDirectoryTestCase {
    func store() throws -> AccountStore { try AccountStore(database: SQLiteDatabase(path: databasePath)) }

    func testRegisterDuplicateUnregister() throws {
        let accounts = try store()
        try accounts.register(user: "Alice", domain: "Example.com", password: "pw", iterations: 16)
        XCTAssertTrue(accounts.exists(user: "alice", domain: "example.com"))
        XCTAssertTrue(accounts.exists(user: "ALICE", domain: "example.com"))
        XCTAssertFalse(accounts.exists(user: "alice", domain: "other.example"))
        XCTAssertEqual(accounts.count(domain: "example.com"), 1)
        XCTAssertEqual(try accounts.users(domain: "example.com"), ["alice"])
        XCTAssertThrowsError(try accounts.register(user: "alice", domain: "example.com", password: "x", iterations: 16)) {
            XCTAssertEqual($0 as? AccountError, .alreadyExists)
        }
        try accounts.unregister(user: "alice", domain: "example.com")
        XCTAssertFalse(accounts.exists(user: "alice", domain: "example.com"))
        XCTAssertNil(accounts.credentials(user: "alice", domain: "example.com", hash: .sha256))
        XCTAssertThrowsError(try accounts.unregister(user: "alice", domain: "example.com")) {
            XCTAssertEqual($0 as? AccountError, .notFound)
        }
        // Credential rows went with the account.
        XCTAssertEqual(try accounts.database.query("SELECT count(*) FROM account_credentials").first?.int(0), 0)
    }

    func testUnregisterEmptiesThePerUserTablesOfTheAccountOnly() throws {
        let accounts = try store()
        try accounts.register(user: "alice", domain: "example.com", password: "pw", iterations: 16)
        try accounts.database.execute("""
            CREATE TABLE notes (username TEXT, domain TEXT, note TEXT);
            CREATE TABLE archive (owner_user TEXT, owner_domain TEXT, body TEXT);
            INSERT INTO notes VALUES ('alice', 'example.com', 'a'), ('bob', 'example.com', 'b'), ('alice', 'other.example', 'c');
            INSERT INTO archive VALUES ('alice', 'example.com', 'hi'), ('bob', 'example.com', 'yo');
            """)
        let tables = [PerUserTable("notes"), PerUserTable("archive", userColumn: "owner_user", domainColumn: "owner_domain"),
                      PerUserTable("of_a_module_never_enabled")]
        try accounts.unregister(user: "Alice", domain: "Example.com", data: tables)
        XCTAssertEqual(try accounts.database.query("SELECT note FROM notes ORDER BY note").compactMap { $0.string(0) }, ["b", "c"])
        XCTAssertEqual(try accounts.database.query("SELECT body FROM archive").compactMap { $0.string(0) }, ["yo"])
        // Nothing is deleted for an account that does not exist.
        XCTAssertThrowsError(try accounts.unregister(user: "bob", domain: "example.com", data: tables))
        XCTAssertEqual(try accounts.database.query("SELECT count(*) FROM archive").first?.int(0), 1)
    }

    func testValidation() throws {
        let accounts = try store()
        XCTAssertThrowsError(try accounts.register(user: "bob", domain: "example.com", password: "", iterations: 16)) {
            XCTAssertEqual($0 as? AccountError, .emptyPassword)
        }
        for bad in ["", "a@b", "a b", "a/b", "a:b", "<x>", "tab\t"] {
            XCTAssertThrowsError(try accounts.register(user: bad, domain: "example.com", password: "pw", iterations: 16)) {
                XCTAssertEqual($0 as? AccountError, .invalidUsername)
            }
        }
        XCTAssertThrowsError(try accounts.setPassword(user: "ghost", domain: "example.com", password: "pw", iterations: 16)) {
            XCTAssertEqual($0 as? AccountError, .notFound)
        }
        try accounts.register(user: "bob", domain: "example.com", password: "pw", iterations: 16)
        XCTAssertThrowsError(try accounts.setPassword(user: "bob", domain: "example.com", password: "", iterations: 16)) {
            XCTAssertEqual($0 as? AccountError, .emptyPassword)
        }
    }

    func testNoPlaintextPasswordStored() throws {
        let accounts = try store()
        try accounts.register(user: "carol", domain: "example.com", password: "hunter2-secret", iterations: 16)
        let file = try Data(contentsOf: URL(fileURLWithPath: databasePath))
            + ((try? Data(contentsOf: URL(fileURLWithPath: databasePath + "-wal"))) ?? Data())
        XCTAssertNil(file.range(of: Data("hunter2-secret".utf8)))
    }

    /// Logs in through the real SASL mechanisms against what the store saved.
    func scramLogin(_ accounts: AccountStore, user: String, password: String, hash: SCRAMHash) -> Bool {
        let server = SCRAMServer(hash: hash, lookup: accounts.lookup(domain: "example.com", hash: hash))
        let bare = "n=\(user),r=clientnonce"
        guard case .challenge(let first) = server.start(initialResponse: Array("n,,\(bare)".utf8)) else { return false }
        let serverFirst = String(decoding: first, as: UTF8.self)
        let attrs = Dictionary(uniqueKeysWithValues: serverFirst.split(separator: ",").map {
            (String($0.prefix(1)), String($0.dropFirst(2)))
        })
        let salted = SASLCrypto.pbkdf2(hash, password: Array(password.utf8), salt: Base64.decode(attrs["s"]!)!,
                                       iterations: Int(attrs["i"]!)!)
        let clientKey = SASLCrypto.hmac(hash, key: salted, data: Array("Client Key".utf8))
        let withoutProof = "c=biws,r=\(attrs["r"]!)"
        let signature = SASLCrypto.hmac(hash, key: SASLCrypto.hash(hash, clientKey),
                                        data: Array("\(bare),\(serverFirst),\(withoutProof)".utf8))
        let proof = zip(clientKey, signature).map { $0 ^ $1 }
        guard case .success = server.respond(Array("\(withoutProof),p=\(Base64.encode(proof))".utf8)) else { return false }
        return true
    }

    func testCredentialsVerifyWithSCRAMAndPLAIN() throws {
        let accounts = try store()
        try accounts.register(user: "dave", domain: "example.com", password: "pencil", iterations: 32)
        for hash in SCRAMHash.allCases {
            let c = try XCTUnwrap(accounts.credentials(user: "dave", domain: "example.com", hash: hash))
            XCTAssertEqual(c.hash, hash)
            XCTAssertEqual(c.iterations, 32)
            XCTAssertTrue(c.verify(password: "pencil"))
            XCTAssertTrue(scramLogin(accounts, user: "dave", password: "pencil", hash: hash))
            XCTAssertFalse(scramLogin(accounts, user: "dave", password: "pencil!", hash: hash))
        }
        let plain = PLAINServer(lookup: accounts.lookup(domain: "example.com", hash: .sha256))
        guard case .success = plain.start(initialResponse: Array("\0dave\0pencil".utf8)) else { return XCTFail() }

        try accounts.setPassword(user: "Dave", domain: "example.com", password: "crayon", iterations: 32)
        XCTAssertFalse(scramLogin(accounts, user: "dave", password: "pencil", hash: .sha256))
        XCTAssertTrue(scramLogin(accounts, user: "dave", password: "crayon", hash: .sha256))
        XCTAssertTrue(scramLogin(accounts, user: "dave", password: "crayon", hash: .sha1))
    }

    func testSecondConnectionSeesRegistration() throws {
        let a = try store()
        let b = try store()
        try a.register(user: "erin", domain: "example.com", password: "pw", iterations: 16)
        XCTAssertTrue(b.exists(user: "erin", domain: "example.com"))
        XCTAssertThrowsError(try b.register(user: "erin", domain: "example.com", password: "pw", iterations: 16))
    }
}
