import XCTest
@testable import XMPPConfig

final class DefaultsTests: XCTestCase {
    func testMinimalC2SListenerGetsEveryDefault() throws {
        let config = try parse(generalHeader + """
        [[listen.c2s]]
          port = 5222
        """)
        XCTAssertEqual(config.listeners.count, 1)
        let l = config.listeners[0]
        XCTAssertEqual(l.type, .c2s)
        XCTAssertEqual(l.index, 1)
        XCTAssertEqual(l.keyPath, "listen.c2s[1]")
        XCTAssertEqual(l.port, 5222)
        XCTAssertEqual(l.ipAddress, "0.0.0.0")
        XCTAssertEqual(l.ipVersion, 4)
        XCTAssertEqual(l.proto, .tcp)
        XCTAssertEqual(l.bindKey, "tcp://0.0.0.0:5222")
        XCTAssertEqual(l.backlog, 100)
        XCTAssertEqual(l.xmpp, XMPPListenerOptions())
        let x = try XCTUnwrap(l.xmpp)
        XCTAssertEqual(x.backlog, 100)
        XCTAssertFalse(x.proxyProtocol)
        XCTAssertEqual(x.hibernateAfterMs, 0)
        XCTAssertNil(x.maxStanzaSize)
        XCTAssertEqual(x.numAcceptors, 100)
        XCTAssertNil(x.maxFSMQueue)
        let c2s = try XCTUnwrap(l.c2s)
        XCTAssertEqual(c2s.access, "all")
        XCTAssertEqual(c2s.shaper, "none")
        XCTAssertNil(c2s.zlib)
        XCTAssertNil(c2s.tls.mode)
        XCTAssertFalse(c2s.tls.verifyPeer)
        XCTAssertEqual(c2s.tls.module, .fastTLS)
        XCTAssertNil(c2s.tls.certfile)
        XCTAssertNil(c2s.tls.cacertfile)
        XCTAssertNil(c2s.tls.dhfile)
        XCTAssertEqual(c2s.tls.protocolOptions, ["no_sslv2", "no_sslv3", "no_tlsv1", "no_tlsv1_1"])
        XCTAssertEqual(c2s.tls.ciphers, "TLSv1.2:TLSv1.3")
        XCTAssertNil(c2s.tls.cipherSuites)
        XCTAssertNil(c2s.tls.verifyMode)
        XCTAssertNil(c2s.tls.versions)
        XCTAssertNil(l.s2s)
        XCTAssertNil(l.service)
        XCTAssertNil(l.http)
    }

    func testTopLevelDefaults() throws {
        let config = try parse(generalHeader)
        XCTAssertEqual(config.hosts, ["localhost"])
        XCTAssertEqual(config.general.loglevel, "warning")
        XCTAssertNil(config.general.maxFSMQueue)
        XCTAssertEqual(config.general.c2sStateTimeoutMs, 5000)
        XCTAssertEqual(config.auth.methods, ["internal"])
        XCTAssertEqual(config.auth.saslMechanisms, [.scramSHA256, .scramSHA1, .plain])
        XCTAssertNil(config.auth.passwordHashes)
        XCTAssertEqual(config.auth.passwordFormat, "scram")
        XCTAssertEqual(config.auth.scramIterations, 10_000)
        XCTAssertEqual(config.xmppd.stateDirectory, "/srv/xmppd/var")
        XCTAssertEqual(config.xmppd.drainTimeoutMs, 30_000)
        XCTAssertEqual(config.xmppd.workerRestartBackoffMs, 500)
        XCTAssertNil(config.xmppd.workerThreads)
        XCTAssertTrue(config.xmppd.compactTLSSessions)
        XCTAssertEqual(config.databasePath, "/srv/xmppd/var/xmppd.db")
        XCTAssertEqual(config.controlSocketPath, "/srv/xmppd/var/xmppd.ctl")
        XCTAssertEqual(config.configPath, "/srv/xmppd/etc/xmppd.toml")
        XCTAssertEqual(config.listeners, [])
    }

    func testTopLevelSectionsParse() throws {
        let config = try parse("""
        [general]
          hosts = ["Example.COM", "localhost"]
          loglevel = "debug"
          max_fsm_queue = 1_000
          c2s_state_timeout = 10_000

        [auth]
          methods = ["internal"]
          sasl_mechanisms = ["plain", "scram_sha1", "scram_sha512_plus", "scram_sha224"]
          [auth.password]
            format = "scram"
            scram_iterations = 4096
            hash = ["sha512", "sha"]

        [xmppd]
          state_dir = "state/../data"
          drain_timeout = 0
          worker_restart_backoff = 250
          worker_threads = 1
          compact_tls_sessions = false
          poll_interval_under_load = 0
        """)
        XCTAssertEqual(config.hosts, ["example.com", "localhost"])
        XCTAssertEqual(config.general.loglevel, "debug")
        XCTAssertEqual(config.general.maxFSMQueue, 1000)
        XCTAssertEqual(config.general.c2sStateTimeoutMs, 10_000)
        XCTAssertEqual(config.auth.saslMechanisms, [.plain, .scramSHA1, .scramSHA512Plus, .scramSHA224])
        XCTAssertEqual(config.auth.scramIterations, 4096)
        XCTAssertEqual(config.auth.passwordHashes, ["sha512", "sha"])
        XCTAssertEqual(config.xmppd.stateDirectory, "/srv/xmppd/etc/data")
        XCTAssertEqual(config.xmppd.drainTimeoutMs, 0)
        XCTAssertEqual(config.xmppd.workerRestartBackoffMs, 250)
        XCTAssertEqual(config.xmppd.workerThreads, 1)
        XCTAssertFalse(config.xmppd.compactTLSSessions)
        XCTAssertEqual(config.xmppd.pollIntervalUnderLoadMicros, 0)
        XCTAssertEqual(DaemonConfig(stateDirectory: "/tmp").pollIntervalUnderLoadMicros, 500, "default")
        XCTAssertThrowsError(try parse(generalHeader + "[xmppd]\n  worker_threads = 0\n"))
        assertError(generalHeader + "[xmppd]\n  poll_interval_under_load = 20_000\n", line: 4,
                    keyPath: "xmppd.poll_interval_under_load", contains: ["found 20000", "microseconds from 0 to 10000"])
        assertError(generalHeader + "[xmppd]\n  poll_interval_under_load = \"500us\"\n", line: 4,
                    keyPath: "xmppd.poll_interval_under_load", contains: ["microseconds from 0 to 10000"])
        XCTAssertEqual(config.xmppd.eventLoopsPerWorker(cores: 8, listeners: 3), 1, "worker_threads wins")
    }

