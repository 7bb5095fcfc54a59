import XCTest
@testable import XMPPConfig

/// Each class of error: message text, key path and line. `generalHeader` is lines 1-2.
final class ErrorTests: XCTestCase {
    func testDescriptionShape() {
        let e = ConfigError(file: "etc/xmppd.toml", line: 12, keyPath: "listen.c2s[1].tls.mode",
                            message: "found \"startls\", expected one of \"tls\", \"starttls\", \"starttls_required\"")
        XCTAssertEqual(e.description, "etc/xmppd.toml:12: listen.c2s[1].tls.mode: found \"startls\", expected one of \"tls\", \"starttls\", \"starttls_required\"")
        XCTAssertEqual(ConfigError(file: "x.toml", line: nil, keyPath: "", message: "m").description, "x.toml: m")
    }

    func testUnknownTopLevelKey() {
        assertError("foo = 1\n" + generalHeader, line: 1, keyPath: "foo",
                    contains: ["unknown key (known keys: general, auth, xmppd, listen, modules, acl, access, shaper, s2s)"])
    }

    func testUnsupportedSection() {
        guard let e = expectError(generalHeader + "[outgoing_pools]\n  x = 1\n") else { return }
        XCTAssertEqual(e.description, "etc/xmppd.toml:3: outgoing_pools: section [outgoing_pools] is not supported yet by xmppd")
        assertError(generalHeader + "[[host_config]]\n  host = \"x\"\n", line: 3, keyPath: "host_config",
                    contains: ["section [host_config] is not supported yet by xmppd"])
    }

    func testUnknownKeyInsideListener() {
        assertError(generalHeader + """
        [[listen.c2s]]
          port = 5222

        [[listen.c2s]]
          port = 5223
          prot = "tcp"
        """, line: 8, keyPath: "listen.c2s[2].prot", contains: ["unknown key (known keys: port, ip_address, proto"])
    }

    func testUnknownKeyInGeneral() {
        assertError("[general]\n  hosts = [\"a\"]\n  langauge = \"en\"\n", line: 3, keyPath: "general.langauge",
                    contains: ["unknown key"])
    }

    func testWrongType() {
        guard let e = expectError(generalHeader + """
        [[listen.c2s]]
          port = 5222
          backlog = "abc"
        """) else { return }
        XCTAssertEqual(e.description, "etc/xmppd.toml:5: listen.c2s[1].backlog: found string \"abc\", expected a positive integer")
    }

    func testNonPositiveInteger() {
        assertError(generalHeader + "[[listen.c2s]]\n  port = 5222\n  num_acceptors = 0\n", line: 5,
                    keyPath: "listen.c2s[1].num_acceptors", contains: ["found 0, expected a positive integer"])
    }

    func testPortOutOfRange() {
        guard let e = expectError(generalHeader + "[[listen.s2s]]\n  port = 70000\n") else { return }
        XCTAssertEqual(e.description, "etc/xmppd.toml:4: listen.s2s[1].port: found 70000, expected a port number 1-65535")
    }

    func testPortWrongType() {
        assertError(generalHeader + "[[listen.s2s]]\n  port = \"5269\"\n", line: 4, keyPath: "listen.s2s[1].port",
                    contains: ["found string \"5269\", expected an integer port number 1-65535"])
    }

    func testMissingPort() {
        guard let e = expectError(generalHeader + "[[listen.c2s]]\n  port = 5222\n\n[[listen.c2s]]\n  access = \"all\"\n") else { return }
        XCTAssertEqual(e.description, "etc/xmppd.toml:6: listen.c2s[2].port: missing mandatory key (expected an integer port number 1-65535)")
    }

    func testMissingServicePassword() {
        assertError(generalHeader + "[[listen.service]]\n  port = 8888\n  access = \"all\"\n", line: 3,
                    keyPath: "listen.service[1].password", contains: ["missing mandatory key"])
    }

    func testHTTPHandlerWithoutHost() {
        assertError(generalHeader + """
        [[listen.http]]
          port = 5280

          [[listen.http.handlers.mod_bosh]]
            path = "/http-bind"
        """, line: 6, keyPath: "listen.http[1].handlers.mod_bosh[1].host", contains: ["missing mandatory key"])
    }

