import Foundation
import XMPPConfig
import XMPPCore
import XMPPModuleAPI
import XMPPStore

/// Offline messages, as MongooseIM's mod_offline: a message for a user with no
/// available resource is stored in SQLite and delivered, with a XEP-0203 delay
/// stamp, when the user next sends initial presence.
///
/// Options as MongooseIM's: `backend` ("rdbms": SQLite here), `store_groupchat_messages`,
/// and `access_max_user_messages`, whose default rule gives 100 messages per user
/// (MongooseIM's default `max_user_offline_messages`). Other rule names need the
/// [access] section, which xmppd does not have yet, so they are refused.
public final class ModOffline: ServerModule {
    public static let name = "mod_offline"
    public static let perUserTables = [PerUserTable("offline_messages")]
    static let defaultLimitRule = "max_user_offline_messages"
    static let defaultLimit = 100

    struct Options {
        var storeGroupchat: Bool
        var limit: Int

        init(_ options: ModuleOptions) throws {
            try options.checkKnownKeys(["backend", "store_groupchat_messages", "access_max_user_messages"])
            _ = try options.oneOf("backend", ["rdbms"], default: "rdbms")
            storeGroupchat = try options.bool("store_groupchat_messages", default: false)
            let rule = try options.string("access_max_user_messages", default: ModOffline.defaultLimitRule)
            guard rule == ModOffline.defaultLimitRule else {
                throw options.error("access_max_user_messages",
                                    "found \"\(rule)\", but access rules are not supported yet: only \"\(ModOffline.defaultLimitRule)\" (100 messages) works")
            }
            limit = ModOffline.defaultLimit
        }
    }

    private let host: ModuleHost
    private let options: Options
    private let store: OfflineStore

    public static func validate(_ options: ModuleOptions) throws { _ = try Options(options) }

    public required init(options moduleOptions: ModuleOptions, host: ModuleHost) throws {
        self.host = host
        self.options = try Options(moduleOptions)
        self.store = try OfflineStore(path: host.databasePath)
        host.addServerFeature("msgoffline")
        host.hooks.onOfflineMessage { [weak self] message, recipient in
            self?.store(message, for: recipient) ?? false
        }
        host.hooks.onUserAvailable { [weak self] session in self?.deliver(to: session) }
        host.hooks.onPendingWrites { [store] committed in store.afterPendingWrites(committed) }
    }

    /// RFC 6121 §8.5.2.2 / XEP-0160: only messages with a body worth keeping.
    private func store(_ message: XMLElement, for recipient: JID) -> Bool {
        let type = message[attribute: "type"] ?? "normal"
        if type == "groupchat" && !options.storeGroupchat { return false }
        guard message.child("body") != nil || message.elements.contains(where: { $0.name != "thread" }) else { return false }
        var stamped = message
        stamped.append(XMLElement(name: "delay", namespace: "urn:xmpp:delay", attributes: [
            "from": recipient.domain, "stamp": Self.timestamp()]))
        let limit = options.limit
        store.append(stamped, for: recipient, limit: limit) { [weak self, host] accepted in
            guard accepted else {
                if let error = Self.bounce(message, condition: "resource-constraint") { host.route(error) }
                return
            }
            // The recipient's presence reaches this worker over the mesh a moment
            // after it is sent: a message stored in that moment would wait for the
            // next login, as the recipient's worker delivered at initial presence.
            // Once committed, if the user is available now, deliver at once.
            if !host.availableResources(of: recipient.bare).isEmpty { self?.deliver(to: recipient.bare) }
        }
        return true
    }

    /// To a full JID (its initial presence), or to the bare JID (the router picks
    /// the available resources).
    private func deliver(to session: JID) {
        store.takeAll(for: session.bare) { [host] messages in
            for var message in messages {
                message[attribute: "to"] = session.description
                host.route(message)
            }
        }
    }

    static func timestamp() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date())
    }

    static func bounce(_ message: XMLElement, condition: String) -> XMLElement? {
        var error = message
        error[attribute: "type"] = "error"
        error[attribute: "to"] = message[attribute: "from"]
        error[attribute: "from"] = message[attribute: "to"]
        var detail = XMLElement(name: "error", namespace: XMPPNamespace.client, attributes: ["type": "wait"])
        detail.append(XMLElement(name: condition, namespace: XMPPNamespace.stanzas))
        error.append(detail)
        return error[attribute: "to"] == nil ? nil : error
    }
}
