/// XML escaping, on bytes so the network path never builds intermediate Strings.
public enum XMLEscaping {
    /// Escapes character data: `&`, `<` and `>` (the latter so `]]>` can never appear), and CR.
    public static func escapeText(_ s: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        appendText(s, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Escapes an attribute value: `&`, `<`, `>`, `"` and `'`, so either quote style is safe
    /// (plus TAB, LF and CR as character references, which attribute normalisation would eat).
    public static func escapeAttribute(_ s: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        appendAttribute(s, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    @inlinable
    public static func appendText(_ s: String, to out: inout [UInt8]) {
        append(s, to: &out, quotes: false)
    }

    @inlinable
    public static func appendAttribute(_ s: String, to out: inout [UInt8]) {
        append(s, to: &out, quotes: true)
    }

    /// Appends a string's UTF-8 unescaped (names, fixed markup).
    @inlinable
    public static func appendRaw(_ s: String, to out: inout [UInt8]) {
        var s = s
        s.withUTF8 { out.append(contentsOf: $0) }
    }

    @usableFromInline
    static func append(_ s: String, to out: inout [UInt8], quotes: Bool) {
        var s = s
        s.withUTF8 { bytes in
            // Copy runs of harmless bytes in one go; only the five specials need work.
            var runStart = 0
            var i = 0
            let n = bytes.count
            while i < n {
                let b = bytes[i]
                let replacement: StaticString?
                switch b {
                case UInt8(ascii: "&"): replacement = "&amp;"
                case UInt8(ascii: "<"): replacement = "&lt;"
                case UInt8(ascii: ">"): replacement = "&gt;"
                case UInt8(ascii: "\"") where quotes: replacement = "&quot;"
                case UInt8(ascii: "'") where quotes: replacement = "&apos;"
                // Parsers normalise literal CR (everywhere) and TAB/LF (in attribute
                // values) away; character references keep the value intact on re-parse.
                case 0x0D: replacement = "&#13;"
                case 0x0A where quotes: replacement = "&#10;"
                case 0x09 where quotes: replacement = "&#9;"
                default: replacement = nil
                }
                if let r = replacement {
                    if runStart < i { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<i])) }
                    r.withUTF8Buffer { out.append(contentsOf: $0) }
                    runStart = i + 1
                }
                i += 1
            }
            if runStart < n { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<n])) }
        }
    }
}
