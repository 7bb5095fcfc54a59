import Foundation
import TOMLKit

/// The whole validated server configuration.
///
/// Codable so the supervisor can hand it to workers as JSON; Equatable so reloads can diff it.
public struct ServerConfig: Codable, Equatable, Hashable, Sendable {
    /// Absolute path of the file it was loaded from.
    public var configPath: String
    public var general: GeneralConfig
    public var auth: AuthConfig
    public var xmppd: DaemonConfig
    /// In file order within each type; types in the order c2s, s2s, service, http.
    public var listeners: [ListenerConfig]
    /// `[modules.*]` in file order; validated by the modules (ModuleCatalog.validate).
    public var modules: [ModuleConfig]
    /// `[acl]`, `[access]`, `[shaper]`.
    public var accessControl: AccessControlConfig
    public var s2s: S2SConfig

    public init(configPath: String, general: GeneralConfig, auth: AuthConfig, xmppd: DaemonConfig, listeners: [ListenerConfig],
                modules: [ModuleConfig] = [], accessControl: AccessControlConfig = AccessControlConfig(),
                s2s: S2SConfig = S2SConfig()) {
        self.modules = modules
        self.s2s = s2s
        self.accessControl = accessControl
        self.configPath = configPath
        self.general = general
        self.auth = auth
        self.xmppd = xmppd
        self.listeners = listeners
    }

    public var hosts: [String] { general.hosts }
    public var stateDirectory: String { xmppd.stateDirectory }
    public var databasePath: String { stateDirectory + "/xmppd.db" }
    public var controlSocketPath: String { stateDirectory + "/xmppd.ctl" }

    /// Reads and validates a config file. `path` may be relative to the working directory;
    /// errors name it as given, `configPath` is absolute.
    public static func load(path: String) throws -> ServerConfig {
        let absolute = Paths.absolute(path, relativeTo: FileManager.default.currentDirectoryPath)
        let text: String
        do {
            text = try String(contentsOfFile: absolute, encoding: .utf8)
        } catch {
            var isDirectory: ObjCBool = false
            let reason: String
            if !FileManager.default.fileExists(atPath: absolute, isDirectory: &isDirectory) {
                reason = "no such file"
            } else if isDirectory.boolValue {
                reason = "it is a directory"
            } else if !FileManager.default.isReadableFile(atPath: absolute) {
                reason = "permission denied"
            } else {
                reason = "not valid UTF-8 text (\(error.localizedDescription))"
            }
            throw ConfigError(file: path, line: nil, keyPath: "", message: "cannot read config file: \(reason)")
        }
        var config = try parse(text: text, file: path, baseDirectory: Paths.directory(of: absolute))
        config.configPath = absolute
        return config
    }

    /// Validates config text. `file` is used in error messages; relative paths in the config
    /// (state_dir) are resolved against `baseDirectory`.
    public static func parse(text: String, file: String, baseDirectory: String) throws -> ServerConfig {
        let context = ParseContext(file: file, lines: KeyLineIndex(source: text))
        if let hazard = context.lines.parserHazard {
            // Would abort inside toml++ (debug builds) rather than throw; see KeyLineIndex.
            throw ConfigError(file: file, line: hazard.line, keyPath: "", message: "TOML syntax error: \(hazard.message)")
        }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigError(file: file, line: error.source.begin.line, keyPath: "", message: "TOML syntax error: \(error.description)")
        } catch {
            throw ConfigError(file: file, line: nil, keyPath: "", message: "TOML syntax error: \(error)")
        }
        let root = TableReader(ctx: context, path: "", entries: TOMLNode.entries(of: table))
        let configPath = file.hasPrefix("/")
            ? Paths.normalize(file)
            : Paths.absolute(Paths.lastComponent(of: file), relativeTo: baseDirectory)
        return try ConfigParser(root: root, baseDirectory: baseDirectory).parse(configPath: configPath)
    }
}
