import Foundation
import XMPPSASL
import XMPPStore

/// Creates the bench accounts directly in the server's database (as `xmppctl register`
/// does, without a process per user) and warms the client's SCRAM key cache.
enum Accounts {
    static func username(_ i: Int) -> String { "bench\(i)" }
    static let password = "bench-secret"

    /// Registers bench0..bench(n-1), skipping existing ones; returns how many were new.
    /// PBKDF2 dominates, so the work is split over `threads` database connections.
    static func register(count n: Int, domain: String, databasePath: String, iterations: Int,
                         threads: Int) throws -> Int {
        let created = LockedCounter()
        let failure = LockedBox<Error>()
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            do {
                let store = try AccountStore(database: try SQLiteDatabase(path: databasePath))
                for i in stride(from: t, to: n, by: threads) {
                    if store.exists(user: username(i), domain: domain) { continue }
                    do {
                        try store.register(user: username(i), domain: domain, password: password, iterations: iterations,
                                           hashes: [.sha256])   // the bench logs in with SCRAM-SHA-256 only
                        created.add(1)
                    } catch AccountError.alreadyExists {
                        continue
                    }
                }
            } catch {
                failure.set(error)
            }
        }
        if let error = failure.value { throw error }
        return created.value
    }

    /// Derives the client keys of every account, as a client that logged in before keeps
    /// them, so the timed logins measure the server rather than the client's PBKDF2.
    static func warm(cache: SCRAMKeyCache, count n: Int, domain: String, databasePath: String,
                     threads: Int) throws {
        let store = try AccountStore(database: try SQLiteDatabase(path: databasePath))
        var salts: [(salt: [UInt8], iterations: Int)] = []
        salts.reserveCapacity(n)
        for i in 0..<n {
            guard let c = try store.loadCredentials(user: username(i), domain: domain, hash: cache.hash) else {
                throw BenchError("account \(username(i))@\(domain) has no \(cache.hash.mechanismName) credentials")
            }
            salts.append((c.salt, c.iterations))
        }
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            for i in stride(from: t, to: n, by: threads) {
                _ = cache.keys(password: password, salt: salts[i].salt, iterations: salts[i].iterations)
            }
        }
    }
}

final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add(_ k: Int) { lock.lock(); n += k; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return n }
}

final class LockedBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var v: T?
    func set(_ value: T) { lock.lock(); if v == nil { v = value }; lock.unlock() }
    var value: T? { lock.lock(); defer { lock.unlock() }; return v }
}
