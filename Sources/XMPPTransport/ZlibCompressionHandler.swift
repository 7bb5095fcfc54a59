// XEP-0138 stream compression (method "zlib"): inflate inbound, deflate outbound.
//
// Added to a live pipeline right after the server has sent <compressed/> (and on the
// client side after receiving it), below the XML stream handler, above TLS if any.
//
// Inbound: every read is inflated into at most `maxInflatedBytesPerRead` bytes (the
// listener's `zlib = N`). Output goes into buffers of doubling size whose capacities
// add up to at most N, so a zlib bomb costs at most N bytes of memory before it is
// detected and reported as
// `ZlibError.inflatedSizeLimitExceeded`; the stream handler then sends a stream
// error (compressed, as everything after <compressed/> is) and closes.
//
// Outbound: writes are deflated as they come (Z_NO_FLUSH, the input buffer is released
// at once) into one pending buffer; `flush` finishes it with Z_SYNC_FLUSH, so every
// flushed stanza is decodable by the peer immediately, and writes it as one buffer.
//
// Memory per connection (measured by ZlibCompressionHandlerTests.testMemoryPerConnection
// with the counting allocator in ZStream; 64-bit Linux, zlib 1.2.13):
//   inflate, windowBits 15:                                  ~39 KB (7 KB state, plus a
//                                                            32 KB window from the first data)
//   deflate, windowBits 15, memLevel 8 (zlib's defaults, what ejabberd uses): ~262 KB
//   deflate, windowBits 12, memLevel 5 (our default):                          ~38 KB
// The deflate state is allocated in full at init and kept for the life of the stream
// (the history is what makes compression work), so it is pure idle cost. XMPP traffic
// is many small stanzas; a 4 KB window still covers a stanza and its neighbours: on the
// test's chat stanzas the compressed size is 9.4% of the input vs 8.7% with zlib's
// defaults, while 10 000 idle compressed connections cost ~0.8 GB instead of ~3 GB.
// The inflater must use windowBits 15: it has to accept whatever window the peer
// compresses with (lowering it would reject a standard client). Between
// reads/flushes no buffers are held: output buffers go down the pipeline.

import CZlib
import NIOCore

public enum ZlibError: Error, Hashable, CustomStringConvertible {
    /// Inflating one read would produce more than `limit` bytes (zlib bomb or a peer
    /// ignoring the server's limit). Inflating stopped at the limit; nothing of that
    /// read was passed on, and later inbound data is discarded.
    case inflatedSizeLimitExceeded(limit: Int)
    /// The compressed data is not a valid zlib stream.
    case corrupt(String)
    /// zlib itself failed (out of memory, bad parameters).
    case zlibFailure(String)

    public var description: String {
        switch self {
        case .inflatedSizeLimitExceeded(let limit): return "zlib: decompressed data exceeds the limit of \(limit) bytes per read"
        case .corrupt(let message): return "zlib: corrupt compressed data: \(message)"
        case .zlibFailure(let message): return "zlib: \(message)"
        }
    }
}

