import NIOCore
import NIOEmbedded
import XCTest
import XMPPConfig
@testable import XMPPTLS

final class HandshakeTests: XCTestCase {
    var pki: TestPKI!
    override func setUpWithError() throws { pki = try TestPKI() }
    override func tearDown() { pki = nil }

    func testTLS13WithDefaultOptions() throws {
        let pair = try EmbeddedPair(server: try TLSContext.server(c2s: c2sOptions(pki)), client: try clientContext(pki))
        try pair.connect()
        let s = try XCTUnwrap(pair.serverRecorder.handshake), c = try XCTUnwrap(pair.clientRecorder.handshake)
        XCTAssertEqual(s.protocolVersion, "TLSv1.3")
        XCTAssertEqual(c.protocolVersion, "TLSv1.3")
        XCTAssertEqual(s.cipher, c.cipher)
        XCTAssertEqual(s.serverName, "localhost")
        XCTAssertNil(s.peerCertificate)   // verify_peer is off: no client certificate requested
        XCTAssertTrue(c.peerCertificateVerified, c.verifyResult)
        XCTAssertEqual(c.peerCertificate?.dnsNames, ["localhost", "xmpp.localhost"])
        XCTAssertEqual(c.verifyResult, "ok")
        try assertEcho(pair)
    }

    func testTLS12WithDefaultOptions() throws {
        let pair = try EmbeddedPair(server: try TLSContext.server(c2s: c2sOptions(pki)),
                                    client: try clientContext(pki, versions: [.tlsv1_2]))
        try pair.connect()
        XCTAssertEqual(pair.serverRecorder.handshake?.protocolVersion, "TLSv1.2")
        XCTAssertEqual(pair.clientRecorder.handshake?.protocolVersion, "TLSv1.2")
        XCTAssertEqual(pair.serverRecorder.handshake?.cipher, "ECDHE-ECDSA-AES256-GCM-SHA384")
        try assertEcho(pair)
    }

    func testTLS11ClientIsRejectedByDefaultProtocolOptions() throws {
        let pair = try EmbeddedPair(server: try TLSContext.server(c2s: c2sOptions(pki)),
                                    client: try clientContext(pki, versions: [.tlsv1_1]))
        try pair.connect()
        XCTAssertNil(pair.serverRecorder.handshake)
        XCTAssertEqual(pair.serverRecorder.handshakeError, "unsupported protocol")
        XCTAssertEqual(pair.clientRecorder.handshakeError, "tlsv1 alert protocol version")
        XCTAssertFalse(pair.server.isActive)
        XCTAssertFalse(pair.client.isActive)
    }

    func testCipherMismatchFails() throws {
        var options = c2sOptions(pki)
        options.ciphers = "ECDHE-ECDSA-AES256-GCM-SHA384"
        let pair = try EmbeddedPair(server: try TLSContext.server(c2s: options),
                                    client: try clientContext(pki, versions: [.tlsv1_2], ciphers: "ECDHE-ECDSA-CHACHA20-POLY1305"))
        try pair.connect()
        XCTAssertEqual(pair.serverRecorder.handshakeError, "no shared cipher")
        XCTAssertNotNil(pair.clientRecorder.handshakeError)
        XCTAssertNil(pair.clientRecorder.handshake)
    }

    func testJustTLSCipherSuiteTableAndVersions() throws {
        var options = c2sOptions(pki, module: .justTLS)
        options.versions = ["tlsv1.2"]
        options.cipherSuites = [TLSCipherSuite(cipher: "aes_128_gcm", keyExchange: "ecdhe_ecdsa", mac: "aead", prf: "sha256")]
        let pair = try EmbeddedPair(server: try TLSContext.server(c2s: options), client: try clientContext(pki))
        try pair.connect()
        XCTAssertEqual(pair.serverRecorder.handshake?.protocolVersion, "TLSv1.2")
        XCTAssertEqual(pair.serverRecorder.handshake?.cipher, "ECDHE-ECDSA-AES128-GCM-SHA256")
    }

