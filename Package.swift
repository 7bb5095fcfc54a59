// swift-tools-version:6.0
import PackageDescription

// Layers, arrows pointing down only:
//   C shims → XMPPCore (XML, JID) → XMPPConfig → XMPPSASL/XMPPStore → XMPPServer (worker) → XMPPSupervisor → executables
let package = Package(
    name: "xmppd",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "xmppd", targets: ["xmppd"]),
        .executable(name: "xmppctl", targets: ["xmppctl"]),
        .executable(name: "xmppd-bench", targets: ["xmppd-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", exact: "0.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .systemLibrary(name: "CExpat", pkgConfig: "expat", providers: [.apt(["libexpat1-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),

        // fd passing (SCM_RIGHTS) needs CMSG_* macros: a few lines of C.
        .target(name: "CPosix"),

        .target(name: "XMPPCore", dependencies: ["CExpat"]),
        .target(name: "XMPPConfig", dependencies: [.product(name: "TOMLKit", package: "TOMLKit")]),
        .target(name: "XMPPSASL", dependencies: ["COpenSSL"]),
        .target(name: "XMPPStore", dependencies: ["CSQLite", "XMPPSASL"]),
        // Transport layers under the XML streams, as NIO handlers: TLS on the system
        // OpenSSL, and zlib (XEP-0138), PROXY protocol, traffic shaping.
        .target(name: "XMPPTLS", dependencies: [
            "COpenSSL", "XMPPConfig",
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        .target(name: "XMPPTransport", dependencies: [
            "CZlib",
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        // What a server module (plugins/) may use of the core: hooks, iq handlers, routing.
        .target(name: "XMPPModuleAPI", dependencies: [
            "XMPPCore", "XMPPConfig", "XMPPStore",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "XMPPServer", dependencies: [
            "XMPPCore", "XMPPConfig", "XMPPSASL", "XMPPStore", "XMPPTLS", "XMPPTransport", "XMPPModuleAPI", "CPosix",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            // [[listen.http]]: WebSocket (RFC 7395); both ship with swift-nio itself.
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOWebSocket", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "XMPPSupervisor", dependencies: [
            "XMPPConfig", "XMPPStore", "XMPPServer", "CPosix",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Server modules, one target each; ModuleCatalog lists them for the worker.
        .target(name: "mod_ping", dependencies: ["XMPPModuleAPI", "XMPPConfig", "XMPPCore"], path: "plugins/mod_ping"),
        .target(name: "mod_disco", dependencies: ["XMPPModuleAPI", "XMPPConfig", "XMPPCore"], path: "plugins/mod_disco"),
        .target(name: "mod_offline", dependencies: ["XMPPModuleAPI", "XMPPConfig", "XMPPCore", "XMPPStore"], path: "plugins/mod_offline"),
        .target(name: "mod_roster", dependencies: ["XMPPModuleAPI", "XMPPConfig", "XMPPCore", "XMPPStore"], path: "plugins/mod_roster"),
        .target(name: "mod_carboncopy", dependencies: ["XMPPModuleAPI", "XMPPConfig", "XMPPCore"], path: "plugins/mod_carboncopy"),
        .target(name: "mod_mam", dependencies: ["XMPPModuleAPI", "XMPPConfig", "XMPPCore", "XMPPStore"], path: "plugins/mod_mam"),
        .target(name: "mod_stream_management", dependencies: ["XMPPModuleAPI", "XMPPConfig", "XMPPCore"], path: "plugins/mod_stream_management"),
        .target(name: "mod_bosh", dependencies: ["XMPPModuleAPI", "XMPPConfig"], path: "plugins/mod_bosh"),
        .target(name: "mod_blocking", dependencies: [
            "XMPPModuleAPI", "XMPPConfig", "XMPPCore", "XMPPStore",
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ], path: "plugins/mod_blocking"),
        .target(name: "mod_private", dependencies: ["XMPPModuleAPI", "XMPPConfig", "XMPPCore", "XMPPStore"], path: "plugins/mod_private"),
        .target(name: "mod_muc_light", dependencies: ["XMPPModuleAPI", "XMPPConfig", "XMPPCore", "XMPPStore", "XMPPSASL"],
                path: "plugins/mod_muc_light"),
        .target(name: "XMPPModules", dependencies: [
            "XMPPModuleAPI", "mod_ping", "mod_disco", "mod_offline", "mod_roster", "mod_carboncopy", "mod_mam",
            "mod_stream_management", "mod_blocking", "mod_private", "mod_bosh", "mod_muc_light",
        ]),

        .executableTarget(name: "xmppd", dependencies: [
            "XMPPSupervisor", "XMPPServer", "XMPPConfig", "XMPPModules",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "xmppctl", dependencies: [
            "XMPPSupervisor", "XMPPServer", "XMPPConfig", "XMPPModules", "XMPPStore", "XMPPSASL",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Load generator for scripts/bench: a cheap NIO client, so it measures the server.
        .executableTarget(name: "xmppd-bench", dependencies: [
            "XMPPCore", "XMPPSASL", "XMPPStore", "XMPPConfig", "XMPPTLS",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "XMPPCoreTests", dependencies: ["XMPPCore"]),
        .testTarget(name: "ModMUCLightTests", dependencies: ["mod_muc_light", "XMPPCore"]),
        .testTarget(name: "XMPPServerTests", dependencies: [
            "XMPPServer", "XMPPCore", "XMPPModuleAPI",
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        .testTarget(name: "XMPPConfigTests", dependencies: ["XMPPConfig"]),
        .testTarget(name: "XMPPSASLTests", dependencies: ["XMPPSASL"]),
        .testTarget(name: "XMPPStoreTests", dependencies: ["XMPPStore"]),
        .testTarget(name: "XMPPTLSTests", dependencies: [
            "XMPPTLS",
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
        ]),
        .testTarget(name: "XMPPTransportTests", dependencies: [
            "XMPPTransport",
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
    ],
    swiftLanguageModes: [.v5]
)
