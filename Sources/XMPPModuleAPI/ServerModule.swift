import XMPPConfig
import XMPPStore

/// A server module (mod_ping, mod_roster, ...): lives in plugins/, is enabled and
/// configured by `[modules.NAME]`, and talks to the core only through `ModuleHost`
/// (hooks, iq handlers, routing) — never by reaching into the core's internals.
///
/// Each worker process creates its own instance. A reload that enables, disables or
/// reconfigures a module hands every listener to a new worker, which starts with the
/// new set of modules.
public protocol ServerModule: AnyObject {
    /// The section name, e.g. "mod_ping".
    static var name: String { get }
    /// Checks the options (at start, `check-config` and reload) and throws a
    /// `ConfigError` made with `options.error(...)` for the first problem.
    static func validate(_ options: ModuleOptions) throws
    /// Creates the module in a worker: register hooks and iq handlers here.
    init(options: ModuleOptions, host: ModuleHost) throws
    /// The module's tables with rows per user in the shared SQLite file: removing an
    /// account deletes its rows there in the same transaction (MongooseIM's
    /// remove_user hook), from the admin API or xmppctl, server running or not, and
    /// whether or not the module is enabled now. Default: none.
    static var perUserTables: [PerUserTable] { get }
}

extension ServerModule {
    public static var perUserTables: [PerUserTable] { [] }
}