    func testChannelBindingsAgreeOnBothSides() throws {
        for versions: [TLSVersion] in [[.tlsv1_3], [.tlsv1_2]] {
            let pair = try EmbeddedPair(server: try TLSContext.server(c2s: c2sOptions(pki)),
                                        client: try clientContext(pki, versions: versions))
            try pair.connect()
            let s = try XCTUnwrap(pair.serverRecorder.handshake), c = try XCTUnwrap(pair.clientRecorder.handshake)
            XCTAssertEqual(s.tlsExporter?.count, 32)
            XCTAssertEqual(s.tlsExporter, c.tlsExporter, "\(versions)")
            XCTAssertEqual(pair.serverTLS.tlsExporter(), c.tlsExporter)
            // ecdsa-with-SHA256 certificate: SHA-256 of the DER certificate.
            XCTAssertEqual(s.tlsServerEndPoint?.count, 32)
            XCTAssertEqual(s.tlsServerEndPoint, c.tlsServerEndPoint, "\(versions)")
            XCTAssertEqual(pair.clientTLS.tlsServerEndPoint(), s.tlsServerEndPoint)
        }
        // Different connections, different exporters.
        let a = try EmbeddedPair(server: try TLSContext.server(c2s: c2sOptions(pki)), client: try clientContext(pki))
        let b = try EmbeddedPair(server: try TLSContext.server(c2s: c2sOptions(pki)), client: try clientContext(pki))
        try a.connect(); try b.connect()
        XCTAssertNotEqual(a.serverRecorder.handshake?.tlsExporter, b.serverRecorder.handshake?.tlsExporter)
    }