    func testHTTPHandlerWithoutPath() {
        assertError(generalHeader + """
        [[listen.http]]
          port = 5280

        [[listen.http]]
          port = 5281

          [[listen.http.handlers.mod_websockets]]
            host = "_"
            path = "/ws"

          [[listen.http.handlers.mod_bosh]]
            host = "_"
            path = "/bosh"
          [[listen.http.handlers.mod_bosh]]
            host = "_"
        """, line: 16, keyPath: "listen.http[2].handlers.mod_bosh[2].path", contains: ["missing mandatory key"])
    }

    func testUnknownHandlerType() {
        assertError(generalHeader + """
        [[listen.http]]
          port = 5280
          [[listen.http.handlers.mod_boshh]]
            host = "_"
            path = "/"
        """, line: 5, keyPath: "listen.http[1].handlers.mod_boshh",
                    contains: ["unknown handler type (known types: mod_bosh, mod_websockets", "mongoose_client_api_*"])
    }

    func testAdminAPIUsernameNeedsPassword() {
        assertError(generalHeader + """
        [[listen.http]]
          port = 8088
          [[listen.http.handlers.mongoose_api_admin]]
            host = "localhost"
            path = "/api"
            username = "admin"
        """, line: 5, keyPath: "listen.http[1].handlers.mongoose_api_admin[1].password",
                    contains: ["missing mandatory key", "username requires password"])
    }

    func testMetricsAPIRequiresHandlers() {
        assertError(generalHeader + """
        [[listen.http]]
          port = 8088
          [[listen.http.handlers.mongoose_api]]
            host = "localhost"
            path = "/api"
        """, line: 5, keyPath: "listen.http[1].handlers.mongoose_api[1].handlers", contains: ["missing mandatory key"])
    }

    func testWebSocketsTimeout() {
        assertError(generalHeader + """
        [[listen.http]]
          port = 5280
          [[listen.http.handlers.mod_websockets]]
            host = "_"
            path = "/ws"
            timeout = "forever"
        """, line: 8, keyPath: "listen.http[1].handlers.mod_websockets[1].timeout",
                    contains: ["found \"forever\", expected a positive integer or \"infinity\""])
    }

    func testWebSocketsServiceNeedsPassword() {
        assertError(generalHeader + """
        [[listen.http]]
          port = 5280
          [[listen.http.handlers.mod_websockets]]
            host = "_"
            path = "/ws"
            [listen.http.handlers.mod_websockets.service]
              access = "all"
        """, line: 8, keyPath: "listen.http[1].handlers.mod_websockets[1].service.password",
                    contains: ["missing mandatory key"])
    }

    func testDuplicateSocketAcrossTypes() {
        guard let e = expectError(generalHeader + """
        [[listen.c2s]]
          port = 5222

        [[listen.http]]
          ip_address = "0.0.0.0"
          port = 5222
        """) else { return }
        XCTAssertEqual(e.line, 8)
        XCTAssertEqual(e.keyPath, "listen.http[1].port")
        XCTAssertTrue(e.message.contains("listen.http[1]") && e.message.contains("listen.c2s[1]"), e.description)
        XCTAssertTrue(e.message.contains("tcp://0.0.0.0:5222"), e.description)
    }

    func testSamePortOnDifferentAddressesIsFine() throws {
        let config = try parse(generalHeader + """
        [[listen.c2s]]
          port = 5222
          ip_address = "127.0.0.1"
        [[listen.c2s]]
          port = 5222
          ip_address = "::1"
        """)
        XCTAssertEqual(config.listeners.count, 2)
    }

    func testUDPIsRejectedAsTCPOnly() {
        assertError(generalHeader + "[[listen.service]]\n  port = 8888\n  password = \"x\"\n  proto = \"udp\"\n",
                    line: 6, keyPath: "listen.service[1].proto", contains: ["TCP-only"])
        assertError(generalHeader + "[[listen.c2s]]\n  port = 5222\n  proto = \"sctp\"\n",
                    line: 5, keyPath: "listen.c2s[1].proto", contains: ["found \"sctp\", expected one of \"tcp\", \"udp\""])
    }

