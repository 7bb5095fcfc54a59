import XCTest
import XMPPConfig
@testable import XMPPTLS

/// Every bad input becomes a TLSConfigurationError naming the file or option.
final class ConfigurationErrorTests: XCTestCase {
    var pki: TestPKI!
    override func setUpWithError() throws { pki = try TestPKI() }
    override func tearDown() { pki = nil }

    func error(_ body: () throws -> Any) -> TLSConfigurationError? {
        do { _ = try body(); XCTFail("no error"); return nil }
        catch let e as TLSConfigurationError { return e }
        catch { XCTFail("\(error)"); return nil }
    }

    func testMissingCertfileNamesTheFile() {
        var o = c2sOptions(pki)
        o.certfile = pki.path("nope.pem")
        let e = error { try TLSContext.server(c2s: o) }
        XCTAssertEqual(e?.kind, .fileUnreadable)
        XCTAssertEqual(e?.description, "cannot read tls.certfile \(pki.path("nope.pem")): No such file or directory")
    }

    func testRelativePathsResolveAgainstTheBaseDirectory() throws {
        var o = c2sOptions(pki)
        o.certfile = "server.pem"
        o.dhfile = "dh.pem"
        XCTAssertNoThrow(try TLSContext.server(c2s: o, baseDirectory: pki.directory))
        let e = error { try TLSContext.server(c2s: o, baseDirectory: "/nonexistent") }
        XCTAssertEqual(e?.description, "cannot read tls.certfile /nonexistent/server.pem: No such file or directory")
    }

    func testCertfileWithoutKey() {
        var o = c2sOptions(pki)
        o.certfile = pki.path("server.crt")
        let e = error { try TLSContext.server(c2s: o) }
        XCTAssertEqual(e?.kind, .privateKey)
        XCTAssertTrue(e?.description.hasPrefix("cannot load private key from tls.certfile \(pki.path("server.crt")): error:") == true, e?.description ?? "")
    }

    func testGarbageCertificate() {
        var o = c2sOptions(pki)
        o.certfile = pki.path("garbage.pem")
        let e = error { try TLSContext.server(c2s: o) }
        XCTAssertEqual(e?.kind, .certificate)
        XCTAssertTrue(e?.description.contains(pki.path("garbage.pem")) == true)
        XCTAssertTrue(e?.description.contains("no start line") == true, e?.description ?? "")
    }

    func testKeyNotMatchingCertificate() {
        var o = HTTPTLSOptions()
        o.certfile = pki.path("server.crt")
        o.keyfile = pki.path("client.key")
        let e = error { try TLSContext(TLSConfiguration.http(o)) }
        XCTAssertEqual(e?.kind, .keyMismatch)
        XCTAssertTrue(e?.description.hasPrefix("private key in tls.keyfile \(pki.path("client.key")) does not match the certificate in tls.certfile \(pki.path("server.crt")): ") == true, e?.description ?? "")
        XCTAssertTrue(e?.description.contains("key values mismatch") == true, e?.description ?? "")
    }

    func testEncryptedKeyWithPassword() throws {
        let (status, out) = try Shell.run("openssl pkey -in server.key -aes256 -passout pass:secret -out enc.key", in: pki.directory)
        XCTAssertEqual(status, 0, out)
        var o = HTTPTLSOptions()
        o.certfile = pki.path("server.crt")
        o.keyfile = pki.path("enc.key")
        o.password = "secret"
        XCTAssertNoThrow(try TLSContext(TLSConfiguration.http(o)))
        o.password = "wrong"
        XCTAssertEqual(error { try TLSContext(TLSConfiguration.http(o)) }?.kind, .privateKey)
    }

