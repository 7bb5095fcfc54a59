import Foundation
import Logging
import XMPPConfig
import XMPPSASL
import XMPPTLS

/// The certificate files of listeners: generated when missing (if allowed),
/// validated before anything starts or reloads, and fingerprinted so a reload
/// notices a renewed certificate even when the TOML text did not change.
public enum ListenerTLSMaterial {
    /// The TLS context of a c2s or http listener, or nil when it has no TLS.
    public static func context(for listener: ListenerConfig, in config: ServerConfig) throws -> TLSContext? {
        if let http = listener.http?.tls {
            return try TLSContext(TLSConfiguration.http(http), baseDirectory: config.xmppd.configDirectory)
        }
        guard let tls = listener.c2s?.tls, tls.mode != nil else { return nil }
        return try TLSContext.server(c2s: tls, baseDirectory: config.xmppd.configDirectory,
                                     compactSessions: config.xmppd.compactTLSSessions)
    }

    /// Generates missing certificates (when `[xmppd] generate_certificates`), then
    /// builds every listener's context once: a bad file is an error naming it.
    /// With `checkOnly` (xmppd check-config) nothing is written: a certificate that
    /// would be generated counts as fine.
    public static func prepare(_ config: ServerConfig, logger: Logger?, checkOnly: Bool = false) throws {
        for listener in config.listeners {
            let usesTLS = listener.http?.tls != nil || listener.c2s?.tls.mode != nil
            guard usesTLS else { continue }
            if let certfile = generatableCertificate(listener),
               try generateIfMissing(certfile, for: listener.keyPath, config, logger: logger, checkOnly: checkOnly) == .wouldGenerate {
                continue
            }
            do { _ = try context(for: listener, in: config) } catch {
                throw TLSMaterialError(description: "\(listener.keyPath).tls: \(error)")
            }
        }
        // s2s STARTTLS: one certificate for both directions.
        if config.s2s.useStartTLS != .disabled, let certfile = config.s2s.certfile {
            if try generateIfMissing(certfile, for: "s2s", config, logger: logger, checkOnly: checkOnly) == .wouldGenerate { return }
            do { _ = try S2STLS.make(config) } catch {
                throw TLSMaterialError(description: "s2s.certfile: \(error)")
            }
        }
    }

    private enum Generation { case notNeeded, generated, wouldGenerate }

    /// With `[xmppd] generate_certificates`, a self-signed certificate for the served
    /// hosts where `certfile` is missing (with `checkOnly`, only whether it would be).
    private static func generateIfMissing(_ certfile: String, for owner: String, _ config: ServerConfig, logger: Logger?,
                                          checkOnly: Bool) throws -> Generation {
        let path = resolve(certfile, config)
        guard config.xmppd.generateCertificates, !FileManager.default.fileExists(atPath: path) else { return .notNeeded }
        if checkOnly { return .wouldGenerate }
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try SelfSignedCertificate.generate(hosts: config.hosts, certificatePath: path)
        logger?.notice("\(owner): generated a self-signed certificate for \(config.hosts.joined(separator: ", ")) at \(path)")
        return .generated
    }

    /// The certificate file `generate_certificates` may create for a listener: one PEM
    /// with the key (a c2s listener's, or an http listener's without a `keyfile`).
    private static func generatableCertificate(_ listener: ListenerConfig) -> String? {
        if let http = listener.http?.tls { return http.keyfile == nil ? http.certfile : nil }
        return listener.c2s?.tls.certfile
    }

    /// A digest of the contents of every file the listener's TLS reads.
    public static func fingerprint(_ listener: ListenerConfig, in config: ServerConfig) -> String {
        let files: [String]
        if let http = listener.http?.tls {
            files = [http.certfile, http.keyfile, http.cacertfile, http.dhfile].compactMap { $0 }
        } else if let tls = listener.c2s?.tls, tls.mode != nil {
            files = [tls.certfile, tls.cacertfile, tls.dhfile].compactMap { $0 } + (tls.crlFiles ?? [])
        } else {
            return ""
        }
        var bytes: [UInt8] = []
        for file in files {
            bytes += Array(file.utf8)
            if let data = FileManager.default.contents(atPath: resolve(file, config)) { bytes += SASLCrypto.sha256(Array(data)) }
        }
        return Base64.encode(SASLCrypto.sha256(bytes))
    }

    static func resolve(_ path: String, _ config: ServerConfig) -> String {
        path.hasPrefix("/") ? path : config.xmppd.configDirectory + "/" + path
    }
}

public struct TLSMaterialError: Error, CustomStringConvertible {
    public var description: String
}
