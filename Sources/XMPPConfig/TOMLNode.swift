import TOMLKit

/// A plain Swift copy of a parsed TOML document.
///
/// TOMLKit hands out reference types backed by C++ nodes and has no source positions;
/// copying once into a value tree keeps the validators simple and independent of TOMLKit.
indirect enum TOMLNode {
    case table([String: TOMLNode])
    case array([TOMLNode])
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    /// Dates and times: never valid in our schema, kept only to describe them in errors.
    case other(type: String, text: String)

    init(_ value: TOMLValueConvertible) {
        switch value.type {
        case .table: self = .table(TOMLNode.entries(of: value.table!))
        case .array: self = .array(value.array!.map { TOMLNode($0) })
        case .string: self = .string(value.string!)
        case .int: self = .int(value.int!)
        case .double: self = .double(value.double!)
        case .bool: self = .bool(value.bool!)
        case .date, .time, .dateTime:
            self = .other(type: value.type.description, text: value.tomlValue.debugDescription)
        }
    }

    static func entries(of table: TOMLTable) -> [String: TOMLNode] {
        var result: [String: TOMLNode] = [:]
        for (key, value) in table { result[key] = TOMLNode(value) }
        return result
    }

    /// The value as written in TOML, e.g. `"abc"`, `70000`, `true`.
    var literal: String {
        switch self {
        case .table: return "{...}"
        case .array(let items): return "[" + items.map(\.literal).joined(separator: ", ") + "]"
        case .string(let s): return quoted(s)
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .bool(let b): return String(b)
        case .other(_, let text): return text
        }
    }

    var typeName: String {
        switch self {
        case .table: return "table"
        case .array: return "array"
        case .string: return "string"
        case .int: return "integer"
        case .double: return "floating-point number"
        case .bool: return "boolean"
        case .other(let type, _): return type
        }
    }

    /// Used when the value has the wrong type: `string "abc"`, `integer 5`, `a table`.
    var typedDescription: String {
        switch self {
        case .table: return "a table"
        default: return typeName + " " + literal
        }
    }
}

/// TOML basic-string quoting, so messages show exactly what a user would type.
func quoted(_ s: String) -> String {
    var out = "\""
    for ch in s.unicodeScalars {
        switch ch {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        default:
            if ch.value < 0x20 { out += "\\u00" + (ch.value < 0x10 ? "0" : "") + String(ch.value, radix: 16, uppercase: true) } else { out.unicodeScalars.append(ch) }
        }
    }
    return out + "\""
}