    func testUnknownTLSMode() {
        guard let e = expectError(generalHeader + """
        [[listen.c2s]]
          port = 5222
          tls.certfile = "server.pem"
          tls.mode = "startls"
        """) else { return }
        XCTAssertEqual(e.description, "etc/xmppd.toml:6: listen.c2s[1].tls.mode: found \"startls\", expected one of \"tls\", \"starttls\", \"starttls_required\"")
    }

    func testTLSModeInSubtableLine() {
        assertError(generalHeader + """
        [[listen.c2s]]
          port = 5222
          [listen.c2s.tls]
            certfile = "server.pem"
            mode = "ssl"
        """, line: 7, keyPath: "listen.c2s[1].tls.mode", contains: ["found \"ssl\""])
    }

    func testTLSModeRequiresCertfile() {
        assertError(generalHeader + "[[listen.c2s]]\n  port = 5222\n  tls.mode = \"starttls\"\n", line: 5,
                    keyPath: "listen.c2s[1].tls.mode", contains: ["requires tls.certfile"])
    }

    func testJustTLSOptionUnderFastTLS() {
        assertError(generalHeader + """
        [[listen.c2s]]
          port = 5222
          tls.verify_mode = "none"
        """, line: 5, keyPath: "listen.c2s[1].tls.verify_mode", contains: ["only for tls.module = \"just_tls\""])
        assertError(generalHeader + """
        [[listen.c2s]]
          port = 5222
          tls.module = "just_tls"
          tls.protocol_options = ["no_sslv3"]
        """, line: 6, keyPath: "listen.c2s[1].tls.protocol_options", contains: ["only for tls.module = \"fast_tls\""])
    }

    func testCipherTypeDependsOnModule() {
        assertError(generalHeader + """
        [[listen.c2s]]
          port = 5222
          tls.module = "just_tls"
          tls.ciphers = "HIGH"
        """, line: 6, keyPath: "listen.c2s[1].tls.ciphers", contains: ["found string \"HIGH\", expected an array of tables"])
    }

    func testIPAddressErrors() {
        assertError(generalHeader + "[[listen.c2s]]\n  port = 5222\n  ip_address = \"1.2.3\"\n", line: 5,
                    keyPath: "listen.c2s[1].ip_address", contains: ["found \"1.2.3\", expected an IPv4 or IPv6 address"])
        assertError(generalHeader + "[[listen.c2s]]\n  port = 5222\n  ip_address = \"::1\"\n  ip_version = 4\n", line: 6,
                    keyPath: "listen.c2s[1].ip_version", contains: ["conflicts"])
        assertError(generalHeader + "[[listen.c2s]]\n  port = 5222\n  ip_version = 5\n", line: 5,
                    keyPath: "listen.c2s[1].ip_version", contains: ["found 5, expected one of 4, 6"])
    }

    func testTOMLSyntaxError() {
        guard let e = expectError(generalHeader + "[[listen.c2s]]\n  port = = 5222\n") else { return }
        XCTAssertEqual(e.line, 4)
        XCTAssertEqual(e.keyPath, "")
        XCTAssertTrue(e.description.hasPrefix("etc/xmppd.toml:4: "), e.description)
    }

    func testListenAsPlainTable() {
        assertError(generalHeader + "[listen.c2s]\n  port = 5222\n", line: 3, keyPath: "listen.c2s",
                    contains: ["found a table, expected an array of tables ([[listen.c2s]])"])
    }

    func testGeneralSectionErrors() {
        assertError("[general]\n  loglevel = \"info\"\n", line: 1, keyPath: "general.hosts", contains: ["missing mandatory key"])
        assertError("[general]\n  hosts = []\n", line: 2, keyPath: "general.hosts", contains: ["expected a non-empty array"])
        assertError("[general]\n  hosts = [\"a\"]\n  loglevel = \"verbose\"\n", line: 3, keyPath: "general.loglevel",
                    contains: ["found \"verbose\", expected one of \"none\""])
        assertError("[xmppd]\n  state_dir = \"x\"\n", line: nil, keyPath: "general", contains: ["missing mandatory key"])
    }

