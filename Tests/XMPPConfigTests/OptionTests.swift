import XCTest
@testable import XMPPConfig

/// Every documented option set to a non-default value comes through typed.
final class OptionTests: XCTestCase {
    func testXMPPListenerOptionsAndJustTLS() throws {
        let l = try parse(generalHeader + """
        [[listen.c2s]]
          port = 5222
          ip_address = "10.0.0.1"
          proto = "tcp"
          backlog = 1_000
          proxy_protocol = true
          hibernate_after = 10
          max_stanza_size = 10_000
          num_acceptors = 200
          max_fsm_queue = 1000
          zlib = 1024
          [listen.c2s.tls]
            mode = "tls"
            module = "just_tls"
            verify_peer = true
            certfile = "server.pem"
            cacertfile = "ca.pem"
            dhfile = "dh.pem"
            verify_mode = "selfsigned_peer"
            disconnect_on_failure = false
            versions = ["tlsv1.2", "tlsv1.3"]
            crl_files = ["certs.crl"]
            ciphers = [{cipher = "aes_256_gcm", key_exchange = "any", mac = "aead", prf = "sha384"}]
        """).listeners[0]
        let x = try XCTUnwrap(l.xmpp)
        XCTAssertEqual(x.backlog, 1000)
        XCTAssertEqual(l.backlog, 1000)
        XCTAssertTrue(x.proxyProtocol)
        XCTAssertEqual(x.hibernateAfterMs, 10)
        XCTAssertEqual(x.maxStanzaSize, 10_000)
        XCTAssertEqual(x.numAcceptors, 200)
        XCTAssertEqual(x.maxFSMQueue, 1000)
        let tls = try XCTUnwrap(l.c2s?.tls)
        XCTAssertEqual(tls.mode, .tls)
        XCTAssertEqual(tls.module, .justTLS)
        XCTAssertTrue(tls.verifyPeer)
        XCTAssertEqual(tls.cacertfile, "ca.pem")
        XCTAssertEqual(tls.verifyMode, .selfsignedPeer)
        XCTAssertEqual(tls.disconnectOnFailure, false)
        XCTAssertEqual(tls.versions, ["tlsv1.2", "tlsv1.3"])
        XCTAssertEqual(tls.crlFiles, ["certs.crl"])
        XCTAssertEqual(tls.cipherSuites, [TLSCipherSuite(cipher: "aes_256_gcm", keyExchange: "any", mac: "aead", prf: "sha384")])
        XCTAssertNil(tls.ciphers)
        XCTAssertNil(tls.protocolOptions)
    }

    func testJustTLSDefaults() throws {
        let tls = try XCTUnwrap(parse(generalHeader + """
        [[listen.c2s]]
          port = 5222
          tls.module = "just_tls"
        """).listeners[0].c2s?.tls)
        XCTAssertEqual(tls.disconnectOnFailure, true)
        XCTAssertNil(tls.cipherSuites)
        XCTAssertNil(tls.verifyMode)
    }

    func testFastTLSOptions() throws {
        let tls = try XCTUnwrap(parse(generalHeader + """
        [[listen.c2s]]
          port = 5222
          tls.mode = "starttls_required"
          tls.certfile = "server.pem"
          tls.protocol_options = ["no_tlsv1", "no_tlsv1_1"]
          tls.ciphers = "ECDHE-RSA-AES256-GCM-SHA384"
        """).listeners[0].c2s?.tls)
        XCTAssertEqual(tls.mode, .starttlsRequired)
        XCTAssertEqual(tls.protocolOptions, ["no_tlsv1", "no_tlsv1_1"])
        XCTAssertEqual(tls.ciphers, "ECDHE-RSA-AES256-GCM-SHA384")
    }

    func testS2SAndServiceOptions() throws {
        let config = try parse(generalHeader + """
        [[listen.s2s]]
          port = 5269
          tls.cacertfile = "ca.pem"
          tls.ciphers = "HIGH"

        [[listen.service]]
          port = 8888
          password = "pw"
          access = "component"
          check_from = false
          hidden_components = true
          conflict_behaviour = "kick_old"
        """ + specAccessSections)
        XCTAssertEqual(config.listeners[0].s2s?.tls.cacertfile, "ca.pem")
        XCTAssertEqual(config.listeners[0].s2s?.tls.ciphers, "HIGH")
        let service = try XCTUnwrap(config.listeners[1].service)
        XCTAssertEqual(service.access, "component")
        XCTAssertFalse(service.checkFrom)
        XCTAssertTrue(service.hiddenComponents)
        XCTAssertEqual(service.conflictBehaviour, .kickOld)
    }

    func testHTTPOptionsAndHandlers() throws {
        let http = try XCTUnwrap(parse(generalHeader + """
        [[listen.http]]
          port = 5280
          transport.max_connections = "infinity"
          [listen.http.tls]
            verify_peer = true
            verify_mode = "peer"
            certfile = "c.pem"
            cacertfile = "ca.pem"
            dhfile = "dh.pem"
            keyfile = "k.pem"
            versions = ["tlsv1.3"]
            ciphers = [{cipher = "aes_128_gcm"}]

          [[listen.http.handlers.mod_websockets]]
            host = "_"
            path = "/ws"
            timeout = 60_000
            ping_rate = 10_000
            max_stanza_size = 10_000
            [listen.http.handlers.mod_websockets.service]
              access = "all"
              shaper_rule = "fast"
              password = "secret"

          [[listen.http.handlers.mod_websockets]]
            host = "example.com"
            path = "/ws2"
            timeout = "infinity"
            ping_rate = "none"
            max_stanza_size = "infinity"

          [[listen.http.handlers.mongoose_api_admin]]
            host = "localhost"
            path = "/api"
            username = "admin"
            password = "secret"

          [[listen.http.handlers.mongoose_api]]
            host = "localhost"
            path = "/metrics"
            handlers = ["mongoose_api_metrics"]
        """).listeners[0].http)
        XCTAssertEqual(http.transport.maxConnections, .infinity)
        XCTAssertNil(http.transport.maxConnections.intValue)
        let tls = try XCTUnwrap(http.tls)
        XCTAssertTrue(tls.verifyPeer)
        XCTAssertEqual(tls.verifyMode, .peer)
        XCTAssertEqual(tls.keyfile, "k.pem")
        XCTAssertEqual(tls.dhfile, "dh.pem")
        XCTAssertEqual(tls.versions, ["tlsv1.3"])
        XCTAssertEqual(tls.ciphers, [TLSCipherSuite(cipher: "aes_128_gcm")])

        XCTAssertEqual(http.handlers.count, 4)
        guard case .websockets(let ws) = http.handlers[0].options else { return XCTFail() }
        XCTAssertEqual(ws.timeout, .value(60_000))
        XCTAssertEqual(ws.pingRate, 10_000)
        XCTAssertEqual(ws.maxStanzaSize, .value(10_000))
        var service = ServiceOptions(password: "secret")
        service.shaperRule = "fast"
        XCTAssertEqual(ws.service, WebSocketServiceOptions(service: service))
        XCTAssertEqual(http.handlers[1].index, 2)
        XCTAssertEqual(http.handlers[1].options, .websockets(WebSocketHandlerOptions()))
        XCTAssertEqual(http.handlers[2].options, .apiAdmin(username: "admin", password: "secret"))
        XCTAssertEqual(http.handlers[3].options, .metricsAPI(handlers: ["mongoose_api_metrics"]))
    }
}
