import Foundation
import XMPPSASL

public enum AccountError: Error, Equatable, Sendable {
    case alreadyExists
    case notFound
    case emptyPassword
    case invalidUsername
}

/// User accounts with SCRAM credentials (SHA-1, SHA-224, SHA-256, SHA-384, SHA-512, or the
/// subset `auth.password.hash` names). The password is only
/// ever used to derive credentials; it is not stored. Usernames and domains are stored
/// lowercased (a simple stand-in for full PRECIS nodeprep, which the caller may apply first).
///
/// Same threading rule as the database: one thread at a time.
public final class AccountStore {
    public let database: SQLiteDatabase
    private let now: () -> Double

    public init(database: SQLiteDatabase, now: @escaping () -> Double = { Date().timeIntervalSince1970 }) throws {
        self.database = database
        self.now = now
        try StoreSchema.apply(to: database)
    }

    /// `hashes`: the SCRAM hashes to keep credentials for; a login with a SCRAM
    /// mechanism whose hash is not stored fails.
    public func register(user: String, domain: String, password: String,
                         iterations: Int = SCRAMCredentials.defaultIterations,
                         hashes: [SCRAMHash] = SCRAMHash.allCases) throws {
        let user = try Self.normalise(user: user)
        let domain = domain.lowercased()
        guard !password.isEmpty else { throw AccountError.emptyPassword }
        // PBKDF2 is slow: derive before taking the write lock.
        let credentials = hashes.map { SCRAMCredentials.generate(password: password, iterations: iterations, hash: $0) }
        do {
            try database.transaction {
                guard try !existsThrowing(user, domain) else { throw AccountError.alreadyExists }
                let t = now()
                try database.run("INSERT INTO accounts (domain, username, created_at, updated_at) VALUES (?, ?, ?, ?)",
                                 domain, user, t, t)
                try writeCredentials(credentials, user: user, domain: domain)
            }
        } catch let error as SQLiteError where error.isConstraintViolation {
            // Another process registered the same name between our check and insert.
            throw AccountError.alreadyExists
        }
    }

    /// Removes the account and its rows in `data` (the modules' per-user tables), so
    /// that a new account of the same name starts with nothing of the old one's.
    public func unregister(user: String, domain: String, data: [PerUserTable] = []) throws {
        let user = try Self.normalise(user: user)
        let domain = domain.lowercased()
        try database.transaction {
            // Credentials go with the account (ON DELETE CASCADE).
            let n = try database.run("DELETE FROM accounts WHERE domain = ? AND username = ?", domain, user)
            guard n > 0 else { throw AccountError.notFound }
            for table in data where try !database.query(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", table.name).isEmpty {
                // Names from module code, never from input.
                try database.run("DELETE FROM \(table.name) WHERE \(table.userColumn) = ? AND \(table.domainColumn) = ?",
                                 user, domain)
            }
        }
    }

    public func setPassword(user: String, domain: String, password: String,
                            iterations: Int = SCRAMCredentials.defaultIterations,
                            hashes: [SCRAMHash] = SCRAMHash.allCases) throws {
        let user = try Self.normalise(user: user)
        let domain = domain.lowercased()
        guard !password.isEmpty else { throw AccountError.emptyPassword }
        let credentials = hashes.map { SCRAMCredentials.generate(password: password, iterations: iterations, hash: $0) }
        try database.transaction {
            let n = try database.run("UPDATE accounts SET updated_at = ? WHERE domain = ? AND username = ?",
                                     now(), domain, user)
            guard n > 0 else { throw AccountError.notFound }
            try database.run("DELETE FROM account_credentials WHERE domain = ? AND username = ?", domain, user)
            try writeCredentials(credentials, user: user, domain: domain)
        }
    }

    /// The stored credentials, or nil for an unknown user, an invalid name or a database
    /// error (authentication then fails closed). Use `loadCredentials` to see errors.
    public func credentials(user: String, domain: String, hash: SCRAMHash) -> SCRAMCredentials? {
        (try? loadCredentials(user: user, domain: domain, hash: hash)) ?? nil
    }

