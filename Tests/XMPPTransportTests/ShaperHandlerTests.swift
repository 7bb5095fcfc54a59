import NIOCore
import NIOEmbedded
import NIOPosix
import XCTest
@testable import XMPPTransport

/// Plays the socket at the head of an EmbeddedChannel: each `read()` that reaches it
/// delivers the next chunk of `data` on the next loop turn, like a socket with data
/// always waiting in the kernel.
final class FakeSocket: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    private var data: [UInt8]
    private let chunkSize: Int
    private var readInFlight = false
    var readCalls = 0

    init(data: [UInt8], chunkSize: Int) {
        self.data = data
        self.chunkSize = chunkSize
    }

    func read(context: ChannelHandlerContext) {
        readCalls += 1
        guard !readInFlight, !data.isEmpty else { return }
        readInFlight = true
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.eventLoop.execute { [self] in
            let context = loopBound.value
            readInFlight = false
            let n = min(chunkSize, data.count)
            var buffer = context.channel.allocator.buffer(capacity: n)
            buffer.writeBytes(data[0..<n])
            data.removeFirst(n)
            context.fireChannelRead(NIOAny(buffer))
            context.fireChannelReadComplete()
        }
    }
}

/// Collects bytes with their (virtual) arrival time and reads again after each read
/// cycle, as autoRead does.
final class TimedCollector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    var bytes: [UInt8] = []
    var arrivals: [(NIODeadline, Int)] = []
    var autoRead = true

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        bytes += buffer.readableBytesView
        arrivals.append((context.eventLoop.now, bytes.count))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if autoRead { context.read() }
    }

    func delivered(by deadline: NIODeadline) -> Int {
        arrivals.last { $0.0 <= deadline }?.1 ?? 0
    }
}