    func testAuthErrors() {
        assertError(generalHeader + "[auth]\n  sasl_mechanisms = [\"plain\", \"oauth\"]\n", line: 4,
                    keyPath: "auth.sasl_mechanisms[2]", contains: ["\"oauth\" is not supported yet"])
        assertError(generalHeader + "[auth]\n  sasl_mechanisms = [\"scram_sha513\"]\n", line: 4,
                    keyPath: "auth.sasl_mechanisms[1]", contains: ["found \"scram_sha513\", expected one of \"scram_sha512_plus\""])
        assertError(generalHeader + "[auth.password]\n  hash = [\"sha256\", \"md5\"]\n", line: 4,
                    keyPath: "auth.password.hash[2]", contains: ["found \"md5\", expected one of \"sha\", \"sha224\""])
        assertError(generalHeader + "[auth.password]\n  hash = []\n", line: 4,
                    keyPath: "auth.password.hash", contains: ["found [], expected a non-empty array"])
        assertError(generalHeader + "[auth]\n  sasl_mechanisms = [\"anonymous\"]\n", line: 4,
                    keyPath: "auth.sasl_mechanisms[1]", contains: ["not supported yet"])
        assertError(generalHeader + "[auth]\n  methods = [\"rdbms\"]\n", line: 4,
                    keyPath: "auth.methods[1]", contains: ["found \"rdbms\""])
        assertError(generalHeader + "[auth.password]\n  format = \"plain\"\n", line: 4,
                    keyPath: "auth.password.format", contains: ["found \"plain\""])
        assertError(generalHeader + "[auth.password]\n  scram_iterations = 0\n", line: 4,
                    keyPath: "auth.password.scram_iterations", contains: ["found 0, expected a positive integer"])
    }

    func testXmppdSectionErrors() {
        assertError(generalHeader + "[xmppd]\n  drain_timeout = -1\n", line: 4, keyPath: "xmppd.drain_timeout",
                    contains: ["found -1, expected a non-negative integer"])
        assertError(generalHeader + "[xmppd]\n  worker_restart_backoff = 0\n", line: 4, keyPath: "xmppd.worker_restart_backoff",
                    contains: ["expected a positive integer"])
    }

    func testLineIndexSkipsMultilineValues() {
        assertError(generalHeader + """
        [[listen.c2s]]
          port = 5222
          tls.module = "just_tls"
          tls.ciphers = [
            {cipher = "a"},
            {cipher = "b"},
          ]
          tls.versions = \"""
        mode = 1
        \"""
        """, line: 10, keyPath: "listen.c2s[1].tls.versions", contains: ["found string"])
    }
}

/// Inputs that make toml++ abort (debug builds) instead of throwing: reported as syntax errors.
final class ParserHazardTests: XCTestCase {
    func testBadTableHeaderIsASyntaxError() {
        assertError(generalHeader + "[[listen.c2s]]\n  port = 5222\n[,\n", line: 5, keyPath: "", contains: ["TOML syntax error", "table header"])
        assertError(generalHeader + "[\n", line: 3, keyPath: "", contains: ["TOML syntax error"])
    }

    func testClosingBraceInArrayIsASyntaxError() {
        assertError(generalHeader + "[auth]\n  methods = [\n    \"internal\",\n  }\n", line: 6, keyPath: "",
                    contains: ["TOML syntax error", "'}' inside an array"])
    }

    func testValidTrickyTOMLIsNotFlagged() throws {
        let config = try parse("""
        # [, and } in comments are fine
        [ general ]   # spaces inside the brackets
          hosts = [ "a}", 'b]' ]
        [[ listen.c2s ]]
          port = 5222
          tls.module = "just_tls"
          tls.versions = [ \"""c
        }\""" ]
          tls.ciphers = [ { cipher = "x}" },
            # a comment with }
            { cipher = "y" } ]
        """)
        XCTAssertEqual(config.hosts, ["a}", "b]"])
        XCTAssertEqual(config.listeners[0].c2s?.tls.versions, ["c\n}"])
        XCTAssertEqual(config.listeners[0].c2s?.tls.cipherSuites?.count, 2)
    }
}
