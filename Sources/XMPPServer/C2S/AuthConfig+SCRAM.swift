import XMPPConfig
import XMPPSASL

extension AuthConfig {
    /// `auth.password.hash` as SCRAM hashes (validated by the config parser); all when
    /// unset. Accounts get credentials for these, whoever creates them (xmppctl, the
    /// admin API).
    public var scramHashes: [SCRAMHash] { passwordHashes?.compactMap(SCRAMHash.init(configName:)) ?? SCRAMHash.allCases }
}
