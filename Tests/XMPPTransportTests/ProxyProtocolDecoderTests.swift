import NIOCore
import NIOEmbedded
import XCTest
@testable import XMPPTransport

/// Records what gets past the decoder.
final class InboundRecorder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    var events: [Any] = []
    var errors: [Error] = []
    var bytes: [UInt8] = []
    var reads = 0
    var largestRead = 0
    var chunks: [[UInt8]] = []

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        reads += 1
        largestRead = max(largestRead, buffer.readableBytes)
        chunks.append(Array(buffer.readableBytesView))
        bytes += buffer.readBytes(length: buffer.readableBytes)!
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        events.append(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        errors.append(error)
    }

    var headers: [ProxyProtocolHeader] { events.compactMap { $0 as? ProxyProtocolHeader } }
}

final class ProxyProtocolDecoderTests: XCTestCase {
    private var channel: EmbeddedChannel!
    private var recorder: InboundRecorder!

    override func setUp() {
        recorder = InboundRecorder()
        channel = EmbeddedChannel()
        try! channel.pipeline.syncOperations.addHandler(ProxyProtocolDecoder())
        try! channel.pipeline.syncOperations.addHandler(recorder)
        try! channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 5222)).wait()
    }

    override func tearDown() {
        _ = try? channel.finish()
    }

    private func send(_ bytes: [UInt8]) {
        var buffer = channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        _ = try? channel.writeInbound(buffer)
    }

    private func send(_ string: String) { send(Array(string.utf8)) }

    private var decoderPresent: Bool {
        (try? channel.pipeline.syncOperations.handler(type: ProxyProtocolDecoder.self)) != nil
    }

    private func assertRejected(_ input: [UInt8], kind: ProxyProtocolError.Kind, contains: String? = nil,
                                file: StaticString = #filePath, line: UInt = #line) {
        send(input)
        XCTAssertFalse(channel.isActive, "connection not closed", file: file, line: line)
        XCTAssertEqual(recorder.bytes, [], "application bytes leaked", file: file, line: line)
        XCTAssertEqual(recorder.headers, [], file: file, line: line)
        guard let error = recorder.errors.first as? ProxyProtocolError else {
            return XCTFail("no ProxyProtocolError: \(recorder.errors)", file: file, line: line)
        }
        XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: line)
        if let contains {
            XCTAssertTrue(error.description.contains(contains), "\(error) lacks \(contains)", file: file, line: line)
        }
    }

    private func assertRejected(_ input: String, kind: ProxyProtocolError.Kind, contains: String? = nil,
                                file: StaticString = #filePath, line: UInt = #line) {
        assertRejected(Array(input.utf8), kind: kind, contains: contains, file: file, line: line)
    }

    // MARK: v1

    func testV1TCP4() throws {
        send("PROXY TCP4 192.0.2.1 198.51.100.7 56324 5222\r\n<stream:stream>")
        XCTAssertEqual(recorder.headers, [.proxy(version: .v1,
                                                 source: try SocketAddress(ipAddress: "192.0.2.1", port: 56324),
                                                 destination: try SocketAddress(ipAddress: "198.51.100.7", port: 5222))])
        XCTAssertEqual(String(decoding: recorder.bytes, as: UTF8.self), "<stream:stream>")
        XCTAssertFalse(decoderPresent)
        XCTAssertTrue(channel.isActive)
    }

    func testV1TCP6() throws {
        send("PROXY TCP6 2001:db8::1 ::ffff:192.0.2.9 65535 0\r\n")
        XCTAssertEqual(recorder.headers, [.proxy(version: .v1,
                                                 source: try SocketAddress(ipAddress: "2001:db8::1", port: 65535),
                                                 destination: try SocketAddress(ipAddress: "::ffff:192.0.2.9", port: 0))])
        XCTAssertEqual(recorder.bytes, [])
        XCTAssertFalse(decoderPresent)
    }

    func testV1Unknown() {
        send("PROXY UNKNOWN\r\nabc")
        XCTAssertEqual(recorder.headers, [.local(version: .v1)])
        XCTAssertEqual(recorder.bytes, Array("abc".utf8))
    }

    func testV1UnknownWithTrailingFieldsIgnored() {
        send("PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n")
        XCTAssertEqual(recorder.headers, [.local(version: .v1)])
    }

    func testV1LongestValidHeader() throws {
        let line = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"
        XCTAssertEqual(line.utf8.count, 104)
        send(line)
        XCTAssertEqual(recorder.headers.count, 1)
    }

    func testV1SplitAcrossManyReads() throws {
        let text = "PROXY TCP4 10.0.0.1 10.0.0.2 1234 5222\r\n<stream:stream to='example.com'>"
        let headerLength = Array(text.utf8).firstIndex(of: 0x0A)! + 1
        for (i, byte) in text.utf8.enumerated() {
            XCTAssertEqual(recorder.headers.count, i < headerLength ? 0 : 1)
            send([byte])
        }
        XCTAssertEqual(recorder.headers.count, 1)
        XCTAssertEqual(recorder.headers.first?.source, try SocketAddress(ipAddress: "10.0.0.1", port: 1234))
        XCTAssertEqual(String(decoding: recorder.bytes, as: UTF8.self), "<stream:stream to='example.com'>")
    }

    func testBytesAfterHeaderPassedOnIntactAcrossReads() {
        var payload = [UInt8]()
        for i in 0..<3000 { payload.append(UInt8(truncatingIfNeeded: i &* 7)) }
        send(Array("PROXY UNKNOWN\r\n".utf8) + payload[0..<100])
        send(Array(payload[100...]))
        XCTAssertEqual(recorder.bytes, payload)
    }

    func testMissingHeaderXMLFirst() {
        assertRejected("<stream:stream xmlns='jabber:client' to='example.com'>", kind: .missingHeader,
                       contains: "missing PROXY header: got \"<stream:stream")
    }

    func testGarbage() {
        assertRejected([0x16, 0x03, 0x01, 0x02, 0x00], kind: .missingHeader)
    }

    func testMissingHeaderDetectedOnFirstByte() {
        assertRejected("x", kind: .missingHeader)
    }

    func testV1TooLong() {
        let line = "PROXY UNKNOWN " + String(repeating: "a", count: 100) + "\r\n"
        assertRejected(line, kind: .invalidV1, contains: "107")
    }

    func testV1TooLongWithoutCRLFRejectedAt107Bytes() {
        let line = "PROXY TCP4 " + String(repeating: "1", count: 96)
        XCTAssertEqual(line.utf8.count, 107)
        assertRejected(line, kind: .invalidV1)
    }

    func testV1BadAddressesAndPorts() {
        let cases: [(String, String)] = [
            ("PROXY TCP4 999.1.1.1 10.0.0.2 1 2\r\n", "PROXY v1: bad source address \"999.1.1.1\""),
            ("PROXY TCP4 10.0.0.1 10.0.0 1 2\r\n", "bad destination address"),
            ("PROXY TCP4 010.0.0.1 10.0.0.2 1 2\r\n", "bad source address"),
            ("PROXY TCP4 ::1 ::1 1 2\r\n", "bad source address"),
            ("PROXY TCP6 10.0.0.1 ::1 1 2\r\n", "bad source address"),
            ("PROXY TCP6 ::1 2001:db8::zz 1 2\r\n", "bad destination address"),
            ("PROXY TCP4 10.0.0.1 10.0.0.2 65536 2\r\n", "bad source port"),
            ("PROXY TCP4 10.0.0.1 10.0.0.2 1 -2\r\n", "bad destination port"),
            ("PROXY TCP4 10.0.0.1 10.0.0.2 01 2\r\n", "bad source port"),
            ("PROXY TCP4 10.0.0.1 10.0.0.2 1\r\n", "expected"),
            ("PROXY TCP4 10.0.0.1  10.0.0.2 1 2\r\n", "expected"),
            ("PROXY UDP4 10.0.0.1 10.0.0.2 1 2\r\n", "unknown protocol"),
            ("PROXY TCP4 10.0.0.1 10.0.0.2 1 2\n", "bare LF"),
            ("PROXY TCP4 10.0.0.1\r10.0.0.2 1 2\r\n", "CR not followed by LF"),
        ]
        for (input, message) in cases {
            setUp()
            assertRejected(input, kind: .invalidV1, contains: message)
            tearDown()
        }
    }

    // MARK: v2

    private func v2(_ verCmd: UInt8, _ family: UInt8, _ body: [UInt8]) -> [UInt8] {
        ProxyProtocolHeader.v2Signature + [verCmd, family, UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
    }

    func testV2TCP4WithTLVs() throws {
        let header = ProxyProtocolHeader.proxy(version: .v2,
                                               source: try SocketAddress(ipAddress: "203.0.113.5", port: 40000),
                                               destination: try SocketAddress(ipAddress: "192.0.2.10", port: 5222))
        var encoded = try header.encoded(tlvs: [(type: 0x01, value: Array("xmpp-client".utf8)), (type: 0x04, value: [])])
        encoded.writeString("<?xml version='1.0'?>")
        send(Array(encoded.readableBytesView))
        XCTAssertEqual(recorder.headers, [header])
        XCTAssertEqual(String(decoding: recorder.bytes, as: UTF8.self), "<?xml version='1.0'?>")
        XCTAssertFalse(decoderPresent)
    }

    func testV2TCP6() throws {
        let header = ProxyProtocolHeader.proxy(version: .v2,
                                               source: try SocketAddress(ipAddress: "2001:db8::5", port: 1),
                                               destination: try SocketAddress(ipAddress: "2001:db8:1::a", port: 5269))
        send(Array(try header.encoded().readableBytesView))
        XCTAssertEqual(recorder.headers, [header])
    }

    func testV2LocalIgnoresAddressBlock() {
        // LOCAL with a TCP4 address block and a TLV: the block is skipped.
        let body: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2] + [0xEE, 0, 1, 0x42]
        send(v2(0x20, 0x11, body) + Array("hi".utf8))
        XCTAssertEqual(recorder.headers, [.local(version: .v2)])
        XCTAssertEqual(recorder.bytes, Array("hi".utf8))
    }

    func testV2LocalEncoded() throws {
        send(Array(try ProxyProtocolHeader.local(version: .v2).encoded().readableBytesView))
        XCTAssertEqual(recorder.headers, [.local(version: .v2)])
    }

    func testV2ProxyUnspecWithTLV() {
        send(v2(0x21, 0x00, [0x04, 0, 3, 1, 2, 3]) + [0x3C])
        XCTAssertEqual(recorder.headers, [ProxyProtocolHeader(version: .v2, command: .proxy, source: nil, destination: nil)])
        XCTAssertEqual(recorder.bytes, [0x3C])
    }

    func testV2SplitAcrossManyReads() throws {
        let header = ProxyProtocolHeader.proxy(version: .v2,
                                               source: try SocketAddress(ipAddress: "2001:db8::5", port: 1),
                                               destination: try SocketAddress(ipAddress: "2001:db8:1::a", port: 5269))
        var encoded = try header.encoded(tlvs: [(type: 0x05, value: Array(repeating: 7, count: 300))])
        encoded.writeString("<stream/>")
        let headerLength = encoded.readableBytes - 9
        for (i, byte) in encoded.readableBytesView.enumerated() {
            XCTAssertEqual(recorder.headers.count, i < headerLength ? 0 : 1)
            send([byte])
        }
        XCTAssertEqual(recorder.headers, [header])
        XCTAssertEqual(recorder.bytes, Array("<stream/>".utf8))
    }

    func testV2BadVersion() {
        assertRejected(v2(0x11, 0x11, Array(repeating: 0, count: 12)), kind: .invalidV2, contains: "bad version 1")
    }

    func testV2BadCommand() {
        assertRejected(v2(0x22, 0x11, Array(repeating: 0, count: 12)), kind: .invalidV2, contains: "bad command")
    }

    func testV2AbsurdLengthRejectedBeforeBuffering() {
        // Declares 60000 bytes: rejected on the 16-byte header alone.
        let head = ProxyProtocolHeader.v2Signature + [0x21, 0x11, 0xEA, 0x60]
        assertRejected(head, kind: .invalidV2, contains: "length 60000")
    }

    func testV2LengthLimitBoundary() throws {
        // 12 address bytes + a TLV filling up to exactly 4096 is accepted...
        let tlv: [UInt8] = [0x05] + [UInt8((4096 - 15) >> 8), UInt8((4096 - 15) & 0xFF)] + Array(repeating: 1, count: 4096 - 15)
        send(v2(0x21, 0x11, [10, 0, 0, 1, 10, 0, 0, 2, 0, 1, 0, 2] + tlv))
        XCTAssertEqual(recorder.headers.count, 1)
        XCTAssertEqual(recorder.headers.first?.source, try SocketAddress(ipAddress: "10.0.0.1", port: 1))
        // ... one byte more is not.
        setUp()
        assertRejected(ProxyProtocolHeader.v2Signature + [0x21, 0x11, 0x10, 0x01], kind: .invalidV2, contains: "4097")
    }

    func testV2LengthLimitConfigurable() throws {
        let recorder = InboundRecorder()
        let channel = EmbeddedChannel(handlers: [ProxyProtocolDecoder(maxV2Length: 100), recorder])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        var buffer = channel.allocator.buffer(capacity: 16)
        buffer.writeBytes(ProxyProtocolHeader.v2Signature + [0x21, 0x11, 0x00, 0x65])
        _ = try? channel.writeInbound(buffer)
        XCTAssertFalse(channel.isActive)
        XCTAssertEqual((recorder.errors.first as? ProxyProtocolError)?.kind, .invalidV2)
    }

    func testV2LengthTooShortForAddresses() {
        assertRejected(v2(0x21, 0x21, Array(repeating: 0, count: 12)), kind: .invalidV2, contains: "too short")
    }

    func testV2TruncatedTLV() {
        assertRejected(v2(0x21, 0x11, Array(repeating: 0, count: 12) + [0x01, 0x00, 0x05, 1]), kind: .invalidV2, contains: "TLV")
    }

    func testV2UnsupportedFamily() {
        assertRejected(v2(0x21, 0x12, Array(repeating: 0, count: 12)), kind: .invalidV2, contains: "family")
    }

    func testV2BadSignature() {
        assertRejected([0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0D], kind: .missingHeader)
    }

    // MARK: timeout and lifecycle

    func testTimeoutCloses() throws {
        send("PROXY TCP4 10.0.0.1")
        channel.embeddedEventLoop.advanceTime(by: .seconds(4))
        XCTAssertTrue(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        XCTAssertFalse(channel.isActive)
        XCTAssertEqual((recorder.errors.first as? ProxyProtocolError)?.kind, .timeout)
        XCTAssertEqual(recorder.bytes, [])
    }

    func testTimeoutWithNoBytesAtAll() {
        channel.embeddedEventLoop.advanceTime(by: .seconds(5))
        XCTAssertFalse(channel.isActive)
        XCTAssertEqual((recorder.errors.first as? ProxyProtocolError)?.kind, .timeout)
    }

    func testNoTimeoutAfterHeader() {
        send("PROXY UNKNOWN\r\n")
        channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        XCTAssertTrue(channel.isActive)
        XCTAssertEqual(recorder.errors.count, 0)
    }

    func testConfigurableTimeout() throws {
        let channel = EmbeddedChannel(handler: ProxyProtocolDecoder(timeout: .milliseconds(300)))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(299))
        XCTAssertTrue(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        XCTAssertFalse(channel.isActive)
    }

    func testNothingPassesAfterFailure() {
        send("GET / HTTP/1.1\r\n")
        XCTAssertFalse(channel.isActive)
        XCTAssertEqual(recorder.bytes, [])
    }

    // MARK: encoders

    func testV1EncoderOutput() throws {
        let header = ProxyProtocolHeader.proxy(version: .v1,
                                               source: try SocketAddress(ipAddress: "192.0.2.1", port: 1),
                                               destination: try SocketAddress(ipAddress: "192.0.2.2", port: 2))
        XCTAssertEqual(String(buffer: try header.encoded()), "PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\n")
        XCTAssertEqual(String(buffer: try ProxyProtocolHeader.local(version: .v1).encoded()), "PROXY UNKNOWN\r\n")
        let mixed = ProxyProtocolHeader.proxy(version: .v1,
                                              source: try SocketAddress(ipAddress: "192.0.2.1", port: 1),
                                              destination: try SocketAddress(ipAddress: "::1", port: 2))
        XCTAssertThrowsError(try mixed.encoded())
    }

    func testParserRoundTrip() throws {
        for version in [ProxyProtocolHeader.Version.v1, .v2] {
            let header = ProxyProtocolHeader.proxy(version: version,
                                                   source: try SocketAddress(ipAddress: "::1", port: 5),
                                                   destination: try SocketAddress(ipAddress: "fe80::1", port: 6))
            let encoded = try header.encoded()
            XCTAssertEqual(try ProxyProtocolParser.parse(encoded), .header(header, length: encoded.readableBytes))
            XCTAssertEqual(try ProxyProtocolParser.parse(encoded.getSlice(at: 0, length: encoded.readableBytes - 1)!),
                           .needMoreData)
        }
    }
}
