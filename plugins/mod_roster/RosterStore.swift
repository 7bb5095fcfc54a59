import Foundation
import XMPPCore
import XMPPStore

/// roster_items and roster_versions in the shared SQLite file. Every statement runs
/// on one serial queue, so the event loops never wait for SQLite; a subscription
/// change touches both users' rows in one transaction.
final class RosterStore: @unchecked Sendable {
    private let queue = DispatchQueue(label: "xmppd.mod_roster")
    private let database: SQLiteDatabase
    private let hosts: Set<String>

    init(path: String, hosts: [String]) throws {
        self.hosts = Set(hosts)
        database = try SQLiteDatabase(path: path)
        try database.execute("""
            CREATE TABLE IF NOT EXISTS roster_items (
                username TEXT NOT NULL,
                domain TEXT NOT NULL,
                contact TEXT NOT NULL,
                name TEXT,
                subscription TEXT NOT NULL DEFAULT 'none',
                ask INTEGER NOT NULL DEFAULT 0,
                pending_in TEXT,
                approved INTEGER NOT NULL DEFAULT 0,
                groups TEXT NOT NULL DEFAULT '[]',
                listed INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (domain, username, contact));
            CREATE TABLE IF NOT EXISTS roster_versions (
                username TEXT NOT NULL,
                domain TEXT NOT NULL,
                version INTEGER NOT NULL,
                PRIMARY KEY (domain, username));
            """)
    }

    // MARK: reads

    /// The owner's roster (listed items) and its version.
    func roster(of owner: JID, done: @escaping @Sendable ([RosterItem], Int) -> Void) {
        queue.async { [self] in
            let items = (try? rows(of: owner)) ?? []
            done(items.filter(\.listed), (try? version(of: owner)) ?? 0)
        }
    }

    /// Contacts of `owner` whose subscription satisfies `matches` (broadcast targets),
    /// here or on other servers.
    func contacts(of owner: JID, where matches: @escaping @Sendable (Subscription) -> Bool,
                  done: @escaping @Sendable ([JID]) -> Void) {
        queue.async { [self] in
            let items = (try? rows(of: owner, subscribedOnly: true)) ?? []
            let contacts = items.filter { matches($0.subscription) }.map(\.contact)
            done(contacts)
        }
    }

    /// At initial presence: contacts whose presence the owner sees, and the
    /// subscription requests still waiting for an answer (RFC 6121 §3.1.3).
    func login(of owner: JID, done: @escaping @Sendable (_ seen: [JID], _ pending: [XMLElement]) -> Void) {
        queue.async { [self] in
            let items = (try? rows(of: owner)) ?? []
            let seen = items.filter { $0.subscription.hasTo }.map(\.contact)
            let pending = items.compactMap { $0.pendingIn.flatMap { XMLElement.parseStored($0).first } }
            done(seen, pending)
        }
    }

    /// Whether `owner` may see `contact`'s presence (answers a client's probe).
    func subscription(of owner: JID, to contact: JID, done: @escaping @Sendable (Subscription) -> Void) {
        queue.async { [self] in
            done((try? load(owner, contact))??.subscription ?? .none)
        }
    }

    // MARK: changes

    enum Outcome: Sendable {
        case changed([RosterEffect])
        /// The change was refused (e.g. removing an item that is not there).
        case refused(condition: String, type: String)
        case failed
    }