    func testBadDHFile() throws {
        var o = c2sOptions(pki)
        o.dhfile = pki.path("dh.pem")
        XCTAssertNoThrow(try TLSContext.server(c2s: o))
        o.dhfile = pki.path("ca.pem")
        let e = error { try TLSContext.server(c2s: o) }
        XCTAssertEqual(e?.kind, .dhFile)
        XCTAssertTrue(e?.description.hasPrefix("no Diffie-Hellman parameters in tls.dhfile \(pki.path("ca.pem")): ") == true, e?.description ?? "")
        o.dhfile = pki.path("missing-dh.pem")
        XCTAssertEqual(error { try TLSContext.server(c2s: o) }?.description,
                       "cannot read tls.dhfile \(pki.path("missing-dh.pem")): No such file or directory")
    }

    func testBadCAFile() {
        var o = c2sOptions(pki)
        o.verifyPeer = true
        o.cacertfile = pki.path("garbage.pem")
        let e = error { try TLSContext.server(c2s: o) }
        XCTAssertEqual(e?.kind, .caFile)
        XCTAssertTrue(e?.description.contains(pki.path("garbage.pem")) == true)
    }

    func testBadCRLFile() {
        var o = c2sOptions(pki, module: .justTLS)
        o.crlFiles = [pki.path("ca.pem")]
        let e = error { try TLSContext.server(c2s: o) }
        XCTAssertEqual(e?.kind, .crlFile)
        XCTAssertTrue(e?.description.hasPrefix("no CRL in tls.crl_files entry \(pki.path("ca.pem")): ") == true, e?.description ?? "")
    }

    func testUnknownProtocolOption() {
        var o = c2sOptions(pki)
        o.protocolOptions = ["no_tlsv1", "no_tlsv9"]
        let e = error { try TLSContext.server(c2s: o) }
        XCTAssertEqual(e?.kind, .protocolOption)
        XCTAssertTrue(e?.description.hasPrefix("unknown TLS protocol option \"no_tlsv9\" in tls.protocol_options; supported: ") == true, e?.description ?? "")
    }

    func testBadCipherString() {
        var o = c2sOptions(pki)
        o.ciphers = "NOT-A-CIPHER"
        let e = error { try TLSContext.server(c2s: o) }
        XCTAssertEqual(e?.kind, .cipherList)
        XCTAssertTrue(e?.description.hasPrefix("bad cipher string \"NOT-A-CIPHER\" in tls.ciphers: ") == true, e?.description ?? "")
        XCTAssertTrue(e?.description.contains("no cipher match") == true, e?.description ?? "")
        o.ciphers = "TLS_NOT_A_SUITE"
        XCTAssertEqual(error { try TLSContext.server(c2s: o) }?.kind, .cipherList)
    }

    func testProtocolNameCipherStrings() throws {
        var o = c2sOptions(pki)
        for s in ["TLSv1.2:TLSv1.3", "TLSv1.3", "TLS_AES_128_GCM_SHA256:ECDHE-ECDSA-AES128-GCM-SHA256"] {
            o.ciphers = s
            XCTAssertNoThrow(try TLSContext.server(c2s: o), s)
        }
    }

    func testUnknownJustTLSCipherAndVersion() {
        var o = c2sOptions(pki, module: .justTLS)
        o.cipherSuites = [TLSCipherSuite(cipher: "rot13")]
        let e = error { try TLSContext.server(c2s: o) }
        XCTAssertEqual(e?.kind, .cipherSuite)
        XCTAssertTrue(e?.description.hasPrefix("unknown cipher \"rot13\" in tls.ciphers[1]; supported: 3des_ede_cbc, aes_128_cbc") == true, e?.description ?? "")
        o.cipherSuites = nil
        o.versions = ["tlsv1.2", "sslv2"]
        XCTAssertEqual(error { try TLSContext.server(c2s: o) }?.kind, .version)
    }

    func testServerWithoutCertfile() {
        var o = c2sOptions(pki)
        o.certfile = nil
        XCTAssertEqual(error { try TLSContext.server(c2s: o) }?.description, "a TLS server needs tls.certfile")
    }
}
