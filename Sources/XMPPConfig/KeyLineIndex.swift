/// Maps resolved key paths (`listen.c2s[2].tls.mode`) to the source line that defines them.
///
/// TOMLKit keeps no source positions, so this is a small, forgiving line scanner over the
/// text. It understands `[table]` and `[[array]]` headers (numbering array elements 1-based,
/// nested arrays per parent element), dotted and quoted keys, and skips over multi-line
/// arrays, inline tables and multi-line strings so their contents are not mistaken for keys.
/// It only has to be good enough for error messages: the TOML parser proper has already
/// accepted the text, and `line(for:)` falls back to the closest enclosing path.
///
/// It also notes `parserHazard`: malformed input that makes toml++ (inside TOMLKit) hit an
/// internal assertion and abort the process in debug builds instead of reporting a syntax
/// error — a header like `[,` or `[` + newline, and `}` directly inside an array. Both are
/// never valid TOML, so ServerConfig reports them as syntax errors before calling TOMLKit.
struct KeyLineIndex {
    private(set) var lines: [String: Int] = [:]
    private(set) var parserHazard: (line: Int, message: String)?

    init(source: String) {
        var scanner = Scanner()
        var lineNumber = 0
        for rawLine in source.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            scanner.scan(line: Array(rawLine.unicodeScalars), number: lineNumber)
        }
        lines = scanner.lines
        parserHazard = scanner.hazard
    }

    /// Line of `keyPath`, else of its nearest recorded ancestor (`a.b[2].c` → `a.b[2]` → `a.b` → `a`).
    func line(for keyPath: String) -> Int? {
        var path = keyPath
        while !path.isEmpty {
            if let line = lines[path] { return line }
            path = KeyLineIndex.parent(of: path)
        }
        return nil
    }

    static func parent(of path: String) -> String {
        if path.hasSuffix("]"), let open = path.lastIndex(of: "[") {
            return String(path[..<open])
        }
        if let dot = path.lastIndex(of: ".") { return String(path[..<dot]) }
        return ""
    }

    /// The stateful part: current table, array-of-table counters, and multi-line value state.
    private struct Scanner {
        var lines: [String: Int] = [:]
        var currentTable = ""
        var arrayCounts: [String: Int] = [:]   // resolved array path → elements seen so far
        var stack: [Unicode.Scalar] = []       // open [ / { of a value spanning lines
        var multilineString: [Unicode.Scalar]? // closing delimiter of an open """ or ''' string
        var hazard: (line: Int, message: String)?

        mutating func noteHazard(_ line: Int, _ message: String) {
            if hazard == nil { hazard = (line, message) }
        }

        mutating func record(_ path: String, _ line: Int) {
            if lines[path] == nil { lines[path] = line }
        }

        func join(_ base: String, _ key: String) -> String { base.isEmpty ? key : base + "." + key }

        mutating func scan(line: [Unicode.Scalar], number: Int) {
            var i = 0
            if multilineString != nil || !stack.isEmpty {
                // Continuation of a value started on an earlier line.
                skipValue(line, &i, number)
                return
            }
            skipSpace(line, &i)
            guard i < line.count, line[i] != "#" else { return }
            if line[i] == "[" {
                let isArray = i + 1 < line.count && line[i + 1] == "["
                i += isArray ? 2 : 1
                var j = i
                skipSpace(line, &j)
                if j >= line.count || !(line[j] == "]" || line[j] == "\"" || line[j] == "'" || isBareKeyChar(line[j])) {
                    noteHazard(number, "invalid table header: expected a key name after '\(isArray ? "[[" : "[")'")
                    return
                }
                let keys = parseKey(line, &i)
                header(keys, isArray: isArray, line: number)
                return
            }
            let keys = parseKey(line, &i)
            guard !keys.isEmpty else { return }
            var path = currentTable
            for key in keys {
                path = join(path, key)
                record(path, number)
            }
            skipSpace(line, &i)
            if i < line.count, line[i] == "=" {
                i += 1
                skipValue(line, &i, number)
            }
        }

        mutating func header(_ keys: [String], isArray: Bool, line: Int) {
            guard !keys.isEmpty else { return }
            var resolved = ""
            for (n, key) in keys.enumerated() {
                resolved = join(resolved, key)
                if n == keys.count - 1 && isArray {
                    record(resolved, line) // the array itself, e.g. for "section not supported"
                    let count = (arrayCounts[resolved] ?? 0) + 1
                    arrayCounts[resolved] = count
                    resolved += "[\(count)]"
                } else if let count = arrayCounts[resolved] {
                    resolved += "[\(count)]"
                }
                record(resolved, line)
            }
            currentTable = resolved
        }

        func skipSpace(_ s: [Unicode.Scalar], _ i: inout Int) {
            while i < s.count, s[i] == " " || s[i] == "\t" || s[i] == "\r" { i += 1 }
        }

        /// Reads `a."b.c".d` and stops at `=`, `]` or anything unexpected.
        func parseKey(_ s: [Unicode.Scalar], _ i: inout Int) -> [String] {
            var keys: [String] = []
            while true {
                skipSpace(s, &i)
                guard i < s.count else { return keys }
                var key = ""
                if s[i] == "\"" || s[i] == "'" {
                    let q = s[i]
                    i += 1
                    while i < s.count, s[i] != q {
                        if q == "\"", s[i] == "\\", i + 1 < s.count { i += 1 }
                        key.unicodeScalars.append(s[i])
                        i += 1
                    }
                    i += 1
                } else {
                    while i < s.count, isBareKeyChar(s[i]) {
                        key.unicodeScalars.append(s[i])
                        i += 1
                    }
                    if key.isEmpty { return keys }
                }
                keys.append(key)
                skipSpace(s, &i)
                if i < s.count, s[i] == "." { i += 1 } else { return keys }
            }
        }

        func isBareKeyChar(_ c: Unicode.Scalar) -> Bool {
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "_" || c == "-"
        }

        /// Walks a value, tracking open brackets and strings, so multi-line values are skipped.
        /// Stops once the value is complete: whatever follows on the line is the parser's business.
        mutating func skipValue(_ s: [Unicode.Scalar], _ i: inout Int, _ line: Int) {
            while i < s.count {
                if let close = multilineString {
                    if matches(s, i, close) {
                        i += 3
                        multilineString = nil
                        if stack.isEmpty { return }
                        continue
                    }
                    if close[0] == "\"", s[i] == "\\" { i += 2; continue }
                    i += 1
                    continue
                }
                let c = s[i]
                switch c {
                case " ", "\t", "\r", ",":
                    break
                case "#":
                    return
                case "[", "{":
                    stack.append(c)
                case "]", "}":
                    if c == "}", stack.last == "[" {
                        noteHazard(line, "unexpected '}' inside an array (expected a value, ',' or ']')")
                    }
                    if !stack.isEmpty { stack.removeLast() }
                    if stack.isEmpty { return }
                case "\"", "'":
                    if matches(s, i, [c, c, c]) {
                        multilineString = [c, c, c]
                        i += 3
                        continue
                    }
                    i += 1
                    while i < s.count, s[i] != c {
                        if c == "\"", s[i] == "\\" { i += 1 }
                        i += 1
                    }
                    if stack.isEmpty { return }
                default:
                    if stack.isEmpty { return } // a scalar value: nothing spans lines
                }
                i += 1
            }
        }

        func matches(_ s: [Unicode.Scalar], _ i: Int, _ pattern: [Unicode.Scalar]) -> Bool {
            guard i + pattern.count <= s.count else { return false }
            return Array(s[i..<(i + pattern.count)]) == pattern
        }
    }
}
