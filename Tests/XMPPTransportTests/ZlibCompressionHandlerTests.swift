import NIOCore
import NIOEmbedded
import XCTest
@testable import XMPPTransport

final class ZlibCompressionHandlerTests: XCTestCase {
    /// One end of a compressed connection: what is written comes out deflated from
    /// readOutbound; what is fed with writeInbound reaches `recorder` inflated.
    struct End {
        let channel: EmbeddedChannel
        let handler: ZlibCompressionHandler
        let recorder: InboundRecorder

        init(cap: Int = 65536, windowBits: Int = 12, memLevel: Int = 5) throws {
            handler = ZlibCompressionHandler(maxInflatedBytesPerRead: cap, deflateWindowBits: windowBits, deflateMemLevel: memLevel)
            recorder = InboundRecorder()
            channel = EmbeddedChannel()
            try channel.pipeline.syncOperations.addHandler(handler)
            try channel.pipeline.syncOperations.addHandler(recorder)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 5222)).wait()
        }

        /// Writes and flushes `bytes`; returns what went out on the wire.
        func send(_ bytes: [UInt8]) throws -> [UInt8] {
            var buffer = channel.allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            try channel.writeAndFlush(buffer).wait()
            return drainOutbound()
        }

        func send(_ text: String) throws -> [UInt8] { try send(Array(text.utf8)) }

        func drainOutbound() -> [UInt8] {
            var out: [UInt8] = []
            while let buffer = try? channel.readOutbound(as: ByteBuffer.self) {
                out += buffer.readableBytesView
            }
            return out
        }

        func receive(_ bytes: [UInt8]) {
            var buffer = channel.allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            _ = try? channel.writeInbound(buffer)
        }
    }

    private func stanza(_ i: Int) -> String {
        "<message from='user\(i % 17)@example.com/res' to='friend\(i % 5)@example.net' type='chat' id='m\(i)'>"
            + "<body>Hello number \(i)! " + String(repeating: "lorem ipsum ", count: i % 13) + "</body>"
            + "<active xmlns='http://jabber.org/protocol/chatstates'/></message>"
    }

    func testRoundTripManyStanzasBothWays() throws {
        let client = try End(windowBits: 15, memLevel: 8)  // a peer with zlib's defaults
        let server = try End()
        var sentToServer: [UInt8] = []
        var sentToClient: [UInt8] = []
        var wire = 0
        for i in 0..<1000 {
            let up = Array(stanza(i).utf8)
            sentToServer += up
            let compressedUp = try client.send(up)
            wire += compressedUp.count
            server.receive(compressedUp)

            let down = Array(stanza(i * 3 + 1).utf8)
            sentToClient += down
            client.receive(try server.send(down))
        }
        XCTAssertEqual(server.recorder.bytes, sentToServer)
        XCTAssertEqual(client.recorder.bytes, sentToClient)
        XCTAssertEqual(server.recorder.errors.count, 0)
        XCTAssertEqual(client.recorder.errors.count, 0)
        XCTAssertLessThan(wire, sentToServer.count / 3, "compression should pay off on stanzas")
    }

    func testSyncFlushMakesEachWriteDecodableAtOnce() throws {
        let server = try End()
        let client = try End()
        for i in 0..<200 {
            let text = stanza(i)
            let wire = try server.send(text)
            XCTAssertFalse(wire.isEmpty)
            // Z_SYNC_FLUSH ends every flush on the empty stored block 00 00 ff ff.
            XCTAssertEqual(Array(wire.suffix(4)), [0x00, 0x00, 0xFF, 0xFF])
            let before = client.recorder.bytes.count
            client.receive(wire)
            XCTAssertEqual(String(decoding: client.recorder.bytes[before...], as: UTF8.self), text)
        }
    }

    func testWritesWithoutFlushAreHeldThenSentAsOneBuffer() throws {
        let server = try End()
        let client = try End()
        var promises: [EventLoopFuture<Void>] = []
        for i in 0..<10 {
            var buffer = server.channel.allocator.buffer(capacity: 0)
            buffer.writeString(stanza(i))
            promises.append(server.channel.write(buffer))
        }
        XCTAssertNil(try server.channel.readOutbound(as: ByteBuffer.self))
        server.channel.flush()
        var outbound: [ByteBuffer] = []
        while let buffer = try server.channel.readOutbound(as: ByteBuffer.self) { outbound.append(buffer) }
        XCTAssertEqual(outbound.count, 1)
        for promise in promises { XCTAssertNoThrow(try promise.wait()) }
        client.receive(Array(outbound[0].readableBytesView))
        XCTAssertEqual(String(decoding: client.recorder.bytes, as: UTF8.self), (0..<10).map(stanza).joined())
    }

    func testSplitCompressedInputAcrossReads() throws {
        let server = try End()
        let client = try End()
        let text = (0..<50).map(stanza).joined()
        let wire = try client.send(text)
        for byte in wire { server.receive([byte]) }
        XCTAssertEqual(String(decoding: server.recorder.bytes, as: UTF8.self), text)
    }

    /// 10 MB of zeros deflate to ~10 KB; sent in one write, they must be cut at the cap
    /// without the handler ever holding more than the cap.
    func testBombIsCutAtTheCapWithoutAllocatingBeyondIt() throws {
        let cap = 10_000
        let attacker = try End()
        let zeros = [UInt8](repeating: 0, count: 10 * 1024 * 1024)
        let bomb = try attacker.send(zeros)
        XCTAssertLessThan(bomb.count, 20_000)

        let server = try End(cap: cap)
        server.receive(bomb)
        XCTAssertEqual(server.recorder.errors as? [ZlibError], [.inflatedSizeLimitExceeded(limit: cap)])
        XCTAssertLessThanOrEqual(server.recorder.largestRead, cap)
        XCTAssertEqual(server.recorder.bytes.count, 0, "nothing of an oversized read is passed on")
        XCTAssertLessThanOrEqual(server.handler.peakInflateAllocation, cap)
        XCTAssertGreaterThan(server.handler.peakInflateAllocation, 0)
        // Later input is discarded: the stream is dead.
        server.receive(try attacker.send("<message/>"))
        XCTAssertEqual(server.recorder.bytes.count, 0)
        XCTAssertEqual(server.recorder.errors.count, 1)
        XCTAssertEqual(server.handler.zlibMemoryInUse, 0, "the inflater is released after the error")
        // The stream error still goes out compressed, as XEP-0138 requires.
        let streamError = "<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"
        attacker.receive(try server.send(streamError))
        XCTAssertEqual(String(decoding: attacker.recorder.bytes, as: UTF8.self), streamError)
    }

    func testBombInSmallReadsIsCutToo() throws {
        let cap = 4096
        let attacker = try End()
        let bomb = try attacker.send([UInt8](repeating: 0, count: 1024 * 1024))
        let server = try End(cap: cap)
        var offset = 0
        while offset < bomb.count, server.recorder.errors.isEmpty {
            server.receive(Array(bomb[offset..<min(bomb.count, offset + 100)]))
            offset += 100
        }
        XCTAssertEqual(server.recorder.errors as? [ZlibError], [.inflatedSizeLimitExceeded(limit: cap)])
        XCTAssertLessThanOrEqual(server.recorder.largestRead, cap)
        XCTAssertLessThanOrEqual(server.handler.peakInflateAllocation, cap)
    }

    func testReadInflatingToExactlyTheCapPasses() throws {
        let cap = 5000
        let client = try End()
        let payload = [UInt8](repeating: UInt8(ascii: "a"), count: cap)
        let server = try End(cap: cap)
        server.receive(try client.send(payload))
        XCTAssertEqual(server.recorder.errors.count, 0)
        XCTAssertEqual(server.recorder.bytes, payload)
        XCTAssertLessThanOrEqual(server.handler.peakInflateAllocation, cap)
        // And one byte more in one read is refused.
        server.receive(try client.send(payload + [0x61]))
        XCTAssertEqual(server.recorder.errors as? [ZlibError], [.inflatedSizeLimitExceeded(limit: cap)])
    }

    func testCorruptInputIsAnError() throws {
        let server = try End()
        server.receive(Array("<stream:stream to='example.com'>".utf8))
        guard case .corrupt(let message)? = server.recorder.errors.first as? ZlibError else {
            return XCTFail("expected corrupt, got \(server.recorder.errors)")
        }
        XCTAssertFalse(message.isEmpty)
        XCTAssertEqual(server.recorder.bytes, [])
        XCTAssertEqual(server.recorder.errors.count, 1)
    }

    func testCorruptionMidStream() throws {
        let client = try End()
        let server = try End()
        server.receive(try client.send(stanza(1)))
        var wire = try client.send(stanza(2))
        wire[wire.count / 2] ^= 0xFF
        wire[wire.count / 2 + 1] ^= 0x55
        server.receive(wire + [0xFF, 0xFF, 0xFF, 0xFF])
        server.receive(try client.send(stanza(3)))
        XCTAssertTrue(server.recorder.errors.contains { if case .corrupt = $0 as? ZlibError { return true }; return false },
                      "\(server.recorder.errors)")
    }

    func testStreamsReleasedOnRemovalAndClose() throws {
        let server = try End()
        let client = try End()
        server.receive(try client.send(stanza(1)))
        _ = try server.send(stanza(2))
        XCTAssertGreaterThan(server.handler.zlibMemoryInUse, 0)
        try server.channel.pipeline.syncOperations.removeHandler(server.handler).wait()
        XCTAssertEqual(server.handler.zlibMemoryInUse, 0)

        let other = try End()
        other.receive(try client.send(stanza(3)))
        _ = try other.send(stanza(4))
        XCTAssertGreaterThan(other.handler.zlibMemoryInUse, 0)
        _ = try other.channel.finish()
        XCTAssertEqual(other.handler.zlibMemoryInUse, 0)
    }

    func testUnflushedWritesFailOnClose() throws {
        let server = try End()
        var buffer = server.channel.allocator.buffer(capacity: 0)
        buffer.writeString("<presence/>")
        let future = server.channel.write(buffer)
        _ = try server.channel.finish()
        XCTAssertThrowsError(try future.wait())
    }

    /// Measures what zlib holds per connection, for the notes in ZlibCompressionHandler.
    func testMemoryPerConnection() throws {
        func measure(windowBits: Int, memLevel: Int) throws -> (idle: Int, afterTraffic: Int, ratio: Double) {
            let server = try End(windowBits: windowBits, memLevel: memLevel)
            let client = try End()
            var plain = 0, wire = 0
            for i in 0..<300 {
                let text = stanza(i)
                plain += text.utf8.count
                let compressed = try server.send(text)
                wire += compressed.count
                client.receive(compressed)
            }
            let afterOutbound = server.handler.zlibMemoryInUse
            server.receive(try client.send(stanza(1)))
            return (afterOutbound, server.handler.zlibMemoryInUse, Double(wire) / Double(plain))
        }
        let small = try measure(windowBits: 12, memLevel: 5)
        let zlibDefault = try measure(windowBits: 15, memLevel: 8)
        print("zlib per connection: deflate wb12/ml5 \(small.idle) B, + inflate \(small.afterTraffic) B, ratio \(small.ratio); "
              + "deflate wb15/ml8 \(zlibDefault.idle) B, + inflate \(zlibDefault.afterTraffic) B, ratio \(zlibDefault.ratio)")
        XCTAssertLessThan(small.idle, 48 * 1024)
        XCTAssertLessThan(small.afterTraffic, 96 * 1024)
        XCTAssertGreaterThan(zlibDefault.idle, 200 * 1024)
        XCTAssertLessThan(small.ratio, 0.5)
    }
}
