import NIOCore
import XMPPCore

/// The socket side that every XMPP stream connection (c2s, component) shares:
/// counted writes, flushed once per read cycle or per mailbox batch rather than per
/// stanza; the `max_fsm_queue` limit for a peer that stops reading; hibernation of
/// the parser when idle. Used on the connection's event loop only.
final class StreamSocket {
    private(set) var context: ChannelHandlerContext?
    private let stats: WorkerStats
    private var mailbox: LoopMailbox?
    private var inReadCycle = false
    private var needsFlush = false
    /// A flush is due at the end of the mailbox batch being delivered.
    private var flushDeferred = false
    private var queueLimit: OutboundQueueLimit
    private let hibernation: IdleHibernation

    /// False for a stream carried by the http listener (WebSocket, BOSH): the HTTP
    /// connection is the one counted, with its bytes, so nothing is counted twice.
    private let countsTransport: Bool

    init(stats: WorkerStats, maxQueuedStanzas: Int?, hibernateAfter: TimeAmount, parser: XMLStreamParser,
         countsTransport: Bool = true) {
        self.stats = stats
        self.countsTransport = countsTransport
        self.queueLimit = OutboundQueueLimit(maxStanzas: maxQueuedStanzas)
        self.hibernation = IdleHibernation(after: hibernateAfter, parser: parser)
    }

    func activate(_ context: ChannelHandlerContext, mailboxes: LoopMailboxes?) {
        self.context = context
        mailbox = mailboxes?.mailbox(for: context.eventLoop)
        if countsTransport { stats.connectionOpened() }
    }

    func deactivate() {
        hibernation.cancel()
        if countsTransport { stats.connectionClosed() }
        context = nil
    }

    func readStarted(bytes: Int) {
        if countsTransport { stats.received(bytes: bytes) }
        inReadCycle = true
        mailbox?.pacer.noteRead()
    }

    func readCompleted() {
        guard let context else { return }
        inReadCycle = false
        if needsFlush {
            needsFlush = false
            context.flush()
        }
        hibernation.readCompleted(on: context.eventLoop)
    }

    func writabilityChanged() {
        if context?.channel.isWritable == true { queueLimit.writable() }
    }

    var queuedStanzas: Int { queueLimit.queuedStanzas }

    func write(_ text: String) {
        guard let context else { return }
        var buffer = context.channel.allocator.buffer(capacity: text.utf8.count)
        buffer.writeString(text)
        _ = write(buffer, stanzas: 0)
    }

    /// Writes and flushes at the right moment. False when the peer has stopped
    /// reading and more than the limit waits for it: the caller ends the stream.
    func write(_ buffer: ByteBuffer, stanzas: Int) -> Bool {
        guard let context else { return true }
        stats.sent(bytes: countsTransport ? buffer.readableBytes : 0, stanzas: stanzas)
        if !context.channel.isWritable && stanzas > 0 && queueLimit.queued(bytes: buffer.readableBytes) {
            return false
        }
        context.write(NIOAny(buffer), promise: nil)
        if inReadCycle {
            needsFlush = true
        } else if !flushDeferred {
            // Held strongly until the batch ends (a weak capture would give this object
            // a weak-reference side table for the rest of its life).
            if mailbox?.deferFlush({ self.flushNow() }) == true {
                flushDeferred = true
            } else {
                context.flush()
            }
        }
        return true
    }

    private func flushNow() {
        flushDeferred = false
        context?.flush()
    }
}

extension StreamSocket {
    /// Feeds one read to the stream's parser, event by event. Returns the RFC 6120
    /// stream error condition to end the stream with when the parser refuses the input
    /// (and the parser's reason, for the log), nil when all of it was fine.
    static func parse(_ buffer: ByteBuffer, with parser: XMLStreamParser,
                      _ onEvent: (XMLStreamEvent) -> Void) -> (condition: String, reason: String)? {
        do {
            try buffer.withUnsafeReadableBytes { bytes in try parser.feed(bytes, onEvent) }
            return nil
        } catch let error as XMLStreamError {
            return (error.condition, "\(error)")
        } catch {
            return ("internal-server-error", "\(error)")
        }
    }
}