    public func loadCredentials(user: String, domain: String, hash: SCRAMHash) throws -> SCRAMCredentials? {
        guard let user = try? Self.normalise(user: user) else { return nil }
        let rows = try database.query("""
            SELECT salt, iterations, stored_key, server_key FROM account_credentials
            WHERE domain = ? AND username = ? AND hash = ?
            """, domain.lowercased(), user, hash.rawValue)
        guard let row = rows.first, let salt = row.blob(0), let iterations = row.int(1),
              let storedKey = row.blob(2), let serverKey = row.blob(3) else { return nil }
        return SCRAMCredentials(hash: hash, salt: salt, iterations: iterations, storedKey: storedKey, serverKey: serverKey)
    }

    /// The credentials PLAIN checks a password against: SHA-256's when stored, else the
    /// strongest hash stored (`auth.password.hash` may leave SHA-256 out).
    public func anyCredentials(user: String, domain: String) -> SCRAMCredentials? {
        for hash in [SCRAMHash.sha256, .sha512, .sha384, .sha224, .sha1] {
            if let found = credentials(user: user, domain: domain, hash: hash) { return found }
        }
        return nil
    }

    /// A `CredentialLookup` for `SCRAMServer(hash:lookup:)` / `PLAINServer` on one domain.
    public func lookup(domain: String, hash: SCRAMHash) -> CredentialLookup {
        { [self] user in credentials(user: user, domain: domain, hash: hash) }
    }

    /// False for unknown users and on database errors.
    public func exists(user: String, domain: String) -> Bool {
        guard let user = try? Self.normalise(user: user) else { return false }
        return (try? existsThrowing(user, domain.lowercased())) ?? false
    }

    /// Number of accounts on `domain`; 0 on database errors (use `countAccounts` to see them).
    public func count(domain: String) -> Int {
        (try? countAccounts(domain: domain)) ?? 0
    }

    public func countAccounts(domain: String) throws -> Int {
        try database.query("SELECT count(*) FROM accounts WHERE domain = ?", domain.lowercased()).first?.int(0) ?? 0
    }

    /// Usernames on `domain`, sorted (for the admin CLI).
    public func users(domain: String) throws -> [String] {
        try database.query("SELECT username FROM accounts WHERE domain = ? ORDER BY username", domain.lowercased())
            .compactMap { $0.string(0) }
    }

    /// Lowercases and rejects what can never be a JID localpart (RFC 7622 §3.3.1 plus
    /// whitespace and control characters), so bad names fail here rather than at login.
    public static func normalise(user: String) throws -> String {
        let lowered = user.lowercased()
        guard !lowered.isEmpty, lowered.utf8.count <= 1023 else { throw AccountError.invalidUsername }
        let forbidden: Set<Unicode.Scalar> = ["\"", "&", "'", "/", ":", "<", ">", "@"]
        for scalar in lowered.unicodeScalars {
            if forbidden.contains(scalar) || scalar.properties.isWhitespace
                || scalar.properties.generalCategory == .control {
                throw AccountError.invalidUsername
            }
        }
        return lowered
    }

    private func existsThrowing(_ user: String, _ domain: String) throws -> Bool {
        try !database.query("SELECT 1 FROM accounts WHERE domain = ? AND username = ?", domain, user).isEmpty
    }

    private func writeCredentials(_ credentials: [SCRAMCredentials], user: String, domain: String) throws {
        let insert = try database.prepare("""
            INSERT INTO account_credentials (domain, username, hash, salt, iterations, stored_key, server_key)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """)
        for c in credentials {
            try insert.bind([domain, user, c.hash.rawValue, c.salt, c.iterations, c.storedKey, c.serverKey])
            _ = try insert.all()
        }
    }
}

/// A table of a module's with rows per user, found by two columns (see
/// `ServerModule.perUserTables`).
public struct PerUserTable: Sendable, Equatable {
    public let name: String
    public let userColumn: String
    public let domainColumn: String

    public init(_ name: String, userColumn: String = "username", domainColumn: String = "domain") {
        self.name = name
        self.userColumn = userColumn
        self.domainColumn = domainColumn
    }
}