    func testEventLoopsAreSharedOutAmongTheWorkersByDefault() {
        let daemon = DaemonConfig(stateDirectory: "/tmp")
        XCTAssertEqual(daemon.eventLoopsPerWorker(cores: 2, listeners: 1), 2)
        XCTAssertEqual(daemon.eventLoopsPerWorker(cores: 2, listeners: 2), 1)
        XCTAssertEqual(daemon.eventLoopsPerWorker(cores: 2, listeners: 3), 1, "at least one loop each")
        XCTAssertEqual(daemon.eventLoopsPerWorker(cores: 16, listeners: 3), 6, "rounded up")
        XCTAssertEqual(daemon.eventLoopsPerWorker(cores: 8, listeners: 5), 2)
        XCTAssertEqual(daemon.eventLoopsPerWorker(cores: 4, listeners: 0), 4)
    }

    func testAbsoluteStateDirIsKept() throws {
        let config = try parse(generalHeader + "[xmppd]\n  state_dir = \"/var/lib/xmppd/\"\n")
        XCTAssertEqual(config.xmppd.stateDirectory, "/var/lib/xmppd")
        XCTAssertEqual(config.databasePath, "/var/lib/xmppd/xmppd.db")
    }

    func testIPv6AddressGivesVersion6() throws {
        let config = try parse(generalHeader + """
        [[listen.c2s]]
          port = 5222
          ip_address = "::0"

        [[listen.s2s]]
          port = 5269
          ip_version = 6

        [[listen.service]]
          port = 8888
          ip_address = "127.0.0.1"
          ip_version = 4
          password = "x"

        [[listen.http]]
          port = 5280
          ip_address = "0:0:0:0:0:0:0:1"
        """)
        XCTAssertEqual(config.listeners[0].ipVersion, 6)
        XCTAssertEqual(config.listeners[0].ipAddress, "::")
        XCTAssertEqual(config.listeners[0].bindKey, "tcp://[::]:5222")
        XCTAssertEqual(config.listeners[1].ipVersion, 6)
        XCTAssertEqual(config.listeners[1].ipAddress, "::")
        XCTAssertEqual(config.listeners[2].ipVersion, 4)
        XCTAssertEqual(config.listeners[2].ipAddress, "127.0.0.1")
        XCTAssertEqual(config.listeners[3].ipVersion, 6)
        XCTAssertEqual(config.listeners[3].ipAddress, "::1")
    }

    func testLoadResolvesStateDirAgainstConfigDirectory() throws {
        let root = NSTemporaryDirectory() + "xmppconfig-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root + "/etc", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let path = root + "/etc/xmppd.toml"
        try (generalHeader + "[xmppd]\n  state_dir = \"../state\"\n").write(toFile: path, atomically: true, encoding: .utf8)
        let config = try ServerConfig.load(path: path)
        let realRoot = Paths.normalize(root)
        XCTAssertEqual(config.configPath, realRoot + "/etc/xmppd.toml")
        XCTAssertEqual(config.xmppd.stateDirectory, realRoot + "/state")

        let defaults = try ServerConfig.parse(text: generalHeader, file: path, baseDirectory: realRoot + "/etc")
        XCTAssertEqual(defaults.xmppd.stateDirectory, realRoot + "/var")
    }

    func testUnreadableFile() {
        XCTAssertThrowsError(try ServerConfig.load(path: "/nonexistent/xmppd.toml")) { error in
            guard let error = error as? ConfigError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.file, "/nonexistent/xmppd.toml")
            XCTAssertNil(error.line)
            XCTAssertEqual(error.description, "/nonexistent/xmppd.toml: cannot read config file: no such file")
        }
    }

    func testJSONRoundTrip() throws {
        let config = try parse(generalHeader + SpecExamples.all + specAccessSections)
        let data = try JSONEncoder().encode(config)
        let decoded = try JSONDecoder().decode(ServerConfig.self, from: data)
        XCTAssertEqual(decoded, config)
        XCTAssertEqual(decoded.listeners.count, 7)
    }
}
