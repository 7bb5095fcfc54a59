/// A value as SQLite stores it (its five storage classes).
public enum SQLiteValue: Equatable, Sendable {
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
    case null
}

/// Types that can be bound to a statement parameter. Optional values bind as NULL when nil,
/// so `db.run(sql, name, maybeNumber)` works without wrapping.
public protocol SQLiteBindable {
    var sqliteValue: SQLiteValue { get }
}

extension SQLiteValue: SQLiteBindable { public var sqliteValue: SQLiteValue { self } }
extension Int: SQLiteBindable { public var sqliteValue: SQLiteValue { .integer(Int64(self)) } }
extension Int64: SQLiteBindable { public var sqliteValue: SQLiteValue { .integer(self) } }
extension Int32: SQLiteBindable { public var sqliteValue: SQLiteValue { .integer(Int64(self)) } }
extension Bool: SQLiteBindable { public var sqliteValue: SQLiteValue { .integer(self ? 1 : 0) } }
extension Double: SQLiteBindable { public var sqliteValue: SQLiteValue { .real(self) } }
extension String: SQLiteBindable { public var sqliteValue: SQLiteValue { .text(self) } }
extension Array: SQLiteBindable where Element == UInt8 { public var sqliteValue: SQLiteValue { .blob(self) } }
extension Optional: SQLiteBindable where Wrapped: SQLiteBindable {
    public var sqliteValue: SQLiteValue { self?.sqliteValue ?? .null }
}

/// One result row, materialised so it outlives the statement step that produced it.
public struct SQLiteRow: Sendable {
    public let columns: [String]
    public let values: [SQLiteValue]

    public subscript(_ index: Int) -> SQLiteValue { values[index] }

    public subscript(_ name: String) -> SQLiteValue {
        guard let i = columns.firstIndex(of: name) else { return .null }
        return values[i]
    }

    // Typed reads follow SQLite's own loose typing only where it is lossless:
    // an integer column read as Double is fine, text read as Int is not.
    public func int(_ i: Int) -> Int? {
        if case .integer(let v) = values[i] { return Int(v) }
        return nil
    }
    public func int64(_ i: Int) -> Int64? {
        if case .integer(let v) = values[i] { return v }
        return nil
    }
    public func double(_ i: Int) -> Double? {
        switch values[i] {
        case .real(let v): return v
        case .integer(let v): return Double(v)
        default: return nil
        }
    }
    public func string(_ i: Int) -> String? {
        if case .text(let v) = values[i] { return v }
        return nil
    }
    public func blob(_ i: Int) -> [UInt8]? {
        switch values[i] {
        case .blob(let v): return v
        case .text(let v): return Array(v.utf8)
        default: return nil
        }
    }
    public func isNull(_ i: Int) -> Bool { values[i] == .null }

    public func int(_ name: String) -> Int? { columns.firstIndex(of: name).flatMap { int($0) } }
    public func double(_ name: String) -> Double? { columns.firstIndex(of: name).flatMap { double($0) } }
    public func string(_ name: String) -> String? { columns.firstIndex(of: name).flatMap { string($0) } }
    public func blob(_ name: String) -> [UInt8]? { columns.firstIndex(of: name).flatMap { blob($0) } }
}
