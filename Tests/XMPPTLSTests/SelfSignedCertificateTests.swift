import Foundation
import XCTest
@testable import XMPPTLS

final class SelfSignedCertificateTests: XCTestCase {
    var pki: TestPKI!
    override func setUpWithError() throws { pki = try TestPKI() }
    override func tearDown() { pki = nil }

    func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as! NSNumber).intValue
    }

    func testCombinedFileHasSANsAndWorksAsServerCertificate() throws {
        let path = pki.path("generated.pem")
        try SelfSignedCertificate.generate(hosts: ["example.com", "conference.example.com"], certificatePath: path)
        XCTAssertEqual(try mode(path), 0o600)

        let (status, text) = try Shell.run("openssl x509 -in '\(path)' -noout -text")
        XCTAssertEqual(status, 0, text)
        XCTAssertTrue(text.contains("DNS:example.com, DNS:conference.example.com"), text)
        XCTAssertTrue(text.contains("Subject: CN = example.com"), text)
        XCTAssertTrue(text.contains("Version: 3 (0x2)"), text)
        XCTAssertTrue(text.contains("ASN1 OID: prime256v1"), text)
        let (_, end) = try Shell.run("openssl x509 -in '\(path)' -noout -checkend \(9 * 365 * 86_400)")
        XCTAssertTrue(end.contains("will not expire"), end)

        var o = c2sOptions(pki)
        o.certfile = path
        let pair = try EmbeddedPair(server: try TLSContext.server(c2s: o),
                                    client: try TLSContext.client(verify: true, caFile: path),
                                    serverHostname: "conference.example.com")
        try pair.connect()
        XCTAssertEqual(pair.clientRecorder.handshake?.peerCertificateVerified, true)
        XCTAssertEqual(pair.clientRecorder.handshake?.peerCertificate?.dnsNames, ["example.com", "conference.example.com"])
    }

    func testSeparateKeyFile() throws {
        let cert = pki.path("gen.crt"), key = pki.path("gen.key")
        try SelfSignedCertificate.generate(hosts: ["localhost"], certificatePath: cert, keyPath: key)
        XCTAssertEqual(try mode(key), 0o600)
        XCTAssertFalse(try String(contentsOfFile: cert, encoding: .utf8).contains("PRIVATE KEY"))
        XCTAssertTrue(try String(contentsOfFile: key, encoding: .utf8).contains("BEGIN PRIVATE KEY"))
        XCTAssertNoThrow(try TLSContext(TLSConfiguration(role: .server, certificateChainFile: cert, privateKeyFile: key)))
    }

    func testNoHostsIsAnError() {
        XCTAssertThrowsError(try SelfSignedCertificate.generate(hosts: [], certificatePath: pki.path("x.pem")))
    }
}
