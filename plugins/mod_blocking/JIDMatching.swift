import XMPPCore

/// XEP-0191 §6 (as XEP-0016): the blocklist items that match an address, i.e. the
/// keys to look up for it. An item `user@domain/resource` matches only that
/// resource; `user@domain` any of its resources; `domain/resource` only that;
/// `domain` the domain itself, every address at it and at its subdomains.
enum JIDMatching {
    static func keys(for jid: JID) -> [String] {
        var keys: [String] = []
        if jid.local != nil {
            if jid.resource != nil { keys.append(jid.description) }
            keys.append(jid.bare.description)
        }
        if let resource = jid.resource {
            keys.append(JID(domain: jid.domain, resource: resource).description)
        }
        // The domain and each domain it is a subdomain of ("a.b.c": "a.b.c", "b.c", "c").
        var domain = Substring(jid.domain)
        while !domain.isEmpty {
            keys.append(String(domain))
            guard let dot = domain.firstIndex(of: ".") else { break }
            domain = domain[domain.index(after: dot)...]
        }
        return keys
    }
}