final class ShaperHandlerTests: XCTestCase {
    private func payload(_ n: Int) -> [UInt8] {
        (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
    }

    private func makeChannel(data: [UInt8], chunk: Int, rate: Int) throws
        -> (EmbeddedChannel, ShaperHandler, TimedCollector, FakeSocket) {
        let socket = FakeSocket(data: data, chunkSize: chunk)
        let shaper = ShaperHandler(maxRate: rate)
        let collector = TimedCollector()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([socket, shaper, collector])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 5222)).wait()
        return (channel, shaper, collector, socket)
    }

    /// Advances virtual time in small steps until `total` bytes arrived; returns the time taken.
    private func run(_ channel: EmbeddedChannel, _ collector: TimedCollector, total: Int,
                     step: TimeAmount = .milliseconds(10), limit: TimeAmount = .seconds(60)) -> TimeAmount {
        let start = channel.embeddedEventLoop.now
        channel.read()
        channel.embeddedEventLoop.run()
        while collector.bytes.count < total, channel.embeddedEventLoop.now - start < limit {
            channel.embeddedEventLoop.advanceTime(by: step)
        }
        return (collector.arrivals.last?.0 ?? start) - start
    }

    func test100kBAt10kBPerSecondTakesAbout10Seconds() throws {
        let data = payload(100_000)
        let (channel, shaper, collector, _) = try makeChannel(data: data, chunk: 4096, rate: 10_000)
        let start = channel.embeddedEventLoop.now
        let elapsed = run(channel, collector, total: data.count)
        XCTAssertEqual(collector.bytes, data, "every byte, in order")
        // The bucket starts with one second's worth (10 kB) of burst, as MongooseIM's
        // does; the remaining 90 kB (less the last read, delivered before its pause)
        // take ~9 s.
        let seconds = Double(elapsed.nanoseconds) / 1e9
        XCTAssertGreaterThan(seconds, 8.0)
        XCTAssertLessThan(seconds, 10.5)
        // The rate holds along the way, not just on average.
        for t in [2, 4, 6, 8] {
            let got = collector.delivered(by: start + .seconds(Int64(t)))
            let expected = 10_000 + t * 10_000
            XCTAssertLessThanOrEqual(got, expected + 4096, "at \(t) s")
            XCTAssertGreaterThanOrEqual(got, expected - 2 * 4096, "at \(t) s")
        }
        XCTAssertGreaterThan(shaper.totalPausedTime, .seconds(7))
    }

    func testNoThrottlingBelowTheRate() throws {
        let data = payload(100_000)
        let (channel, shaper, collector, _) = try makeChannel(data: data, chunk: 4096, rate: 1_000_000)
        let elapsed = run(channel, collector, total: data.count)
        XCTAssertEqual(collector.bytes, data)
        XCTAssertEqual(elapsed, .zero, "all delivered without any pause")
        XCTAssertEqual(shaper.totalPausedTime, .zero)
    }

    func testSteadyTrafficUnderTheRateIsNeverPaused() throws {
        let (channel, shaper, collector, socket) = try makeChannel(data: [], chunk: 1, rate: 10_000)
        _ = socket
        // 500 bytes every 100 ms = 5 kB/s for 20 s.
        for i in 0..<200 {
            var buffer = channel.allocator.buffer(capacity: 500)
            buffer.writeBytes(payload(500))
            channel.pipeline.fireChannelRead(buffer)
            channel.pipeline.fireChannelReadComplete()
            channel.embeddedEventLoop.advanceTime(by: .milliseconds(100))
            XCTAssertEqual(collector.bytes.count, (i + 1) * 500)
        }
        XCTAssertEqual(shaper.totalPausedTime, .zero)
    }

    func testReadsArrivingWhilePausedArePassedOnAndCounted() throws {
        let (channel, shaper, collector, socket) = try makeChannel(data: [], chunk: 1, rate: 1000)
        collector.autoRead = false
        func push(_ n: Int) {
            var buffer = channel.allocator.buffer(capacity: n)
            buffer.writeBytes(payload(n))
            channel.pipeline.fireChannelRead(buffer)
        }
        push(3000)  // 1000 of burst, 2000 in debt: paused for 2 s
        XCTAssertEqual(collector.bytes.count, 3000)
        channel.read()
        XCTAssertEqual(socket.readCalls, 0, "read held while paused")
        push(1000)  // arrives anyway (NIO had it): passed on, and pushes the pause to 3 s
        XCTAssertEqual(collector.bytes.count, 4000)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(2500))
        XCTAssertEqual(socket.readCalls, 0, "still paused: the extra 1000 bytes were counted")
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(500))
        XCTAssertEqual(socket.readCalls, 1, "the held read is issued when the debt is paid")
        XCTAssertEqual(shaper.totalPausedTime, .seconds(3))
        channel.read()
        XCTAssertEqual(socket.readCalls, 2, "no longer paused")
    }

    func testChangingTheRate() throws {
        let data = payload(100_000)
        let (channel, shaper, collector, _) = try makeChannel(data: data, chunk: 4096, rate: 10_000)
        channel.read()
        channel.embeddedEventLoop.run()
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        let early = collector.bytes.count
        XCTAssertLessThan(early, 30_000)
        shaper.setMaxRate(1_000_000)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(200))
        XCTAssertEqual(collector.bytes, data, "the faster rate applies at once")
        XCTAssertEqual(shaper.maxRate, 1_000_000)
    }

    func testRaisingTheRateWhilePausedShortensThePause() throws {
        let (channel, shaper, _, socket) = try makeChannel(data: [], chunk: 1, rate: 100)
        var buffer = channel.allocator.buffer(capacity: 1000)
        buffer.writeBytes(payload(1000))
        channel.pipeline.fireChannelRead(buffer)  // 900 bytes of debt: 9 s at 100 B/s
        channel.read()
        channel.embeddedEventLoop.advanceTime(by: .seconds(8))
        XCTAssertEqual(socket.readCalls, 0)
        shaper.setMaxRate(1_000_000)  // the last 100 bytes of debt now take 100 µs
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        XCTAssertEqual(socket.readCalls, 1)
        let paused = shaper.totalPausedTime
        XCTAssertGreaterThanOrEqual(paused, .seconds(8))
        XCTAssertLessThan(paused, .milliseconds(8001))
    }

    func testLoweringTheRateWhilePausedLengthensThePause() throws {
        let (channel, shaper, _, socket) = try makeChannel(data: [], chunk: 1, rate: 1000)
        var buffer = channel.allocator.buffer(capacity: 3000)
        buffer.writeBytes(payload(3000))
        channel.pipeline.fireChannelRead(buffer)  // 2000 bytes of debt: 2 s
        channel.read()
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        shaper.setMaxRate(100)  // the remaining 1000 bytes take 10 s
        channel.embeddedEventLoop.advanceTime(by: .seconds(9))
        XCTAssertEqual(socket.readCalls, 0)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        XCTAssertEqual(socket.readCalls, 1)
    }

    func testRemovalReleasesAHeldRead() throws {
        let (channel, shaper, _, socket) = try makeChannel(data: [], chunk: 1, rate: 100)
        var buffer = channel.allocator.buffer(capacity: 1000)
        buffer.writeBytes(payload(1000))
        channel.pipeline.fireChannelRead(buffer)
        channel.read()
        XCTAssertEqual(socket.readCalls, 0)
        try channel.pipeline.syncOperations.removeHandler(shaper).wait()
        XCTAssertEqual(socket.readCalls, 1)
        channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        XCTAssertEqual(socket.readCalls, 1, "no stray wake-up after removal")
    }

    /// The same over a real TCP connection with autoRead: the shaper must hold NIO's
    /// own reads. 1.2 MB at 400 kB/s: 400 kB of burst, then ~2 s, less the last read
    /// cycle, delivered before its pause (NIO reads up to 4 x 64 kB per cycle).
    func testRealLoopbackIsThrottled() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let total = 1_200_000
        let done = group.next().makePromise(of: (TimeAmount, [UInt8]).self)
        final class Sink: ChannelInboundHandler, @unchecked Sendable {
            typealias InboundIn = ByteBuffer
            var received: [UInt8] = []
            var start: NIODeadline?
            let total: Int
            let done: EventLoopPromise<(TimeAmount, [UInt8])>
            init(total: Int, done: EventLoopPromise<(TimeAmount, [UInt8])>) { self.total = total; self.done = done }
            func channelRead(context: ChannelHandlerContext, data: NIOAny) {
                if start == nil { start = .now() }
                received += unwrapInboundIn(data).readableBytesView
                if received.count == total { done.succeed((.now() - start!, received)) }
            }
        }
        let server = try ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([ShaperHandler(maxRate: 400_000),
                                                                     Sink(total: total, done: done)])
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        defer { try? server.close().wait() }
        let client = try ClientBootstrap(group: group).connect(to: server.localAddress!).wait()
        defer { try? client.close().wait() }
        let data = payload(total)
        var buffer = client.allocator.buffer(capacity: total)
        buffer.writeBytes(data)
        try client.writeAndFlush(buffer).wait()
        let (elapsed, received) = try done.futureResult.wait()
        let seconds = Double(elapsed.nanoseconds) / 1e9
        XCTAssertGreaterThan(seconds, 1.2)
        XCTAssertLessThan(seconds, 4.0)
        XCTAssertEqual(received, data)
    }
}
