// Inbound traffic shaping, as MongooseIM's shapers do it (mongoose_shaper): a token
// bucket of `maxRate` bytes per second, holding at most one second's worth of tokens
// (the allowed burst), starting full. Every inbound byte takes a token; when the bucket
// goes into debt the connection stops reading until the debt is paid back, which lets
// TCP flow control push back on the client. Data is never dropped or delayed in the
// pipeline: only the next `read()` is held.
//
// Place it anywhere below the stream handler (it counts whatever bytes pass it: put it
// under the zlib handler to shape wire bytes, as MongooseIM does). With autoRead on,
// NIO issues `read()` after each read cycle; this handler holds that call while paused
// and issues it when the debt is paid. Bytes NIO delivers while paused (it may already
// have a read in flight) are passed on and counted, pushing the pause further.
//
// Burst size: NIO reads up to `maxMessagesPerRead` (default 4) times the receive buffer
// (adaptive, up to 64 KB) per read cycle, all of which is passed on and then paid for
// with a longer pause. The long-term rate is exact; the largest burst is one read cycle.
// For low rates (MongooseIM's "normal" shaper is 1000 B/s), configure listener channels
// with a smaller `maxMessagesPerRead` / receive allocator to keep bursts small.
//
// Cost when not throttling: one clock read and a little arithmetic per channelRead, a
// flag test per read(). No allocation, no timers.

import NIOCore

public final class ShaperHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    /// Bytes per second.
    public private(set) var maxRate: Int
    /// Available tokens (bytes); negative while in debt.
    private var tokens: Double
    private var lastUpdate: NIODeadline?
    /// While non-nil, reads are held until this time.
    private var pausedUntil: NIODeadline?
    private var readPending = false
    private var resumeTask: Scheduled<Void>?
    private var context: ChannelHandlerContext?

    /// Total time reads have been held, for metrics and tests.
    public private(set) var totalPausedTime: TimeAmount = .zero

    public init(maxRate: Int) {
        precondition(maxRate > 0, "maxRate must be positive")
        self.maxRate = maxRate
        self.tokens = Double(maxRate)
    }

    /// Changes the rate (e.g. after a config reload). Must be called on the channel's
    /// event loop. A current pause is re-timed for the new rate.
    public func setMaxRate(_ rate: Int) {
        precondition(rate > 0, "maxRate must be positive")
        if let context {
            context.eventLoop.preconditionInEventLoop()
            refill(now: context.eventLoop.now)  // tokens earned so far, at the old rate
        }
        maxRate = rate
        tokens = min(tokens, Double(rate))
        if pausedUntil != nil, let context {
            // Re-time the pause: the remaining debt is paid at the new rate.
            let now = context.eventLoop.now
            endPause(now: now)
            updatePause(context: context, now: now)
            if pausedUntil == nil && readPending {
                readPending = false
                context.read()
            }
        }
    }

    /// Changes the rate from any thread.
    public static func setMaxRate(_ rate: Int, on channel: Channel) -> EventLoopFuture<Void> {
        channel.pipeline.handler(type: ShaperHandler.self).map { $0.setMaxRate(rate) }
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        resumeTask?.cancel()
        resumeTask = nil
        pausedUntil = nil
        self.context = nil
        if readPending {
            readPending = false
            context.read()
        }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        resumeTask?.cancel()
        resumeTask = nil
        readPending = false
        context.fireChannelInactive()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data).readableBytes
        let now = context.eventLoop.now
        refill(now: now)
        tokens -= Double(bytes)
        if tokens < 0 { updatePause(context: context, now: now) }
        context.fireChannelRead(data)
    }

    public func read(context: ChannelHandlerContext) {
        if let until = pausedUntil {
            let now = context.eventLoop.now
            if now < until {
                readPending = true
                return
            }
            endPause(now: now)
        }
        context.read()
    }

    private func refill(now: NIODeadline) {
        if let last = lastUpdate, now > last {
            let elapsed = Double((now - last).nanoseconds) / 1e9
            tokens = min(Double(maxRate), tokens + elapsed * Double(maxRate))
        }
        lastUpdate = now
    }

    /// In debt: (re)compute when reading may resume and make sure a wake-up is scheduled.
    private func updatePause(context: ChannelHandlerContext, now: NIODeadline) {
        guard tokens < 0 else { return }
        let delay = TimeAmount.nanoseconds(Int64((-tokens / Double(maxRate) * 1e9).rounded(.up)))
        let until = now + delay
        if pausedUntil == nil {
            pausedUntil = until
            pauseStart = now
            schedule(context: context, at: until)
        } else if until > pausedUntil! {
            // Stays scheduled for the earlier time; the wake-up re-checks and re-arms.
            pausedUntil = until
        }
    }

    private var pauseStart: NIODeadline?

    private func schedule(context: ChannelHandlerContext, at deadline: NIODeadline) {
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        resumeTask = context.eventLoop.scheduleTask(deadline: deadline) { [self] in
            self.resumeTask = nil
            self.wakeUp(context: loopBound.value)
        }
    }

    private func wakeUp(context: ChannelHandlerContext) {
        guard let until = pausedUntil else { return }
        let now = context.eventLoop.now
        if now < until {
            schedule(context: context, at: until)
            return
        }
        endPause(now: now)
        if readPending {
            readPending = false
            context.read()
        }
    }

    private func endPause(now: NIODeadline) {
        if let start = pauseStart, let until = pausedUntil {
            totalPausedTime = totalPausedTime + (min(now, until) - start)
        }
        pausedUntil = nil
        pauseStart = nil
        resumeTask?.cancel()
        resumeTask = nil
    }
}