    /// Loads both rows of `owner`↔`contact` (those of local accounts: a user of another
    /// server has no row here), lets `body` change them, writes them back and bumps
    /// each owner's version whose roster changed, in one transaction. The effects
    /// start with roster pushes for every visible change.
    func change(owner: JID, contact: JID,
                _ body: @escaping @Sendable (inout RosterPair, inout [RosterEffect]) -> Outcome?,
                done: @escaping @Sendable (Outcome) -> Void) {
        queue.async { [self] in
            do {
                let outcome: Outcome = try database.transaction {
                    let senderLocal = try isAccount(owner)
                    let local = try isAccount(contact)
                    var pair = RosterPair(sender: owner, recipient: contact, senderIsLocal: senderLocal, recipientIsLocal: local,
                                          senderItem: senderLocal ? try load(owner, contact) : nil,
                                          recipientItem: local ? try load(contact, owner) : nil)
                    let before = pair
                    var effects: [RosterEffect] = []
                    if let refusal = body(&pair, &effects) { return refusal }
                    // Pushes first: a client learns the new state before the presence
                    // that follows from it (RFC 6121 §3.1.6 pushes, then delivers).
                    var pushes: [RosterEffect] = []
                    if senderLocal, let push = try save(owner, before.senderItem, pair.senderItem, contact: contact) {
                        pushes.append(push)
                    }
                    if local, let push = try save(contact, before.recipientItem, pair.recipientItem, contact: owner) {
                        pushes.append(push)
                    }
                    return .changed(pushes + effects)
                }
                done(outcome)
            } catch {
                done(.failed)
            }
        }
    }

    // MARK: rows

    private func isAccount(_ jid: JID) throws -> Bool {
        guard hosts.contains(jid.domain), let local = jid.local else { return false }
        return try !database.query("SELECT 1 FROM accounts WHERE domain = ? AND username = ?",
                                   jid.domain, local).isEmpty
    }

    private func rows(of owner: JID, subscribedOnly: Bool = false) throws -> [RosterItem] {
        let filter = subscribedOnly ? " AND subscription != 'none'" : ""
        return try database.query(
            "SELECT contact, name, subscription, ask, pending_in, approved, groups, listed FROM roster_items WHERE domain = ? AND username = ?" + filter + " ORDER BY contact",
            owner.domain, owner.local ?? "").compactMap(Self.item)
    }

    private func load(_ owner: JID, _ contact: JID) throws -> RosterItem? {
        try database.query(
            "SELECT contact, name, subscription, ask, pending_in, approved, groups, listed FROM roster_items WHERE domain = ? AND username = ? AND contact = ?",
            owner.domain, owner.local ?? "", contact.description).first.flatMap(Self.item)
    }

    private static func item(_ row: SQLiteRow) -> RosterItem? {
        guard let contact = row.string(0).flatMap(JID.init) else { return nil }
        var item = RosterItem(contact: contact)
        item.name = row.string(1)
        item.subscription = row.string(2).flatMap(Subscription.init(rawValue:)) ?? .none
        item.ask = (row.int(3) ?? 0) != 0
        item.pendingIn = row.string(4)
        item.approved = (row.int(5) ?? 0) != 0
        item.groups = row.string(6).flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) } ?? []
        item.listed = (row.int(7) ?? 0) != 0
        return item
    }

    /// Writes `after` over `before`; returns the push for `owner` when what the owner
    /// sees of the item changed (the version goes up with it).
    private func save(_ owner: JID, _ before: RosterItem?, _ after: RosterItem?, contact: JID) throws -> RosterEffect? {
        guard before != after else { return nil }
        let user = owner.local ?? ""
        if let after, !after.isEmpty {
            let groups = String(decoding: try JSONEncoder().encode(after.groups), as: UTF8.self)
            try database.run("""
                INSERT OR REPLACE INTO roster_items
                    (username, domain, contact, name, subscription, ask, pending_in, approved, groups, listed)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, user, owner.domain, contact.description, after.name, after.subscription.rawValue,
                after.ask, after.pendingIn, after.approved, groups, after.listed)
        } else {
            try database.run("DELETE FROM roster_items WHERE domain = ? AND username = ? AND contact = ?",
                             owner.domain, user, contact.description)
        }
        let shown = after?.element
        guard before?.element != shown else { return nil }
        let pushed = shown ?? RosterItem.removed(contact)
        try database.run("""
            INSERT INTO roster_versions(username, domain, version) VALUES (?, ?, 1)
            ON CONFLICT(domain, username) DO UPDATE SET version = version + 1
            """, user, owner.domain)
        return .push(owner: owner, item: pushed, version: try version(of: owner))
    }

    private func version(of owner: JID) throws -> Int {
        try database.query("SELECT version FROM roster_versions WHERE domain = ? AND username = ?",
                           owner.domain, owner.local ?? "").first?.int(0) ?? 0
    }
}
