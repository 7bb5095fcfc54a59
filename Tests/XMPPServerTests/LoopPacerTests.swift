import NIOCore
import NIOPosix
import XCTest
@testable import XMPPServer

/// The pacer's two promises: a loop reading fast waits out the rest of its interval
/// at the end of a tick, and a loop reading slowly never waits.
final class LoopPacerTests: XCTestCase {
    private let window = TimeAmount.milliseconds(20)

    func testABusyLoopPollsAtMostOncePerIntervalAndAQuietOneAtOnce() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        let pacer = LoopPacer(eventLoop: loop, window: window)

        // 500 reads in one tick, then one more after the 10 ms measuring period:
        // far above 10,000 reads a second, so the tick that measures it is paced.
        try loop.submit { for _ in 0..<500 { pacer.noteRead() } }.wait()
        usleep(12_000)
        let busyTick = try timeOfTick(on: loop, pacer)
        XCTAssertTrue(try loop.submit { pacer.isPacing }.wait())
        XCTAssertGreaterThanOrEqual(busyTick, .milliseconds(15), "the tick waited for the rest of its interval")

        // One read in 40 ms is quiet: the next measurement turns pacing off.
        usleep(40_000)
        _ = try timeOfTick(on: loop, pacer)
        XCTAssertFalse(try loop.submit { pacer.isPacing }.wait())
    }

    func testAZeroIntervalNeverPaces() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        let pacer = LoopPacer(eventLoop: loop, window: .zero)
        try loop.submit { for _ in 0..<500 { pacer.noteRead() } }.wait()
        usleep(12_000)
        _ = try timeOfTick(on: loop, pacer)
        XCTAssertFalse(try loop.submit { pacer.isPacing }.wait())
    }

    /// A tick with one read, until the tasks it queued (the pacer's end of tick) ran.
    private func timeOfTick(on loop: EventLoop, _ pacer: LoopPacer) throws -> TimeAmount {
        let start = NIODeadline.now()
        try loop.submit { pacer.noteRead() }.wait()
        // Two hops through the task queue, as the pacer's end of tick takes: the
        // inner task runs after it.
        try loop.submit { loop.submit {} }.wait().wait()
        return NIODeadline.now() - start
    }
}
