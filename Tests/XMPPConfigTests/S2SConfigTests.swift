import XCTest
@testable import XMPPConfig

/// `[s2s]`: MongooseIM's keys and defaults, and an error naming line and key for each
/// kind of bad value.
final class S2SConfigTests: XCTestCase {
    func testDefaultsWithoutTheSection() throws {
        let s2s = try parse(generalHeader).s2s
        XCTAssertEqual(s2s, S2SConfig())
        XCTAssertEqual(s2s.defaultPolicy, .allow)
        XCTAssertEqual(s2s.useStartTLS, .disabled)
        XCTAssertNil(s2s.shared)
        XCTAssertEqual(s2s.maxRetryDelay, 300)
        XCTAssertEqual(s2s.outgoingPort, 5269)
        XCTAssertEqual(s2s.ipVersions, [4, 6])
        XCTAssertEqual(s2s.connectionTimeoutMs, 10_000)
        XCTAssertEqual(s2s.dnsTimeout, 10)
        XCTAssertEqual(s2s.dnsRetries, 2)
        XCTAssertEqual(s2s.ciphers, "TLSv1.2:TLSv1.3")
        XCTAssertTrue(s2s.allows("anywhere.example"))
    }

    func testEveryOption() throws {
        let s2s = try parse(generalHeader + """
        [s2s]
          default_policy = "deny"
          host_policy = [
            {host = "Good.xmpp.org", policy = "allow"},
            {host = "bad.xmpp.org", policy = "deny"}
          ]
          use_starttls = "optional"
          certfile = "cert.pem"
          shared = "82gc8b23ct7824"
          address = [
            {host = "my.xmpp.org", ip_address = "192.0.100.1"},
            {host = "your.xmpp.org", ip_address = "::1", port = 5271}
          ]
          ciphers = "HIGH"
          max_retry_delay = 30
          outgoing.port = 5270
          outgoing.ip_versions = [6, 4]
          outgoing.connection_timeout = "infinity"
          dns.timeout = 30
          dns.retries = 1
        """).s2s
        XCTAssertEqual(s2s.defaultPolicy, .deny)
        XCTAssertTrue(s2s.allows("good.xmpp.org"))
        XCTAssertFalse(s2s.allows("bad.xmpp.org"))
        XCTAssertFalse(s2s.allows("other.xmpp.org"))
        XCTAssertEqual(s2s.useStartTLS, .optional)
        XCTAssertEqual(s2s.certfile, "cert.pem")
        XCTAssertEqual(s2s.shared, "82gc8b23ct7824")
        XCTAssertEqual(s2s.addresses["my.xmpp.org"], S2SConfig.Address(ipAddress: "192.0.100.1"))
        XCTAssertEqual(s2s.addresses["your.xmpp.org"], S2SConfig.Address(ipAddress: "::1", port: 5271))
        XCTAssertEqual(s2s.ciphers, "HIGH")
        XCTAssertEqual(s2s.maxRetryDelay, 30)
        XCTAssertEqual(s2s.outgoingPort, 5270)
        XCTAssertEqual(s2s.ipVersions, [6, 4])
        XCTAssertNil(s2s.connectionTimeoutMs)
        XCTAssertEqual(s2s.dnsTimeout, 30)
        XCTAssertEqual(s2s.dnsRetries, 1)
    }

    func testBadValues() {
        assertError(generalHeader + "[s2s]\n  default_policy = \"maybe\"\n", line: 4, keyPath: "s2s.default_policy",
                    contains: ["found \"maybe\", expected one of \"allow\", \"deny\""])
        assertError(generalHeader + "[s2s]\n  use_starttls = \"required\"\n", line: 4, keyPath: "s2s.use_starttls",
                    contains: ["use_starttls = \"required\" requires certfile"])
        assertError(generalHeader + "[s2s]\n  host_policy = [{host = \"a.org\"}]\n", line: 4, keyPath: "s2s.host_policy[1].policy",
                    contains: ["missing mandatory key"])
        assertError(generalHeader + "[s2s]\n  address = [{host = \"a.org\", ip_address = \"300.1.1.1\"}]\n", line: 4,
                    keyPath: "s2s.address[1].ip_address", contains: ["expected an IPv4 or IPv6 address"])
        assertError(generalHeader + "[s2s]\n  address = [{host = \"a.org\", ip_address = \"::1\", port = 0}]\n", line: 4,
                    keyPath: "s2s.address[1].port", contains: ["expected a port number 1-65535"])
        assertError(generalHeader + "[s2s]\n  outgoing.ip_versions = [4, 5]\n", line: 4, keyPath: "s2s.outgoing.ip_versions[2]",
                    contains: ["found 5, expected 4 or 6, each once"])
        assertError(generalHeader + "[s2s]\n  outgoing.connection_timeout = 0\n", line: 4,
                    keyPath: "s2s.outgoing.connection_timeout", contains: ["expected a positive integer or \"infinity\""])
        assertError(generalHeader + "[s2s]\n  max_retry_delay = -1\n", line: 4, keyPath: "s2s.max_retry_delay",
                    contains: ["expected a positive integer"])
        assertError(generalHeader + "[s2s]\n  outgoing.prot = 5269\n", line: 4, keyPath: "s2s.outgoing.prot",
                    contains: ["unknown key (known keys: port, ip_versions, connection_timeout)"])
        assertError(generalHeader + "[s2s]\n  shared = \"\"\n", line: 4, keyPath: "s2s.shared", contains: ["a non-empty string"])
    }

    func testDNSServers() throws {
        let config = try parse(generalHeader + """
        [xmppd]
          dns_servers = ["192.0.2.1", "127.0.0.1:5353", "[::1]:53", "2001:db8::1"]
        """)
        XCTAssertEqual(config.xmppd.dnsServers, [S2SConfig.Address(ipAddress: "192.0.2.1"),
                                                 S2SConfig.Address(ipAddress: "127.0.0.1", port: 5353),
                                                 S2SConfig.Address(ipAddress: "::1", port: 53),
                                                 S2SConfig.Address(ipAddress: "2001:db8::1")])
        assertError(generalHeader + "[xmppd]\n  dns_servers = [\"localhost:53\"]\n", line: 4, keyPath: "xmppd.dns_servers[1]",
                    contains: ["expected an IP address, \"ip:port\" or \"[ipv6]:port\""])
        assertError(generalHeader + "[xmppd]\n  dns_servers = [\"127.0.0.1:0\"]\n", line: 4, keyPath: "xmppd.dns_servers[1]",
                    contains: ["found \"127.0.0.1:0\""])
    }
}
