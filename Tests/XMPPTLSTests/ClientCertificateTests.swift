import NIOCore
import XCTest
import XMPPConfig
@testable import XMPPTLS

/// Client certificates (verify_peer), as SASL EXTERNAL (XEP-0178) will rely on.
final class ClientCertificateTests: XCTestCase {
    var pki: TestPKI!
    override func setUpWithError() throws { pki = try TestPKI() }
    override func tearDown() { pki = nil }

    func verifyingOptions(_ module: TLSModule) -> C2STLSOptions {
        var o = c2sOptions(pki, module: module)
        o.verifyPeer = true
        o.cacertfile = pki.path("ca.pem")
        return o
    }

    func handshake(_ options: C2STLSOptions, clientCert: String?) throws -> EmbeddedPair {
        let pair = try EmbeddedPair(server: try TLSContext.server(c2s: options), client: try clientContext(pki, cert: clientCert))
        try pair.connect()
        return pair
    }

    func testCertificateSignedByConfiguredCAIsVerifiedAndReported() throws {
        for module in TLSModule.allCases {
            let pair = try handshake(verifyingOptions(module), clientCert: "client")
            let event = try XCTUnwrap(pair.serverRecorder.handshake, "\(module)")
            XCTAssertTrue(event.peerCertificateVerified)
            XCTAssertEqual(event.verifyResult, "ok")
            let cert = try XCTUnwrap(event.peerCertificate)
            XCTAssertEqual(cert.xmppAddrs, ["alice@localhost"])
            XCTAssertEqual(cert.dnsNames, ["client.localhost"])
            XCTAssertEqual(cert.subject, "/CN=alice")
            XCTAssertEqual(cert.issuer, "/CN=Test CA")
            XCTAssertFalse(cert.der.isEmpty)
        }
    }

    func testUntrustedCertificateFailsTheHandshake() throws {
        for module in TLSModule.allCases {
            let pair = try handshake(verifyingOptions(module), clientCert: "stranger")
            XCTAssertNil(pair.serverRecorder.handshake)
            XCTAssertEqual(pair.serverRecorder.handshakeError, "certificate verify failed", "\(module)")
            // In TLS 1.3 the client has finished its handshake when the server's alert arrives,
            // so it sees the alert as an error on its first read, then the connection closes.
            XCTAssertFalse(pair.clientRecorder.errors.isEmpty)
            XCTAssertFalse(pair.client.isActive)
        }
    }

    func testMissingCertificateFailsWhenVerifyPeerIsOn() throws {
        let pair = try handshake(verifyingOptions(.fastTLS), clientCert: nil)
        XCTAssertEqual(pair.serverRecorder.handshakeError, "peer did not return a certificate")
    }

    func testUntrustedCertificatePassesButIsReportedWithoutDisconnectOnFailure() throws {
        var options = verifyingOptions(.justTLS)
        options.disconnectOnFailure = false
        let pair = try handshake(options, clientCert: "stranger")
        let event = try XCTUnwrap(pair.serverRecorder.handshake)
        XCTAssertFalse(event.peerCertificateVerified)
        XCTAssertEqual(event.verifyResult, "unable to verify the first certificate")
        XCTAssertEqual(event.peerCertificate?.xmppAddrs, ["eve@localhost"])
        XCTAssertTrue(pair.serverRecorder.errors.isEmpty)
    }

    func testRevokedCertificateFailsWithCRLFiles() throws {
        var options = verifyingOptions(.justTLS)
        options.crlFiles = [pki.path("crl.pem")]
        let revoked = try handshake(options, clientCert: "revoked")
        XCTAssertEqual(revoked.serverRecorder.handshakeError, "certificate verify failed")
        // The same CRL does not block a certificate it does not list.
        let good = try handshake(options, clientCert: "client")
        XCTAssertEqual(good.serverRecorder.handshake?.peerCertificateVerified, true)
        // Without crl_files the revoked certificate is accepted: the CRL is what rejected it.
        options.crlFiles = nil
        let unchecked = try handshake(options, clientCert: "revoked")
        XCTAssertEqual(unchecked.serverRecorder.handshake?.peerCertificateVerified, true)
    }

    func testRevokedCertificateIsReportedWithoutDisconnectOnFailure() throws {
        var options = verifyingOptions(.justTLS)
        options.crlFiles = [pki.path("crl.pem")]
        options.disconnectOnFailure = false
        let pair = try handshake(options, clientCert: "revoked")
        XCTAssertEqual(pair.serverRecorder.handshake?.peerCertificateVerified, false)
        XCTAssertEqual(pair.serverRecorder.handshake?.verifyResult, "certificate revoked")
    }

    func testSelfSignedPeerModeAcceptsSelfSignedCertificates() throws {
        let cert = pki.path("self.crt"), key = pki.path("self.key")
        try SelfSignedCertificate.generate(hosts: ["self.localhost"], certificatePath: cert, keyPath: key)
        let client = try TLSContext.client(verify: true, caFile: pki.path("ca.pem"), certificateFile: cert, keyFile: key)

        var options = verifyingOptions(.justTLS)
        options.verifyMode = .selfsignedPeer
        let accepted = try EmbeddedPair(server: try TLSContext.server(c2s: options), client: client)
        try accepted.connect()
        XCTAssertEqual(accepted.serverRecorder.handshake?.peerCertificate?.dnsNames, ["self.localhost"])

        options.verifyMode = .peer
        let rejected = try EmbeddedPair(server: try TLSContext.server(c2s: options), client: client)
        try rejected.connect()
        XCTAssertEqual(rejected.serverRecorder.handshakeError, "certificate verify failed")

        options.verifyMode = TLSVerifyMode.none
        let any = try EmbeddedPair(server: try TLSContext.server(c2s: options), client: try clientContext(pki, cert: "stranger"))
        try any.connect()
        XCTAssertEqual(any.serverRecorder.handshake?.peerCertificate?.xmppAddrs, ["eve@localhost"])
        XCTAssertEqual(any.serverRecorder.handshake?.peerCertificateVerified, false)
    }
}
