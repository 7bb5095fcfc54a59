import XCTest
import XMPPTLS
@testable import XMPPServer

/// RFC 6125's reading of a server certificate for SASL EXTERNAL between servers.
final class S2SCertificateIdentityTests: XCTestCase {
    private func certificate(subject: String = "/O=Test", xmppAddrs: [String] = [], dnsNames: [String] = []) -> TLSPeerCertificate {
        TLSPeerCertificate(subject: subject, issuer: "/CN=Test CA", xmppAddrs: xmppAddrs, dnsNames: dnsNames, der: [])
    }

    func testSubjectAltNamesNameTheDomain() {
        XCTAssertTrue(S2SCertificateIdentity.names("b.test", in: certificate(dnsNames: ["a.test", "B.Test"])))
        XCTAssertTrue(S2SCertificateIdentity.names("b.test", in: certificate(xmppAddrs: ["b.test"])))
        XCTAssertFalse(S2SCertificateIdentity.names("c.test", in: certificate(dnsNames: ["a.test", "b.test"])))
        XCTAssertFalse(S2SCertificateIdentity.names("b.test", in: certificate(xmppAddrs: ["user@b.test"])), "an account is not a server")
    }

    func testAWildcardStandsForExactlyOneLabel() {
        let wildcard = certificate(dnsNames: ["*.example.org"])
        XCTAssertTrue(S2SCertificateIdentity.names("chat.example.org", in: wildcard))
        XCTAssertFalse(S2SCertificateIdentity.names("example.org", in: wildcard))
        XCTAssertFalse(S2SCertificateIdentity.names("a.chat.example.org", in: wildcard))
        XCTAssertFalse(S2SCertificateIdentity.names(".example.org", in: wildcard))
    }

    func testTheCommonNameCountsOnlyWithoutSubjectAltNames() {
        XCTAssertTrue(S2SCertificateIdentity.names("b.test", in: certificate(subject: "/C=XX/CN=b.test/O=Test")))
        XCTAssertFalse(S2SCertificateIdentity.names("b.test", in: certificate(subject: "/CN=b.test", dnsNames: ["a.test"])))
    }
}
