import NIOCore
import NIOEmbedded
import XCTest
import XMPPConfig
@testable import XMPPTLS

/// A server context with `compactSessions` against OpenSSL as the client: every record the
/// client decrypts was sealed by `TLS13Session`, every record it sends was opened by it.
final class CompactSessionTests: XCTestCase {
    var pki: TestPKI!
    override func setUpWithError() throws { pki = try TestPKI() }
    override func tearDown() { pki = nil }

    func compactServer(_ options: C2STLSOptions? = nil) throws -> TLSContext {
        try TLSContext.server(c2s: options ?? c2sOptions(pki), compactSessions: true)
    }

    func testEverySuiteCompactsAndCarriesDataBothWays() throws {
        for suite in ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"] {
            let pair = try EmbeddedPair(server: try compactServer(), client: try clientContext(pki, ciphers: suite))
            try pair.connect()
            XCTAssertEqual(pair.clientRecorder.handshake?.cipher, suite)
            XCTAssertTrue(pair.serverTLS.isCompact, suite)
            // Larger than one record both ways: 40,000 bytes are three records each.
            try exchange(pair, size: 40_000)
            try exchange(pair, size: 1)
        }
    }

    func testRecordsSplitIntoSingleBytesAndCoalesced() throws {
        let pair = try EmbeddedPair(server: try compactServer(), client: try clientContext(pki))
        try pair.connect(chunkSize: 1)
        XCTAssertTrue(pair.serverTLS.isCompact)
        try exchange(pair, size: 3_000, chunkSize: 1)
        // Several client records in one network read.
        pair.serverRecorder.received = []
        for i in 0..<5 { pair.client.writeAndFlush(ByteBuffer(bytes: [UInt8(i)]), promise: nil) }
        try deliverCoalesced(from: pair.client, to: pair.server)
        XCTAssertEqual(pair.serverRecorder.received, [0, 1, 2, 3, 4])
    }

    func testApplicationDataRightBehindTheClientFinished() throws {
        let pair = try EmbeddedPair(server: try compactServer(), client: try clientContext(pki))
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 5222)
        try pair.server.connect(to: address).wait()
        try pair.client.connect(to: address).wait()
        // Written before the handshake: the client sends it right after its Finished.
        pair.client.writeAndFlush(ByteBuffer(string: "<stream:stream>"), promise: nil)
        try deliverCoalesced(from: pair.client, to: pair.server)            // ClientHello
        try deliverCoalesced(from: pair.server, to: pair.client)            // server flight
        try deliverCoalesced(from: pair.client, to: pair.server)            // Finished + data, one read
        XCTAssertTrue(pair.serverTLS.isCompact)
        XCTAssertEqual(String(decoding: pair.serverRecorder.received, as: UTF8.self), "<stream:stream>")
        try pair.shuttle()
        try exchange(pair, size: 100)
    }

    func testClientKeyUpdateWithAndWithoutRequest() throws {
        let pair = try EmbeddedPair(server: try compactServer(), client: try clientContext(pki))
        try pair.connect()
        XCTAssertTrue(pair.serverTLS.isCompact)
        for requesting in [false, true, true, false] {
            XCTAssertTrue(pair.clientTLS.scheduleKeyUpdate(requestingPeer: requesting))
            // The client's next record uses its new key; with a request the server answers with
            // a KeyUpdate of its own, and the client must read what follows with the new key.
            try exchange(pair, size: 2_000)
        }
        XCTAssertTrue(pair.server.isActive)
    }

    func testAnswerToDataBehindAKeyUpdateFollowsOurKeyUpdate() throws {
        let pair = try EmbeddedPair(server: try compactServer(), client: try clientContext(pki))
        try pair.connect()
        pair.serverRecorder.echo = true   // answers inside the read that carried the KeyUpdate
        for round in 0..<3 {
            XCTAssertTrue(pair.clientTLS.scheduleKeyUpdate(requestingPeer: true))
            pair.client.writeAndFlush(ByteBuffer(bytes: [UInt8(round)]), promise: nil)
            try deliverCoalesced(from: pair.client, to: pair.server)
            try pair.shuttle()
            XCTAssertEqual(pair.clientRecorder.received.last, UInt8(round))
        }
        XCTAssertTrue(pair.clientRecorder.errors.isEmpty, "\(pair.clientRecorder.errors)")
    }

    func testTamperedRecordIsRefusedWithBadRecordMAC() throws {
        let pair = try EmbeddedPair(server: try compactServer(), client: try clientContext(pki))
        try pair.connect()
        pair.client.writeAndFlush(ByteBuffer(string: "hello"), promise: nil)
        var record = try XCTUnwrap(try pair.client.readOutbound(as: ByteBuffer.self))
        let last = record.writerIndex - 1
        record.setInteger(record.getInteger(at: last, as: UInt8.self)! ^ 1, at: last)
        try pair.server.writeInbound(record)
        XCTAssertEqual(pair.serverRecorder.received, [])
        XCTAssertTrue(pair.serverRecorder.errors.contains { "\($0)".contains("bad record MAC") }, "\(pair.serverRecorder.errors)")
        try pair.shuttle()   // our alert reaches the client
        XCTAssertFalse(pair.server.isActive)
        XCTAssertTrue(pair.clientRecorder.errors.contains { "\($0)".contains("bad record mac") }, "\(pair.clientRecorder.errors)")
    }

    func testMalformedRecordsEndTheConnectionWithTheRightAlert() throws {
        let cases: [(String, [UInt8], String)] = [
            ("a change_cipher_spec record", [20, 3, 3, 0, 1, 1], "unexpected message"),
            ("a body too short for its tag", [23, 3, 3, 0, 5, 1, 2, 3, 4, 5], "decode error"),
            ("a declared length over 2^14 + 256", [23, 3, 3, 0x41, 0x01], "record overflow"),
            ("garbage that fails to decrypt", [23, 3, 3, 0, 20] + [UInt8](repeating: 7, count: 20), "bad record MAC"),
        ]
        for (what, bytes, expected) in cases {
            let pair = try EmbeddedPair(server: try compactServer(), client: try clientContext(pki))
            try pair.connect()
            XCTAssertTrue(pair.serverTLS.isCompact)
            try pair.server.writeInbound(ByteBuffer(bytes: bytes))
            XCTAssertTrue(pair.serverRecorder.errors.contains { "\($0)".contains(expected) }, "\(what): \(pair.serverRecorder.errors)")
            XCTAssertFalse(pair.server.isActive, what)
            XCTAssertEqual(pair.serverRecorder.received, [], what)
            // The client reads our fatal alert (it is encrypted: the keys are intact).
            try pair.shuttle()
            XCTAssertFalse(pair.clientRecorder.errors.isEmpty, what)
        }
    }

    func testRandomBytesNeverCrashAndAlwaysClose() throws {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<100 {
            let pair = try EmbeddedPair(server: try compactServer(), client: try clientContext(pki))
            try pair.connect()
            // Sometimes a plausible header first, so lengths and types vary too.
            var bytes: [UInt8] = round % 2 == 0 ? [23, 3, 3, UInt8.random(in: 0...0x41, using: &generator), .random(in: 0...255, using: &generator)] : []
            bytes += (0..<Int.random(in: 1...20_000, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            var offset = 0
            while offset < bytes.count, pair.server.isActive {
                let chunk = min(Int.random(in: 1...4096, using: &generator), bytes.count - offset)
                try pair.server.writeInbound(ByteBuffer(bytes: bytes[offset..<offset + chunk]))
                offset += chunk
            }
            XCTAssertEqual(pair.serverRecorder.received, [], "round \(round)")
            // Either it closed with an error, or it still waits for the rest of a declared record.
            XCTAssertTrue(!pair.server.isActive || pair.serverRecorder.errors.isEmpty, "round \(round)")
        }
    }

    func testCloseNotifyBothWays() throws {
        let pair = try EmbeddedPair(server: try compactServer(), client: try clientContext(pki))
        try pair.connect()
        // Client closes its side: the server answers with its close_notify and closes.
        pair.client.close(mode: .output, promise: nil)
        try pair.shuttle()
        XCTAssertFalse(pair.server.isActive)
        XCTAssertTrue(pair.serverRecorder.errors.isEmpty, "\(pair.serverRecorder.errors)")

        // Server closes: the client reads a clean close_notify (no error).
        let other = try EmbeddedPair(server: try compactServer(), client: try clientContext(pki))
        try other.connect()
        other.server.close(promise: nil)
        try other.shuttle()
        XCTAssertTrue(other.clientRecorder.errors.isEmpty, "\(other.clientRecorder.errors)")
        XCTAssertFalse(other.client.isActive)
    }

    func testTLS12StaysWithOpenSSL() throws {
        let pair = try EmbeddedPair(server: try compactServer(), client: try clientContext(pki, versions: [.tlsv1_2]))
        try pair.connect()
        XCTAssertEqual(pair.serverRecorder.handshake?.protocolVersion, "TLSv1.2")
        XCTAssertFalse(pair.serverTLS.isCompact)
        try exchange(pair, size: 20_000)
    }

    func testChannelBindingsSurviveCompaction() throws {
        let pair = try EmbeddedPair(server: try compactServer(), client: try clientContext(pki))
        try pair.connect()
        XCTAssertTrue(pair.serverTLS.isCompact)
        let c = try XCTUnwrap(pair.clientRecorder.handshake)
        XCTAssertEqual(pair.serverTLS.tlsExporter(), c.tlsExporter)
        XCTAssertEqual(pair.serverTLS.tlsServerEndPoint(), c.tlsServerEndPoint)
    }

    func testClientCertificateHandshakeCompacts() throws {
        var options = c2sOptions(pki)
        options.verifyPeer = true
        options.cacertfile = pki.path("ca.pem")
        let pair = try EmbeddedPair(server: try compactServer(options), client: try clientContext(pki, cert: "client"))
        try pair.connect()
        XCTAssertTrue(pair.serverRecorder.handshake?.peerCertificateVerified ?? false)
        XCTAssertTrue(pair.serverTLS.isCompact)
        try exchange(pair, size: 500)
    }

    // MARK: helpers

    /// Sends `size` bytes each way and checks they arrive intact.
    func exchange(_ pair: EmbeddedPair, size: Int, chunkSize: Int? = nil, file: StaticString = #filePath, line: UInt = #line) throws {
        let up = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let down = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 1) }
        pair.serverRecorder.received = []
        pair.clientRecorder.received = []
        pair.client.writeAndFlush(ByteBuffer(bytes: up), promise: nil)
        try pair.shuttle(chunkSize: chunkSize)
        pair.server.writeAndFlush(ByteBuffer(bytes: down), promise: nil)
        try pair.shuttle(chunkSize: chunkSize)
        XCTAssertTrue(pair.serverRecorder.received == up, "server got \(pair.serverRecorder.received.count) of \(size)", file: file, line: line)
        XCTAssertTrue(pair.clientRecorder.received == down, "client got \(pair.clientRecorder.received.count) of \(size)", file: file, line: line)
        XCTAssertTrue(pair.serverRecorder.errors.isEmpty && pair.clientRecorder.errors.isEmpty,
                      "\(pair.serverRecorder.errors) \(pair.clientRecorder.errors)", file: file, line: line)
    }

    /// Everything `from` has written, delivered to `to` as one read.
    func deliverCoalesced(from: EmbeddedChannel, to: EmbeddedChannel) throws {
        var all = ByteBuffer()
        while var buffer = try from.readOutbound(as: ByteBuffer.self) { all.writeBuffer(&buffer) }
        if all.readableBytes > 0 { try to.writeInbound(all) }
    }
}
