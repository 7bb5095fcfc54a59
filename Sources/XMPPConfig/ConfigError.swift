// Every configuration problem surfaces as one ConfigError, so the operator always gets
// "file:line: key.path: what was found, what was expected" — never a Codable dump.

public struct ConfigError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The config file as the operator named it (e.g. "etc/xmppd.toml").
    public var file: String
    /// 1-based line in `file`, when it could be located.
    public var line: Int?
    /// Dotted key path with 1-based array indices, e.g. `listen.c2s[1].tls.mode`; "" for syntax errors.
    public var keyPath: String
    public var message: String

    public init(file: String, line: Int?, keyPath: String, message: String) {
        self.file = file
        self.line = line
        self.keyPath = keyPath
        self.message = message
    }

    /// `etc/xmppd.toml:12: listen.c2s[1].tls.mode: found "startls", expected one of ...`
    /// The line and key path parts are left out when unknown/empty.
    public var description: String {
        var s = file
        if let line = line { s += ":\(line)" }
        s += ": "
        if !keyPath.isEmpty { s += keyPath + ": " }
        return s + message
    }
}
