import Foundation

/// Parses `[acl]`, `[access]` and `[shaper]`, and checks that rules name existing
/// access classes' syntax (regexps compile) and that shaper rules name shapers.
struct AccessValidator {
    let root: TableReader

    static let patternKeys = ["match", "user", "server", "resource", "user_regexp", "server_regexp",
                              "resource_regexp", "user_glob", "server_glob", "resource_glob"]

    func parse() throws -> AccessControlConfig {
        var config = AccessControlConfig()
        if let acl = try root.table("acl") {
            for name in acl.entries.keys.sorted() {
                guard let patterns = try acl.tableArray(name, expected: "an array of patterns, e.g. [{user = \"alice\"}]") else { continue }
                config.acl[name] = try patterns.map(parsePattern)
            }
        }
        if let access = try root.table("access") {
            for name in access.entries.keys.sorted() {
                guard let clauses = try access.tableArray(name, expected: "an array of clauses, e.g. [{acl = \"all\", value = \"allow\"}]") else { continue }
                config.access[name] = try clauses.map(parseClause)
            }
        }
        if let shapers = try root.table("shaper") {
            for name in shapers.entries.keys.sorted() {
                guard let shaper = try shapers.table(name, expected: "a table like {max_rate = 1000}") else { continue }
                try shaper.checkKnownKeys(["max_rate"])
                guard let rate = try shaper.int("max_rate", .positive, expected: "a positive integer (bytes per second)") else {
                    throw shaper.missing("max_rate", "a positive integer (bytes per second)")
                }
                config.shapers[name] = ShaperConfig(maxRate: rate)
            }
        }
        return config
    }

    private func parsePattern(_ t: TableReader) throws -> ACLPattern {
        try t.checkKnownKeys(Self.patternKeys)
        var pattern = ACLPattern()
        if let match = try t.oneOf("match", ACLPattern.Match.allCases.map(\.rawValue)) {
            pattern.match = ACLPattern.Match(rawValue: match)!
        }
        pattern.user = try t.string("user")
        pattern.server = try t.string("server")
        pattern.resource = try t.string("resource")
        pattern.userRegexp = try regexp(t, "user_regexp")
        pattern.serverRegexp = try regexp(t, "server_regexp")
        pattern.resourceRegexp = try regexp(t, "resource_regexp")
        pattern.userGlob = try t.string("user_glob")
        pattern.serverGlob = try t.string("server_glob")
        pattern.resourceGlob = try t.string("resource_glob")
        return pattern
    }

    private func regexp(_ t: TableReader, _ key: String) throws -> String? {
        guard let text = try t.string(key, expected: "a regular expression") else { return nil }
        guard (try? NSRegularExpression(pattern: text)) != nil else {
            throw t.error(key, "found \(quoted(text)), expected a valid regular expression")
        }
        return text
    }

    private func parseClause(_ t: TableReader) throws -> AccessClause {
        try t.checkKnownKeys(["acl", "value"])
        let acl = try t.requiredString("acl", expected: "the name of an access class or \"all\"")
        guard let raw = t.entries["value"] else { throw t.missing("value", "a string or an integer") }
        switch raw {
        case .string(let s): return AccessClause(acl: acl, value: .string(s))
        case .int(let n): return AccessClause(acl: acl, value: .int(n))
        default: throw t.wrongType("value", raw, "a string or an integer")
        }
    }
}

extension AccessControlConfig {
    /// Rule names every config has (MongooseIM treats these as built in).
    static let builtInRules = ["all", "none"]

    func hasRule(_ name: String) -> Bool { Self.builtInRules.contains(name) || access[name] != nil }
}
