/// Shared state for one parse: where errors point to.
struct ParseContext {
    let file: String
    let lines: KeyLineIndex

    func error(_ keyPath: String, _ message: String) -> ConfigError {
        ConfigError(file: file, line: lines.line(for: keyPath), keyPath: keyPath, message: message)
    }
}

/// Integer rules used across the schema, with the wording used in error messages.
enum IntRule {
    case positive
    case nonNegative
    case port

    var expected: String {
        switch self {
        case .positive: return "a positive integer"
        case .nonNegative: return "a non-negative integer"
        case .port: return "a port number 1-65535"
        }
    }

    func accepts(_ value: Int) -> Bool {
        switch self {
        case .positive: return value > 0
        case .nonNegative: return value >= 0
        case .port: return (1...65535).contains(value)
        }
    }
}

/// Typed, strict access to one TOML table.
///
/// Each accessor returns nil when the key is absent and throws a ConfigError naming the
/// full key path when the value has the wrong type or is out of range. Validators call
/// `checkKnownKeys` first, because TOMLKit itself silently ignores keys nobody asks for.
struct TableReader {
    let ctx: ParseContext
    let path: String
    let entries: [String: TOMLNode]

    func keyPath(_ key: String) -> String { path.isEmpty ? key : path + "." + key }

    func has(_ key: String) -> Bool { entries[key] != nil }

    func error(_ key: String, _ message: String) -> ConfigError { ctx.error(keyPath(key), message) }

    /// Error about the table itself (e.g. missing key): points at its header line.
    func tableError(_ key: String, _ message: String) -> ConfigError {
        ConfigError(file: ctx.file, line: ctx.lines.line(for: path), keyPath: keyPath(key), message: message)
    }

    func wrongType(_ key: String, _ value: TOMLNode, _ expected: String) -> ConfigError {
        error(key, "found \(value.typedDescription), expected \(expected)")
    }

    func badValue(_ key: String, _ value: TOMLNode, _ expected: String) -> ConfigError {
        error(key, "found \(value.literal), expected \(expected)")
    }

    func missing(_ key: String, _ expected: String) -> ConfigError {
        tableError(key, "missing mandatory key (expected \(expected))")
    }

    /// Rejects the first unknown key in file order (so a typo is reported before the
    /// "missing mandatory key" it usually causes).
    func checkKnownKeys(_ known: [String]) throws {
        let unknown = entries.keys.filter { !known.contains($0) }
        guard !unknown.isEmpty else { return }
        let first = unknown.min { a, b in
            let la = ctx.lines.lines[keyPath(a)] ?? Int.max
            let lb = ctx.lines.lines[keyPath(b)] ?? Int.max
            return (la, a) < (lb, b)
        }!
        throw error(first, "unknown key (known keys: \(known.joined(separator: ", ")))")
    }

    // MARK: scalars

    func string(_ key: String, expected: String = "a string") throws -> String? {
        guard let v = entries[key] else { return nil }
        guard case .string(let s) = v else { throw wrongType(key, v, expected) }
        return s
    }

    func requiredString(_ key: String, expected: String = "a string") throws -> String {
        guard let s = try string(key, expected: expected) else { throw missing(key, expected) }
        return s
    }

    func oneOf(_ key: String, _ allowed: [String]) throws -> String? {
        let expected = "one of " + allowed.map(quoted).joined(separator: ", ")
        guard let s = try string(key, expected: expected) else { return nil }
        guard allowed.contains(s) else { throw badValue(key, .string(s), expected) }
        return s
    }

    func bool(_ key: String) throws -> Bool? {
        guard let v = entries[key] else { return nil }
        guard case .bool(let b) = v else { throw wrongType(key, v, "a boolean (true or false)") }
        return b
    }

    func int(_ key: String, _ rule: IntRule, expected: String? = nil) throws -> Int? {
        guard let v = entries[key] else { return nil }
        let expectedText = expected ?? rule.expected
        guard case .int(let n) = v else { throw wrongType(key, v, expectedText) }
        guard rule.accepts(n) else { throw badValue(key, v, expectedText) }
        return n
    }

    /// A positive integer or one keyword such as "infinity" / "none".
    func intOrKeyword(_ key: String, keyword: String) throws -> IntOrKeyword {
        guard let v = entries[key] else { return .absent }
        let expected = "a positive integer or \(quoted(keyword))"
        switch v {
        case .int(let n):
            guard n > 0 else { throw badValue(key, v, expected) }
            return .value(n)
        case .string(let s):
            guard s == keyword else { throw badValue(key, v, expected) }
            return .keyword
        default:
            throw wrongType(key, v, expected)
        }
    }

    enum IntOrKeyword: Equatable { case absent, keyword, value(Int) }

    // MARK: collections

    func stringArray(_ key: String, expected: String = "an array of strings") throws -> [String]? {
        guard let v = entries[key] else { return nil }
        guard case .array(let items) = v else { throw wrongType(key, v, expected) }
        return try items.enumerated().map { n, item in
            guard case .string(let s) = item else {
                throw ctx.error(keyPath(key) + "[\(n + 1)]", "found \(item.typedDescription), expected a string")
            }
            return s
        }
    }

    func table(_ key: String, expected: String = "a table") throws -> TableReader? {
        guard let v = entries[key] else { return nil }
        guard case .table(let t) = v else { throw wrongType(key, v, expected) }
        return TableReader(ctx: ctx, path: keyPath(key), entries: t)
    }

    /// An array of tables (`[[x]]` or `x = [{...}, {...}]`); element paths are `key[1]`, `key[2]`...
    func tableArray(_ key: String, expected: String) throws -> [TableReader]? {
        guard let v = entries[key] else { return nil }
        guard case .array(let items) = v else { throw wrongType(key, v, expected) }
        return try items.enumerated().map { n, item in
            let elementPath = keyPath(key) + "[\(n + 1)]"
            guard case .table(let t) = item else {
                throw ctx.error(elementPath, "found \(item.typedDescription), expected a table")
            }
            return TableReader(ctx: ctx, path: elementPath, entries: t)
        }
    }
}
