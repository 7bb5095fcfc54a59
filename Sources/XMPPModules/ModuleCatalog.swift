import XMPPConfig
import XMPPModuleAPI
import mod_blocking
import mod_bosh
import mod_carboncopy
import mod_disco
import mod_mam
import mod_muc_light
import mod_offline
import mod_ping
import mod_private
import mod_roster
import mod_stream_management

/// Every module this build of xmppd has, by section name.
public enum ModuleCatalog {
    public static let all: [ServerModule.Type] = [
        ModPing.self, ModDisco.self, ModOffline.self, ModRoster.self, ModCarbonCopy.self, ModMAM.self,
        ModStreamManagement.self, ModBlocking.self, ModPrivate.self, ModBOSH.self, ModMUCLight.self,
    ]

    /// Checks `[modules.*]`: each must name a known module with valid options.
    /// Runs at start, on `check-config` and before a reload is applied.
    public static func validate(_ config: ServerConfig) throws {
        for module in config.modules {
            guard let type = all.first(where: { $0.name == module.name }) else {
                let known = all.map { $0.name }.sorted().joined(separator: ", ")
                throw module.reader.error(nil, "unknown module (known modules: \(known))")
            }
            try type.validate(module.reader)
        }
    }
}
