/// `[acl]`, `[access]` and `[shaper]` in MongooseIM's format:
///
///     [acl]
///       admin = [{user = "alice"}]
///       local = [{}]                           # {} = every user of the current domain
///     [access]
///       c2s = [{acl = "blocked", value = "deny"}, {acl = "all", value = "allow"}]
///       c2s_shaper = [{acl = "admin", value = "none"}, {acl = "all", value = "normal"}]
///     [shaper]
///       normal = {max_rate = 1000}             # bytes per second
public struct AccessControlConfig: Codable, Equatable, Hashable, Sendable {
    /// Access classes: the union of their patterns.
    public var acl: [String: [ACLPattern]] = [:]
    /// Access rules: clauses tried in order; no match gives "deny".
    public var access: [String: [AccessClause]] = [:]
    /// Shapers by name.
    public var shapers: [String: ShaperConfig] = [:]

    public init() {}
}

/// One pattern of an access class: every condition given must hold.
public struct ACLPattern: Codable, Equatable, Hashable, Sendable {
    public enum Match: String, Codable, Hashable, Sendable, CaseIterable {
        case all, none
        case currentDomain = "current_domain"
        case anyHostedDomain = "any_hosted_domain"
    }

    public var match: Match = .currentDomain
    public var user: String?
    public var server: String?
    public var resource: String?
    public var userRegexp: String?
    public var serverRegexp: String?
    public var resourceRegexp: String?
    public var userGlob: String?
    public var serverGlob: String?
    public var resourceGlob: String?

    public init() {}
}

public struct AccessClause: Codable, Equatable, Hashable, Sendable {
    public var acl: String
    public var value: AccessValue
}

/// What an access rule yields: "allow" / "deny", a shaper name, or a number.
public enum AccessValue: Codable, Equatable, Hashable, Sendable, CustomStringConvertible {
    case string(String)
    case int(Int)

    public static let allow = AccessValue.string("allow")
    public static let deny = AccessValue.string("deny")

    public var description: String {
        switch self {
        case .string(let s): return s
        case .int(let n): return String(n)
        }
    }
}

public struct ShaperConfig: Codable, Equatable, Hashable, Sendable {
    /// Bytes per second.
    public var maxRate: Int
}