public final class ZlibCompressionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    public let maxInflatedBytesPerRead: Int
    private let level: Int32
    private let deflateWindowBits: Int32
    private let deflateMemLevel: Int32

    private var inflater: ZStream?
    private var deflater: ZStream?
    /// Set after an inflate error: the inbound stream cannot be resynchronised.
    private var inboundFailed = false
    private var inboundEnded = false

    /// Deflated bytes of the writes since the last flush.
    private var pendingOut: ByteBuffer?
    private var pendingPromise: EventLoopPromise<Void>?
    /// Input has gone into the deflater since the last sync flush.
    private var needsSyncFlush = false
    /// Output of the current read, passed on once the read is fully inflated.
    private var inflatedChunks: [ByteBuffer] = []
    /// Most bytes of output buffers allocated for one read so far (tests: <= the cap).
    private(set) var peakInflateAllocation = 0

    /// - Parameters:
    ///   - maxInflatedBytesPerRead: the listener's `zlib` option: most bytes one read may
    ///     inflate to.
    ///   - compressionLevel: 0...9, or -1 for zlib's default (6).
    ///   - deflateWindowBits: 9...15, the outbound history window (2^bits bytes).
    ///   - deflateMemLevel: 1...9, the outbound hash/buffer size (see the memory notes above).
    public init(maxInflatedBytesPerRead: Int, compressionLevel: Int = -1,
                deflateWindowBits: Int = 12, deflateMemLevel: Int = 5) {
        precondition(maxInflatedBytesPerRead > 0, "maxInflatedBytesPerRead must be positive")
        precondition((-1...9).contains(compressionLevel), "compressionLevel must be -1...9")
        precondition((9...15).contains(deflateWindowBits), "deflateWindowBits must be 9...15")
        precondition((1...9).contains(deflateMemLevel), "deflateMemLevel must be 1...9")
        self.maxInflatedBytesPerRead = maxInflatedBytesPerRead
        self.level = Int32(compressionLevel)
        self.deflateWindowBits = Int32(deflateWindowBits)
        self.deflateMemLevel = Int32(deflateMemLevel)
    }

    /// Bytes zlib currently holds for this connection (inflate + deflate state).
    public var zlibMemoryInUse: Int {
        (inflater?.allocatedBytes ?? 0) + (deflater?.allocatedBytes ?? 0)
    }

    deinit {
        inflater?.end()
        deflater?.end()
    }

    // MARK: lifecycle

    public func handlerRemoved(context: ChannelHandlerContext) {
        // Hand over what was written but not flushed yet, so no write is lost.
        if context.channel.isActive, pendingOut != nil || pendingPromise != nil {
            flushPending(context: context)
        }
        release(failingPendingWith: ChannelError.ioOnClosedChannel)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        release(failingPendingWith: ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    private func release(failingPendingWith error: Error) {
        inflater?.end()
        inflater = nil
        deflater?.end()
        deflater = nil
        pendingOut = nil
        needsSyncFlush = false
        if let promise = pendingPromise {
            pendingPromise = nil
            promise.fail(error)
        }
    }

    // MARK: inbound

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !inboundFailed else { return }
        var input = unwrapInboundIn(data)
        guard input.readableBytes > 0 else { return }
        do {
            try inflate(&input, allocator: context.channel.allocator)
        } catch {
            inflatedChunks.removeAll()
            inboundFailed = true
            inflater?.end()  // the 32 KB window is of no use any more
            inflater = nil
            context.fireErrorCaught(error)
            return
        }
        // Usually one chunk; several only when one read inflates to more than the
        // first guess. Passed on only once the whole read is known to fit the cap.
        for chunk in inflatedChunks where chunk.readableBytes > 0 {
            context.fireChannelRead(wrapInboundOut(chunk))
        }
        inflatedChunks.removeAll(keepingCapacity: inflatedChunks.count <= 4)
    }

    /// Largest power of two <= n (n > 0).
    @inline(__always)
    private static func floorPowerOfTwo(_ n: Int) -> Int {
        1 << (Int.bitWidth - 1 - n.leadingZeroBitCount)
    }

    /// Inflates all of `input` into `inflatedChunks`, producing at most
    /// `maxInflatedBytesPerRead` bytes.
    ///
    /// Why chunks: ByteBuffer rounds every allocation up to a power of two, so one
    /// growing buffer would reserve up to twice the cap. Chunks are powers of two whose
    /// sum never exceeds the cap, so the memory a read can make us allocate is <= cap.
    private func inflate(_ input: inout ByteBuffer, allocator: ByteBufferAllocator) throws {
        if inboundEnded {
            throw ZlibError.corrupt("data after the end of the compressed stream")
        }
        if inflater == nil { inflater = try ZStream.inflater(windowBits: 15) }
        let z = inflater!
        let s = z.stream
        let cap = maxInflatedBytesPerRead
        var allocated = 0
        // A first guess for XMPP: text compresses ~3-5x. Later chunks double.
        var nextChunkSize = max(512, input.readableBytes &* 4)
        var out = allocator.buffer(capacity: 0)

        try input.withUnsafeReadableBytes { inBytes in
            s.pointee.next_in = UnsafeMutablePointer(mutating: inBytes.bindMemory(to: Bytef.self).baseAddress)
            s.pointee.avail_in = uInt(inBytes.count)
            defer {
                s.pointee.next_in = nil
                s.pointee.avail_in = 0
                s.pointee.next_out = nil
                s.pointee.avail_out = 0
            }
            while true {
                if out.writableBytes == 0 {
                    if out.readableBytes > 0 { inflatedChunks.append(out) }
                    let remaining = cap - allocated
                    if remaining == 0 {
                        out = allocator.buffer(capacity: 0)
                        try probeForMoreOutput(z)
                        return
                    }
                    let size = Self.floorPowerOfTwo(min(remaining, nextChunkSize))
                    out = allocator.buffer(capacity: size)
                    allocated += size
                    nextChunkSize = size &* 2
                    peakInflateAllocation = max(peakInflateAllocation, allocated)
                }
                var rc: Int32 = Z_OK
                var outLeft = 0
                out.writeWithUnsafeMutableBytes(minimumWritableBytes: 0) { outBytes in
                    s.pointee.next_out = outBytes.bindMemory(to: Bytef.self).baseAddress
                    s.pointee.avail_out = uInt(outBytes.count)
                    rc = CZlib.inflate(s, Z_SYNC_FLUSH)
                    outLeft = Int(s.pointee.avail_out)
                    return outBytes.count - outLeft
                }
                switch rc {
                case Z_OK, Z_BUF_ERROR:
                    if outLeft > 0 { return }  // everything available has been inflated
                case Z_STREAM_END:
                    inboundEnded = true
                    if s.pointee.avail_in > 0 {
                        throw ZlibError.corrupt("data after the end of the compressed stream")
                    }
                    return
                case Z_NEED_DICT:
                    throw ZlibError.corrupt("stream needs a preset dictionary")
                case Z_MEM_ERROR:
                    throw ZlibError.zlibFailure("out of memory")
                default:
                    throw ZlibError.corrupt(z.message ?? "inflate error \(rc)")
                }
            }
        }
        if out.readableBytes > 0 { inflatedChunks.append(out) }
        input.moveReaderIndex(to: input.writerIndex)
    }

    /// The output reached the cap: would the rest of the input produce even one more byte?
    private func probeForMoreOutput(_ z: ZStream) throws {
        let s = z.stream
        var byte: UInt8 = 0
        let rc = withUnsafeMutablePointer(to: &byte) { p -> Int32 in
            s.pointee.next_out = p
            s.pointee.avail_out = 1
            return CZlib.inflate(s, Z_SYNC_FLUSH)
        }
        if s.pointee.avail_out == 0 {
            throw ZlibError.inflatedSizeLimitExceeded(limit: maxInflatedBytesPerRead)
        }
        switch rc {
        case Z_OK, Z_BUF_ERROR:
            return
        case Z_STREAM_END:
            inboundEnded = true
            if s.pointee.avail_in > 0 { throw ZlibError.corrupt("data after the end of the compressed stream") }
        default:
            throw ZlibError.corrupt(z.message ?? "inflate error \(rc)")
        }
    }

    // MARK: outbound

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let input = unwrapOutboundIn(data)
        do {
            if input.readableBytes > 0 {
                try deflate(input, flush: Z_NO_FLUSH, allocator: context.channel.allocator)
                needsSyncFlush = true
            }
        } catch {
            promise?.fail(error)
            context.fireErrorCaught(error)
            return
        }
        if let promise {
            if let pending = pendingPromise {
                pending.futureResult.cascade(to: promise)
            } else {
                pendingPromise = promise
            }
        }
    }

    public func flush(context: ChannelHandlerContext) {
        flushPending(context: context)
        context.flush()
    }

    private func flushPending(context: ChannelHandlerContext) {
        if needsSyncFlush {
            needsSyncFlush = false
            do {
                try deflate(nil, flush: Z_SYNC_FLUSH, allocator: context.channel.allocator)
            } catch {
                pendingOut = nil
                pendingPromise?.fail(error)
                pendingPromise = nil
                context.fireErrorCaught(error)
                return
            }
        }
        let promise = pendingPromise
        pendingPromise = nil
        if let out = pendingOut {
            pendingOut = nil
            context.write(wrapOutboundOut(out), promise: promise)
        } else if let promise {
            // Only empty writes since the last flush: keep their order with the rest.
            context.write(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)), promise: promise)
        }
    }

    /// Deflates `input` (nil: none) with `flush` into `pendingOut`.
    private func deflate(_ input: ByteBuffer?, flush: Int32, allocator: ByteBufferAllocator) throws {
        if deflater == nil {
            deflater = try ZStream.deflater(level: level, windowBits: deflateWindowBits, memLevel: deflateMemLevel)
        }
        let s = deflater!.stream
        let inputLength = input?.readableBytes ?? 0
        // deflateBound covers the data; + 16 for the sync-flush marker and block headers.
        let bound = Int(deflateBound(s, uLong(inputLength))) + 16
        if pendingOut == nil {
            pendingOut = allocator.buffer(capacity: bound)
        } else if pendingOut!.writableBytes < bound {
            pendingOut!.reserveCapacity(pendingOut!.writerIndex + bound)
        }

        func run(_ next: UnsafeMutablePointer<Bytef>?, _ count: Int) throws {
            s.pointee.next_in = next
            s.pointee.avail_in = uInt(count)
            defer {
                s.pointee.next_in = nil
                s.pointee.avail_in = 0
                s.pointee.next_out = nil
                s.pointee.avail_out = 0
            }
            while true {
                if pendingOut!.writableBytes < 64 {
                    pendingOut!.reserveCapacity(pendingOut!.capacity &* 2)
                }
                var rc: Int32 = Z_OK
                var outLeft = 0
                pendingOut!.writeWithUnsafeMutableBytes(minimumWritableBytes: 0) { outBytes in
                    s.pointee.next_out = outBytes.bindMemory(to: Bytef.self).baseAddress
                    s.pointee.avail_out = uInt(outBytes.count)
                    rc = CZlib.deflate(s, flush)
                    outLeft = Int(s.pointee.avail_out)
                    return outBytes.count - outLeft
                }
                guard rc == Z_OK || rc == Z_BUF_ERROR else {
                    throw ZlibError.zlibFailure("deflate error \(rc)")
                }
                // Space left over means all input was taken and the flush completed.
                if outLeft > 0 && s.pointee.avail_in == 0 { return }
            }
        }

        if let input {
            try input.withUnsafeReadableBytes { bytes in
                try run(UnsafeMutablePointer(mutating: bytes.bindMemory(to: Bytef.self).baseAddress), bytes.count)
            }
        } else {
            try run(nil, 0)
        }
    }
}
