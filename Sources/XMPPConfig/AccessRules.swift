import Foundation

/// Evaluates access rules for a user, as MongooseIM does: the clauses of a rule are
/// tried in order and the first whose access class matches gives the value; no match
/// gives "deny". The rule "all" always allows and "none" always denies; the class
/// "all" matches everyone.
public final class AccessRules: @unchecked Sendable {
    public let config: AccessControlConfig
    public let hosts: [String]
    private let lock = NSLock()
    private var regexCache: [String: NSRegularExpression] = [:]

    public init(config: AccessControlConfig, hosts: [String]) {
        self.config = config
        self.hosts = hosts
    }

    /// The value of `rule` for a user (`local`@`domain`/`resource`), on `currentDomain`.
    public func evaluate(_ rule: String, local: String?, domain: String, resource: String? = nil,
                         currentDomain: String? = nil) -> AccessValue {
        switch rule {
        case "all": return .allow
        case "none": return .deny
        default: break
        }
        guard let clauses = config.access[rule] else { return .deny }
        let current = currentDomain ?? domain
        for clause in clauses where classMatches(clause.acl, local: local, domain: domain, resource: resource, current: current) {
            return clause.value
        }
        return .deny
    }

    public func allows(_ rule: String, local: String?, domain: String, resource: String? = nil) -> Bool {
        evaluate(rule, local: local, domain: domain, resource: resource) == .allow
    }

    /// The shaper a shaper rule gives a user: nil for "none" (no shaping).
    public func shaper(forRule rule: String, local: String?, domain: String) -> ShaperConfig? {
        if rule == "none" { return nil }
        guard case .string(let name) = evaluate(rule, local: local, domain: domain), name != "none" else { return nil }
        return config.shapers[name]
    }

    private func classMatches(_ name: String, local: String?, domain: String, resource: String?, current: String) -> Bool {
        if name == "all" { return true }
        guard let patterns = config.acl[name] else { return false } // MongooseIM: an unknown class never matches
        return patterns.contains { matches($0, local: local, domain: domain, resource: resource, current: current) }
    }

    private func matches(_ p: ACLPattern, local: String?, domain: String, resource: String?, current: String) -> Bool {
        switch p.match {
        case .none: return false
        case .all: break
        case .currentDomain: if p.server == nil && p.serverRegexp == nil && p.serverGlob == nil && domain != current { return false }
        case .anyHostedDomain: if !hosts.contains(domain) { return false }
        }
        let user = local ?? ""
        if let u = p.user, u != user { return false }
        if let s = p.server, s != domain { return false }
        if let r = p.resource, r != (resource ?? "") { return false }
        if let re = p.userRegexp, !search(re, user) { return false }
        if let re = p.serverRegexp, !search(re, domain) { return false }
        if let re = p.resourceRegexp, !search(re, resource ?? "") { return false }
        if let g = p.userGlob, !glob(g, user) { return false }
        if let g = p.serverGlob, !glob(g, domain) { return false }
        if let g = p.resourceGlob, !glob(g, resource ?? "") { return false }
        return true
    }

    /// Erlang `re:run` semantics: the expression may match anywhere ("" matches all).
    private func search(_ pattern: String, _ text: String) -> Bool {
        guard let regex = compiled(pattern) else { return false }
        return regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }

    /// Shell-style globs (`*`, `?`) must match the whole text.
    private func glob(_ pattern: String, _ text: String) -> Bool {
        let regex = "^" + NSRegularExpression.escapedPattern(for: pattern)
            .replacingOccurrences(of: "\\*", with: ".*").replacingOccurrences(of: "\\?", with: ".") + "$"
        return search(regex, text)
    }

    private func compiled(_ pattern: String) -> NSRegularExpression? {
        lock.lock(); defer { lock.unlock() }
        if let cached = regexCache[pattern] { return cached }
        let regex = try? NSRegularExpression(pattern: pattern)
        regexCache[pattern] = regex
        return regex
    }
}
