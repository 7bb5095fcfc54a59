import XMPPCore
import XMPPModuleAPI

/// `<query xmlns='jabber:iq:private'>` get and set (XEP-0049 §2).
enum PrivateIQ {
    static func handle(_ request: IQRequest, store: PrivateStore) {
        // §2.3 / §3: only the user's own data, from one of the user's resources.
        guard request.to == request.from.bare else { return request.fail("forbidden", "auth") }
        guard let query = request.payload, query.name == "query",
              request.type == "get" || request.type == "set" else {
            return request.fail("bad-request", "modify")
        }
        let fragments = query.elements
        // §2.3: "at least one child element ... otherwise Not Acceptable".
        guard !fragments.isEmpty else { return request.fail("not-acceptable", "modify") }
        // Every fragment in a namespace of its own (the schema's ##other).
        let namespaces = fragments.map { $0.namespace ?? "" }
        if namespaces.contains(where: { $0.isEmpty || $0 == ModPrivate.namespace }) {
            return request.fail("bad-request", "modify")
        }
        // §2.3: reserved namespaces are refused with Not Acceptable (optional there).
        if namespaces.contains(where: isReserved) { return request.fail("not-acceptable", "modify") }
        let owner = request.to
        if request.type == "get" {
            // §2.3: one namespace per get.
            guard Set(namespaces).count == 1 else { return request.fail("bad-request", "modify") }
            store.get(namespaces[0], of: owner) { result in
                guard case .success(let stored) = result else { return request.fail("internal-server-error", "wait") }
                var reply = XMLElement(name: "query", namespace: ModPrivate.namespace)
                // Nothing stored: the request's element comes back as it was (empty).
                for fragment in stored ?? fragments { reply.append(fragment) }
                request.reply(reply)
            }
        } else {
            // A set may hold several namespaces; elements of one namespace are kept together.
            var byNamespace: [(namespace: String, fragments: [XMLElement])] = []
            for fragment in fragments {
                let namespace = fragment.namespace ?? ""
                if let index = byNamespace.firstIndex(where: { $0.namespace == namespace }) {
                    byNamespace[index].fragments.append(fragment)
                } else {
                    byNamespace.append((namespace, [fragment]))
                }
            }
            store.set(byNamespace, of: owner) { ok in
                ok ? request.reply(nil) : request.fail("internal-server-error", "wait")
            }
        }
    }

    /// §2.3: namespaces beginning with 'jabber:' or 'http://jabber.org/', and 'vcard-temp'.
    static func isReserved(_ namespace: String) -> Bool {
        namespace.hasPrefix("jabber:") || namespace.hasPrefix("http://jabber.org/") || namespace == "vcard-temp"
    }
}
