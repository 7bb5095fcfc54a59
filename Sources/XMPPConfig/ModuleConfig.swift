/// A `[modules.mod_x]` section, kept as typed TOML values until the module it
/// names validates it. The config layer cannot know the modules (they sit above
/// it, in plugins/), so it records where every key was written, and the module's
/// own validation reports errors with the same file / line / key path as the rest.
public struct ModuleConfig: Codable, Equatable, Hashable, Sendable {
    public var name: String
    public var options: [String: ConfigValue]
    /// File as given to `load` / `parse`, for error messages.
    public var file: String
    /// Line of the section header and of each option (`modules.mod_x.key` → line).
    public var lines: [String: Int]

    public var keyPath: String { "modules.\(name)" }

    /// A reader for validating and decoding the options.
    public var reader: ModuleOptions { ModuleOptions(module: self, path: keyPath, entries: options) }
}

/// A TOML value of a module option.
public indirect enum ConfigValue: Codable, Equatable, Hashable, Sendable {
    case table([String: ConfigValue])
    case array([ConfigValue])
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)

    init?(_ node: TOMLNode) {
        switch node {
        case .table(let t): self = .table(t.compactMapValues(ConfigValue.init))
        case .array(let a): self = .array(a.compactMap(ConfigValue.init))
        case .string(let s): self = .string(s)
        case .int(let i): self = .int(i)
        case .double(let d): self = .double(d)
        case .bool(let b): self = .bool(b)
        case .other: return nil
        }
    }

    var literal: String {
        switch self {
        case .table: return "{...}"
        case .array(let items): return "[" + items.map(\.literal).joined(separator: ", ") + "]"
        case .string(let s): return quoted(s)
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .bool(let b): return String(b)
        }
    }

    var typedDescription: String {
        switch self {
        case .table: return "a table"
        case .array: return "array " + literal
        case .string: return "string " + literal
        case .int: return "integer " + literal
        case .double: return "floating-point number " + literal
        case .bool: return "boolean " + literal
        }
    }
}

/// Strict, typed access to a module's options, with errors shaped like every other
/// config error: `FILE:LINE: modules.mod_offline.store_limit: found ..., expected ...`.
public struct ModuleOptions: Sendable {
    public let module: ModuleConfig
    public let path: String
    public let entries: [String: ConfigValue]

    public func keyPath(_ key: String) -> String { "\(path).\(key)" }

    public func error(_ key: String?, _ message: String) -> ConfigError {
        let keyPath = key.map(self.keyPath) ?? path
        var line: Int?
        var probe = keyPath
        while line == nil && !probe.isEmpty {
            line = module.lines[probe]
            probe = KeyLineIndex.parent(of: probe)
        }
        return ConfigError(file: module.file, line: line, keyPath: keyPath, message: message)
    }

    public func checkKnownKeys(_ known: [String]) throws {
        let unknown = entries.keys.filter { !known.contains($0) }
        guard let first = unknown.min(by: { (module.lines[keyPath($0)] ?? .max, $0) < (module.lines[keyPath($1)] ?? .max, $1) }) else { return }
        let knownText = known.isEmpty ? "this module takes no options" : "known keys: \(known.joined(separator: ", "))"
        throw error(first, "unknown key (\(knownText))")
    }

    public func bool(_ key: String, default value: Bool) throws -> Bool {
        guard let v = entries[key] else { return value }
        guard case .bool(let b) = v else { throw error(key, "found \(v.typedDescription), expected a boolean (true or false)") }
        return b
    }

    /// An integer at least `minimum`.
    public func int(_ key: String, default value: Int, minimum: Int = 0) throws -> Int {
        guard let v = entries[key] else { return value }
        let expected = minimum == 1 ? "a positive integer" : minimum == 0 ? "a non-negative integer" : "an integer >= \(minimum)"
        guard case .int(let n) = v else { throw error(key, "found \(v.typedDescription), expected \(expected)") }
        guard n >= minimum else { throw error(key, "found \(n), expected \(expected)") }
        return n
    }

    /// A positive integer or a keyword such as "infinity"; nil means the keyword.
    public func intOrKeyword(_ key: String, keyword: String, default value: Int?) throws -> Int? {
        guard let v = entries[key] else { return value }
        let expected = "a positive integer or \(quoted(keyword))"
        switch v {
        case .int(let n) where n > 0: return n
        case .string(let s) where s == keyword: return nil
        default: throw error(key, "found \(v.typedDescription), expected \(expected)")
        }
    }

    /// The options of a sub-table (e.g. mod_stream_management's `stale_h`); empty if absent.
    public func table(_ key: String) throws -> ModuleOptions {
        guard let v = entries[key] else { return ModuleOptions(module: module, path: keyPath(key), entries: [:]) }
        guard case .table(let t) = v else { throw error(key, "found \(v.typedDescription), expected a table") }
        return ModuleOptions(module: module, path: keyPath(key), entries: t)
    }

    public func string(_ key: String, default value: String) throws -> String {
        guard let v = entries[key] else { return value }
        guard case .string(let s) = v else { throw error(key, "found \(v.typedDescription), expected a string") }
        return s
    }

    public func oneOf(_ key: String, _ allowed: [String], default value: String) throws -> String {
        let s = try string(key, default: value)
        guard allowed.contains(s) else {
            throw error(key, "found \(quoted(s)), expected one of \(allowed.map(quoted).joined(separator: ", "))")
        }
        return s
    }
}
