import Foundation
import XMPPCore
import XMPPStore

/// Rooms and occupants in the SQLite file the workers share (`muc_light_rooms`,
/// `muc_light_occupants`), so a room is the same whichever worker a stanza for it
/// reaches. Every statement runs on one serial queue with the module's own
/// connection; a change reads and writes its room in one transaction.
final class MUCLightStore: @unchecked Sendable {
    private let queue = DispatchQueue(label: "xmppd.mod_muc_light")
    private let database: SQLiteDatabase

    init(path: String) throws {
        database = try SQLiteDatabase(path: path)
        try database.execute("""
            CREATE TABLE IF NOT EXISTS muc_light_rooms (
                room TEXT NOT NULL PRIMARY KEY,
                version TEXT NOT NULL,
                config TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS muc_light_occupants (
                room TEXT NOT NULL,
                username TEXT NOT NULL,
                domain TEXT NOT NULL,
                affiliation TEXT NOT NULL,
                PRIMARY KEY (room, domain, username));
            CREATE INDEX IF NOT EXISTS muc_light_occupants_by_user ON muc_light_occupants(domain, username);
            CREATE TABLE IF NOT EXISTS muc_light_blocking (
                username TEXT NOT NULL,
                domain TEXT NOT NULL,
                kind TEXT NOT NULL,
                target TEXT NOT NULL,
                PRIMARY KEY (domain, username, kind, target));
            """)
    }

    /// The room, or nil.
    func room(_ jid: JID, done: @escaping @Sendable (MUCLightRoom?) -> Void) {
        queue.async { [self] in done(try? load(jid)) }
    }

    /// The rooms `user` is an occupant of.
    func rooms(of user: JID, done: @escaping @Sendable ([MUCLightRoom]) -> Void) {
        queue.async { [self] in
            let names = (try? database.query("SELECT room FROM muc_light_occupants WHERE domain = ? AND username = ? ORDER BY room",
                                             user.domain, user.local ?? "")) ?? []
            done(names.compactMap { $0.string(0).flatMap(JID.init) }.compactMap { try? load($0) })
        }
    }

    /// A user's blocking list (spec §4.5): rooms and users it denies, as ("room" | "user", JID).
    func blocking(of user: JID, done: @escaping @Sendable ([(kind: String, target: String)]) -> Void) {
        queue.async { [self] in
            let rows = (try? database.query("SELECT kind, target FROM muc_light_blocking WHERE domain = ? AND username = ? ORDER BY kind, target",
                                            user.domain, user.local ?? "")) ?? []
            done(rows.compactMap { row in row.string(0).flatMap { kind in row.string(1).map { (kind, $0) } } })
        }
    }

    /// Applies `changes` ((kind, target, deny)) to the user's blocking list.
    func setBlocking(of user: JID, _ changes: [(kind: String, target: String, deny: Bool)],
                     done: @escaping @Sendable (Bool) -> Void) {
        queue.async { [self] in
            let saved: Bool? = try? database.transaction { () -> Bool in
                for change in changes {
                    if change.deny {
                        _ = try database.run("INSERT OR IGNORE INTO muc_light_blocking(username, domain, kind, target) VALUES (?, ?, ?, ?)",
                                             user.local ?? "", user.domain, change.kind, change.target)
                    } else {
                        _ = try database.run("DELETE FROM muc_light_blocking WHERE domain = ? AND username = ? AND kind = ? AND target = ?",
                                             user.domain, user.local ?? "", change.kind, change.target)
                    }
                }
                return true
            }
            done(saved == true)
        }
    }

    /// Whether `user` blocks `target` (a room or a user); used inside `change`.
    private func blocks(_ user: JID, _ kind: String, _ target: JID) -> Bool {
        !((try? database.query("SELECT 1 FROM muc_light_blocking WHERE domain = ? AND username = ? AND kind = ? AND target = ?",
                                user.domain, user.local ?? "", kind, target.bare.description)) ?? []).isEmpty
    }

    /// Loads the room (nil if there is none), lets `body` change it (nil: delete it)
    /// and writes the result, in one transaction. `body` returns the outcome passed to
    /// `done`; a thrown error is passed as `.failure`. `body` may ask whether a user
    /// blocks a room or another user ("room" / "user").
    func change<T: Sendable>(_ jid: JID, roomsOf user: JID? = nil,
                             _ body: @escaping @Sendable (_ room: inout MUCLightRoom?, _ roomsOfUser: Int,
                                                          _ blocks: (JID, String, JID) -> Bool) throws -> T,
                             done: @escaping @Sendable (Result<T, Error>) -> Void) {
        queue.async { [self] in
            done(Result {
                try database.transaction {
                    var room = try load(jid)
                    let before = room
                    let count = try user.map { user in
                        try database.query("SELECT COUNT(*) FROM muc_light_occupants WHERE domain = ? AND username = ?",
                                           user.domain, user.local ?? "").first?.int(0) ?? 0
                    } ?? 0
                    let outcome = try body(&room, count, blocks)
                    if room != before { try save(jid, room) }
                    return outcome
                }
            })
        }
    }

    private func load(_ jid: JID) throws -> MUCLightRoom? {
        guard let row = try database.query("SELECT version, config FROM muc_light_rooms WHERE room = ?", jid.description).first,
              let version = row.string(0), let configJSON = row.string(1) else { return nil }
        let pairs = (try? JSONDecoder().decode([[String]].self, from: Data(configJSON.utf8))) ?? []
        var occupants: [JID: Affiliation] = [:]
        for occupant in try database.query("SELECT username, domain, affiliation FROM muc_light_occupants WHERE room = ?",
                                           jid.description) {
            guard let user = occupant.string(0), let domain = occupant.string(1),
                  let jid = JID("\(user)@\(domain)"), let affiliation = occupant.string(2).flatMap(Affiliation.init) else { continue }
            occupants[jid] = affiliation
        }
        return MUCLightRoom(jid: jid, version: version, config: pairs.compactMap { $0.count == 2 ? ($0[0], $0[1]) : nil },
                            occupants: occupants)
    }

    private func save(_ jid: JID, _ room: MUCLightRoom?) throws {
        _ = try database.run("DELETE FROM muc_light_occupants WHERE room = ?", jid.description)
        guard let room else {
            _ = try database.run("DELETE FROM muc_light_rooms WHERE room = ?", jid.description)
            return
        }
        let config = String(decoding: try JSONEncoder().encode(room.config.map { [$0.key, $0.value] }), as: UTF8.self)
        _ = try database.run("INSERT OR REPLACE INTO muc_light_rooms(room, version, config) VALUES (?, ?, ?)",
                             jid.description, room.version, config)
        for (user, affiliation) in room.occupants {
            _ = try database.run("INSERT INTO muc_light_occupants(room, username, domain, affiliation) VALUES (?, ?, ?, ?)",
                                 jid.description, user.local ?? "", user.domain, affiliation.rawValue)
        }
    }
}