    func testTLSServerEndPointIsTheCertificateHashFromTheCLI() throws {
        let pair = try EmbeddedPair(server: try TLSContext.server(c2s: c2sOptions(pki)), client: try clientContext(pki))
        try pair.connect()
        let (_, out) = try Shell.run("openssl x509 -in server.crt -noout -fingerprint -sha256", in: pki.directory)
        let hex = out.split(separator: "=").last!.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: ":", with: "")
        let ours = pair.clientRecorder.handshake!.tlsServerEndPoint!.map { String(format: "%02X", $0) }.joined()
        XCTAssertEqual(ours, hex)
    }

    func testHandshakeAndDataSplitIntoSingleBytes() throws {
        let pair = try EmbeddedPair(server: try TLSContext.server(c2s: c2sOptions(pki)), client: try clientContext(pki))
        try pair.connect(chunkSize: 1)
        XCTAssertNotNil(pair.serverRecorder.handshake)
        XCTAssertNotNil(pair.clientRecorder.handshake)
        try assertEcho(pair, chunkSize: 7)
    }

    func testManyRecordsInOneReadArriveAsOneBuffer() throws {
        let pair = try EmbeddedPair(server: try TLSContext.server(c2s: c2sOptions(pki)), client: try clientContext(pki))
        try pair.connect()
        var expected: [UInt8] = []
        for i in 0..<200 {
            let stanza = Array("<message id='\(i)'/>".utf8)
            expected += stanza
            pair.client.write(ByteBuffer(bytes: stanza), promise: nil)
        }
        pair.client.flush()
        // Concatenate the 200 records into one inbound buffer, as one socket read would.
        var all = ByteBuffer()
        while var b = try pair.client.readOutbound(as: ByteBuffer.self) { all.writeBuffer(&b) }
        let readsBefore = pair.serverRecorder.reads
        try pair.server.writeInbound(all)
        XCTAssertEqual(pair.serverRecorder.received, expected)
        XCTAssertEqual(pair.serverRecorder.reads - readsBefore, 1)
    }

    func testWritesBeforeHandshakeAreSentAfterIt() throws {
        let pair = try EmbeddedPair(server: try TLSContext.server(c2s: c2sOptions(pki)), client: try clientContext(pki))
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 5222)
        try pair.server.connect(to: address).wait()
        try pair.client.connect(to: address).wait()
        let promise = pair.client.eventLoop.makePromise(of: Void.self)
        var written = false
        promise.futureResult.whenSuccess { written = true }
        pair.client.writeAndFlush(ByteBuffer(string: "<stream:stream>"), promise: promise)
        XCTAssertFalse(written)
        try pair.shuttle()
        XCTAssertTrue(written)
        XCTAssertEqual(String(decoding: pair.serverRecorder.received, as: UTF8.self), "<stream:stream>")
    }

    func testCloseSendsCloseNotifyAndThePeerCloses() throws {
        let pair = try EmbeddedPair(server: try TLSContext.server(c2s: c2sOptions(pki)), client: try clientContext(pki))
        try pair.connect()
        try pair.client.close().wait()
        try pair.shuttle()
        XCTAssertFalse(pair.server.isActive)
        XCTAssertTrue(pair.serverRecorder.inactive)
        XCTAssertTrue(pair.serverRecorder.errors.isEmpty, "\(pair.serverRecorder.errors)")
    }

    func testServerNameSelectsAnotherContext() throws {
        let other = pki.path("other.pem")
        try SelfSignedCertificate.generate(hosts: ["muc.localhost"], certificatePath: other)
        var options = c2sOptions(pki)
        options.certfile = other
        let muc = try TLSContext.server(c2s: options)
        let main = try TLSContext.server(c2s: c2sOptions(pki), serverNameSelector: { $0 == "muc.localhost" ? muc : nil })
        let pair = try EmbeddedPair(server: main, client: try TLSContext.client(verify: false), serverHostname: "muc.localhost")
        try pair.connect()
        XCTAssertEqual(pair.serverRecorder.handshake?.serverName, "muc.localhost")
        XCTAssertEqual(pair.clientRecorder.handshake?.peerCertificate?.dnsNames, ["muc.localhost"])
        let plain = try EmbeddedPair(server: main, client: try TLSContext.client(verify: false), serverHostname: "localhost")
        try plain.connect()
        XCTAssertEqual(plain.clientRecorder.handshake?.peerCertificate?.dnsNames, ["localhost", "xmpp.localhost"])
    }

    func testClientRejectsServerWithWrongHostName() throws {
        let pair = try EmbeddedPair(server: try TLSContext.server(c2s: c2sOptions(pki)), client: try clientContext(pki),
                                    serverHostname: "example.org")
        try pair.connect()
        XCTAssertEqual(pair.clientRecorder.handshakeError, "certificate verify failed")
    }

    /// STARTTLS: plaintext `<starttls/>` / `<proceed/>`, then both sides put TLS at the front.
    func testStartTLSInsertsHandlerIntoLivePipeline() throws {
        let server = EmbeddedChannel(), client = EmbeddedChannel()
        let serverRecorder = Recorder(), clientRecorder = Recorder()
        try server.pipeline.syncOperations.addHandler(serverRecorder)
        try client.pipeline.syncOperations.addHandler(clientRecorder)
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 5222)
        try server.connect(to: address).wait()
        try client.connect(to: address).wait()

        try client.writeOutbound(ByteBuffer(string: "<starttls/>"))
        try server.writeInbound(try XCTUnwrap(client.readOutbound(as: ByteBuffer.self)))
        XCTAssertEqual(String(decoding: serverRecorder.received, as: UTF8.self), "<starttls/>")
        try server.writeOutbound(ByteBuffer(string: "<proceed/>"))
        try server.pipeline.syncOperations.addHandler(OpenSSLHandler(context: TLSContext.server(c2s: c2sOptions(pki))), position: .first)
        try client.writeInbound(try XCTUnwrap(server.readOutbound(as: ByteBuffer.self)))
        XCTAssertEqual(String(decoding: clientRecorder.received, as: UTF8.self), "<proceed/>")
        try client.pipeline.syncOperations.addHandler(OpenSSLHandler(context: clientContext(pki), serverHostname: "localhost"), position: .first)

        var moved = true
        while moved {
            moved = false
            while let b = try client.readOutbound(as: ByteBuffer.self) { moved = true; try server.writeInbound(b) }
            while let b = try server.readOutbound(as: ByteBuffer.self) { moved = true; try client.writeInbound(b) }
        }
        XCTAssertNotNil(serverRecorder.handshake)
        XCTAssertNotNil(clientRecorder.handshake)
    }

    private func assertEcho(_ pair: EmbeddedPair, chunkSize: Int? = nil, file: StaticString = #filePath, line: UInt = #line) throws {
        pair.serverRecorder.echo = true
        let message = Array("<message to='bob@localhost'><body>hi</body></message>".utf8)
        pair.clientRecorder.received = []
        pair.client.writeAndFlush(ByteBuffer(bytes: message), promise: nil)
        try pair.shuttle(chunkSize: chunkSize)
        XCTAssertEqual(pair.clientRecorder.received, message, file: file, line: line)
    }
}
